"""The gateway's JWKS, cached, and verification of a routed record's ``tsw-signature`` against it.

The JWKS is loaded (`gateway.documents.receipts.load_jwks`, from the gateway's
``/.well-known/jwks.json`` or a file) on first use, in a worker thread. A signature whose ``kid`` is
not in the cached set triggers a refetch, so a key rotation on the gateway is picked up without a
restart; refetches are rate-limited to one per `min_refresh_interval_s`, so a stream of events with
made-up kids cannot turn the adapter into a load generator against the gateway. Within that interval
an unknown kid is simply an invalid signature.

`verify` raises `SignatureInvalid` (gateway's error, the message says why: bad signature, unknown kid,
malformed token, wrong alg) or `JwksUnavailable` when no JWKS could be loaded yet (retriable: the
event's signature has not been judged, so it must not be dead-lettered).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from adapters.errors import JwksUnavailable
from gateway.documents.receipts import load_jwks
from gateway.documents.signing import verify_detached
from gateway.errors import ServiceUnavailable, SignatureInvalid

__all__ = ["JwksCache", "JwksLoader"]

log = logging.getLogger(__name__)

#: Reads a JWK Set from a URL or file path (`load_jwks` by default).
JwksLoader = Callable[[str], dict[str, Any]]


class JwksCache:
    def __init__(
        self,
        source: str,
        *,
        min_refresh_interval_s: float = 10.0,
        loader: JwksLoader = load_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._min_refresh_interval_s = min_refresh_interval_s
        self._loader = loader
        self._clock = clock
        self._jwks: dict[str, Any] | None = None
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the cached set (empty before the first load)."""
        return _kids(self._jwks)

    async def verify(self, signature: str, payload: bytes) -> dict[str, Any]:
        """Verify a detached JWS over `payload`; return its protected header."""
        jwks = await self._loaded()
        kid = _kid_of(signature)
        if kid is not None and kid not in _kids(jwks):
            jwks = await self._refreshed(kid)
        return verify_detached(signature, payload, jwks)

    async def _loaded(self) -> dict[str, Any]:
        if self._jwks is None:
            async with self._lock:
                if self._jwks is None:
                    await self._fetch()
        assert self._jwks is not None
        return self._jwks

    async def _refreshed(self, kid: str) -> dict[str, Any]:
        """Refetch for an unknown `kid`, unless the last fetch is too recent."""
        async with self._lock:
            assert self._jwks is not None and self._loaded_at is not None
            if kid in _kids(self._jwks):  # another caller refetched meanwhile
                return self._jwks
            if self._clock() - self._loaded_at < self._min_refresh_interval_s:
                return self._jwks
            log.info("unknown kid %r: refetching the JWKS from %s", kid, self._source)
            await self._fetch()
        return self._jwks

    async def _fetch(self) -> None:
        try:
            jwks = await asyncio.to_thread(self._loader, self._source)
        except (ServiceUnavailable, SignatureInvalid, OSError) as exc:
            raise JwksUnavailable(f"cannot load the JWKS from {self._source}: {exc}") from exc
        self._jwks = jwks
        self._loaded_at = self._clock()


def _kids(jwks: Mapping[str, Any] | None) -> frozenset[str]:
    keys = jwks.get("keys") if jwks is not None else None
    if not isinstance(keys, list):
        return frozenset()
    return frozenset(
        key["kid"] for key in keys if isinstance(key, Mapping) and isinstance(key.get("kid"), str)
    )


def _kid_of(signature: str) -> str | None:
    """The ``kid`` of a JWS protected header, or None when it cannot be read (verification will say why)."""
    header_b64 = signature.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None
