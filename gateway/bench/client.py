"""A minimal keep-alive HTTP/1.1 client for load generation, on asyncio streams.

A general-purpose client (httpx) costs more CPU per request than the gateway under test does, on the
same two cores; this one writes one request and reads the status line, the headers and the body.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

__all__ = ["KeepAliveConnection", "Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send declarations, and as whom."""

    host: str
    port: int
    api_key: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class KeepAliveConnection:
    """One keep-alive connection that posts declarations and returns each answer's status and body."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, content_type: str) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._target.host, self._target.port)
        assert self._reader is not None
        head = (
            f"POST /v1/declarations HTTP/1.1\r\nHost: {self._target.host}\r\n"
            f"Authorization: Bearer {self._target.api_key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(head + body)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = await self._reader.readexactly(length)
        return int(status_line.split()[1]), answer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
