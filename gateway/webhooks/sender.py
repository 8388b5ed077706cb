"""One webhook attempt: a signed POST with a deadline, told apart as delivered or failed and why.

Every attempt must finish (resolve, connect, send, answer, up to `_MAX_ANSWER_BYTES` of the answer
read and dropped) within `timeout_s`; redirects are not followed and proxy variables are ignored.
When the destination guard pins addresses, the request goes to the checked address with the URL's
`Host` and TLS server name (certificates are verified against the host name), and connections are
not kept alive, so a connection opened for one host name never carries another's request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from gateway.documents.signing import GatewayKeys
from gateway.errors import UnsafeDestination
from gateway.store.webhooks import AttemptRecord, DueDelivery
from gateway.webhooks.destinations import DestinationGuard
from gateway.webhooks.events import signed_headers
from gateway.webhooks.retries import parse_retry_after

__all__ = ["AttemptOutcome", "WebhookSender"]

_MAX_ANSWER_BYTES = 64 * 1024
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    record: AttemptRecord
    kind: str  # delivered, http_error, timeout, connection_error, refused
    retry_after_s: float | None = None

    @property
    def delivered(self) -> bool:
        return self.kind == "delivered"


class WebhookSender:
    def __init__(
        self, *, keys: GatewayKeys, guard: DestinationGuard, timeout_s: float, max_connections: int
    ) -> None:
        self._keys = keys
        self._guard = guard
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self._client is None:
            keepalive = 0 if self._guard.pins_addresses else self._max_connections
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout_s),
                limits=httpx.Limits(
                    max_connections=self._max_connections, max_keepalive_connections=keepalive
                ),
                follow_redirects=False,
                trust_env=False,
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def attempt(self, delivery: DueDelivery) -> AttemptOutcome:
        """POST the delivery's body once; never raises for what the endpoint or the network does."""
        at = datetime.now(UTC)
        started = time.monotonic()
        kind, code, error, retry_after = "delivered", None, None, None
        try:
            async with asyncio.timeout(self._timeout_s):
                code, retry_after_header = await self._post(delivery)
            if not 200 <= code < 300:
                kind, error = "http_error", f"HTTP {code}"
                retry_after = parse_retry_after(retry_after_header, now=datetime.now(UTC))
        except UnsafeDestination as exc:
            kind, error = "refused", f"refused: {exc}"
        except (TimeoutError, httpx.TimeoutException):
            kind, error = "timeout", f"no answer within {round(self._timeout_s * 1000)} ms"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            kind, error = "connection_error", _describe(exc)
        duration_ms = round((time.monotonic() - started) * 1000)
        record = AttemptRecord(
            at=at,
            duration_ms=duration_ms,
            response_code=code,
            error=error[:_MAX_ERROR_CHARS] if error else None,
        )
        return AttemptOutcome(record=record, kind=kind, retry_after_s=retry_after)

    async def _post(self, delivery: DueDelivery) -> tuple[int, str | None]:
        assert self._client is not None, "attempt() before start()"
        url = httpx.URL(delivery.url)
        headers = signed_headers(
            delivery.body, event_id=delivery.event_id, attempt=delivery.attempts + 1, keys=self._keys
        )
        extensions: dict[str, str] = {}
        address = await self._guard.address_for(url)
        if address is not None:
            headers["host"] = url.netloc.decode("ascii")
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
            url = url.copy_with(host=address)
        request = self._client.build_request(
            "POST", url, content=delivery.body, headers=headers, extensions=extensions
        )
        response = await self._client.send(request, stream=True)
        try:
            await _drain(response)
        finally:
            await response.aclose()
        return response.status_code, response.headers.get("retry-after")


async def _drain(response: httpx.Response) -> None:
    """Read (and drop) a short answer so that its connection can be reused; stop at the limit."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > _MAX_ANSWER_BYTES:
            return


def _describe(exc: BaseException) -> str:
    reason = str(exc) or type(exc).__name__
    prefix = "cannot resolve host" if isinstance(exc, OSError) else "connection failed"
    return f"{prefix}: {reason}"
