"""One keep-alive HTTP/1.1 connection that submits declarations with an Idempotency-Key.

Like `gateway.bench.client` (a general-purpose client costs more CPU than the gateway under test, on
the same two cores), plus what a load that outlives a killed gateway needs: the Idempotency-Key and
Retry-After headers, and a broken connection (reset, refused, closed before the whole answer) raised
as `ConnectionError`, after which the connection reconnects on its next use.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

__all__ = ["SubmitAnswer", "SubmitConnection"]

_MAX_HEAD_LINES = 100


@dataclass(frozen=True, slots=True)
class SubmitAnswer:
    status: int
    body: bytes
    replayed: bool  # Idempotent-Replayed: an earlier request with this key had been committed
    retry_after_s: float | None


class SubmitConnection:
    """POST /v1/declarations over one connection to `host:port` as the client holding `api_key`."""

    def __init__(self, *, host: str, port: int, api_key: str) -> None:
        self._host = host
        self._port = port
        self._api_key = api_key
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def submit(self, body: bytes, *, content_type: str, idempotency_key: str) -> SubmitAnswer:
        """Send one declaration; `ConnectionError` when the connection broke before the whole answer."""
        try:
            return await self._exchange(body, content_type, idempotency_key)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            await self.close()
            raise ConnectionError(f"no answer from {self._host}:{self._port}: {exc!r}") from exc

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _exchange(self, body: bytes, content_type: str, idempotency_key: str) -> SubmitAnswer:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST /v1/declarations HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {self._api_key}\r\nIdempotency-Key: {idempotency_key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(head + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionResetError("closed before the status line")
        status = int(status_line.split()[1])
        headers = await self._headers()
        answer = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        retry_after = headers.get("retry-after")
        return SubmitAnswer(
            status=status,
            body=answer,
            replayed=headers.get("idempotent-replayed") == "true",
            retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    async def _headers(self) -> dict[str, str]:
        assert self._reader is not None
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEAD_LINES):
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                if not line:
                    raise ConnectionResetError("closed in the middle of the headers")
                return headers
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raise ValueError("too many header lines")
