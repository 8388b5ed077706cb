"""The JWKS cache: verification, refetch on an unknown kid (key rotation), rate limit, outages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.errors import JwksUnavailable
from adapters.jwks import JwksCache
from gateway.documents.signing import GatewayKeys
from gateway.errors import ServiceUnavailable, SignatureInvalid

PAYLOAD = b"<TradeDeclaration/>"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Gateway:
    """Serves a JWKS that can rotate, fail, and counts fetches."""

    def __init__(self, keys: GatewayKeys) -> None:
        self.jwks: dict[str, Any] = keys.jwks()
        self.fetches = 0
        self.down = False

    def load(self, source: str) -> dict[str, Any]:
        self.fetches += 1
        if self.down:
            raise ServiceUnavailable(f"cannot fetch JWKS {source}")
        return {"keys": [dict(key) for key in self.jwks["keys"]]}

    def publish(self, *keys: GatewayKeys) -> None:
        self.jwks = {"keys": [key for k in keys for key in k.jwks()["keys"]]}


async def test_verifies_and_fetches_once() -> None:
    keys = GatewayKeys.ephemeral()
    gateway = Gateway(keys)
    cache = JwksCache("http://gateway/.well-known/jwks.json", loader=gateway.load)
    for _ in range(3):
        header = await cache.verify(keys.sign_detached(PAYLOAD), PAYLOAD)
        assert header["kid"] == keys.active_kid
    assert gateway.fetches == 1
    assert cache.kids == {keys.active_kid}


async def test_rotation_is_picked_up_on_an_unknown_kid() -> None:
    old, new = GatewayKeys.ephemeral(), GatewayKeys.ephemeral()
    gateway = Gateway(old)
    clock = Clock()
    cache = JwksCache("jwks", loader=gateway.load, min_refresh_interval_s=10.0, clock=clock)
    await cache.verify(old.sign_detached(PAYLOAD), PAYLOAD)
    gateway.publish(new, old)  # the gateway rotated: new key active, old one still published
    clock.now = 60.0
    await cache.verify(new.sign_detached(PAYLOAD), PAYLOAD)
    await cache.verify(old.sign_detached(PAYLOAD), PAYLOAD)
    assert gateway.fetches == 2


async def test_unknown_kids_refetch_at_most_once_per_interval() -> None:
    keys, stranger = GatewayKeys.ephemeral(), GatewayKeys.ephemeral()
    gateway = Gateway(keys)
    clock = Clock()
    cache = JwksCache("jwks", loader=gateway.load, min_refresh_interval_s=10.0, clock=clock)
    await cache.verify(keys.sign_detached(PAYLOAD), PAYLOAD)
    clock.now = 100.0
    for _ in range(5):
        with pytest.raises(SignatureInvalid, match="unknown kid"):
            await cache.verify(stranger.sign_detached(PAYLOAD), PAYLOAD)
    assert gateway.fetches == 2  # one refetch, then the rate limit
    clock.now = 111.0
    with pytest.raises(SignatureInvalid):
        await cache.verify(stranger.sign_detached(PAYLOAD), PAYLOAD)
    assert gateway.fetches == 3


async def test_forgeries_are_refused_with_the_reason() -> None:
    keys = GatewayKeys.ephemeral()
    cache = JwksCache("jwks", loader=Gateway(keys).load)
    signature = keys.sign_detached(PAYLOAD)
    with pytest.raises(SignatureInvalid, match="bad signature"):
        await cache.verify(signature, PAYLOAD + b" ")
    header, _, sig = signature.split(".")
    with pytest.raises(SignatureInvalid, match="malformed"):
        await cache.verify(f"{header}.{sig}", PAYLOAD)
    with pytest.raises(SignatureInvalid):
        await cache.verify("eyJhbGciOiJub25lIn0..", PAYLOAD)  # alg none


async def test_an_unreachable_jwks_is_retriable_not_a_verdict() -> None:
    keys = GatewayKeys.ephemeral()
    gateway = Gateway(keys)
    gateway.down = True
    cache = JwksCache("jwks", loader=gateway.load)
    with pytest.raises(JwksUnavailable) as raised:
        await cache.verify(keys.sign_detached(PAYLOAD), PAYLOAD)
    assert raised.value.retriable
    gateway.down = False
    await cache.verify(keys.sign_detached(PAYLOAD), PAYLOAD)


async def test_reads_a_jwks_file(tmp_path: Path) -> None:
    keys = GatewayKeys.ephemeral()
    path = tmp_path / "jwks.json"
    path.write_bytes(orjson.dumps(keys.jwks()))
    cache = JwksCache(str(path))
    await cache.verify(keys.sign_detached(PAYLOAD), PAYLOAD)
    with pytest.raises(JwksUnavailable):
        await JwksCache(str(tmp_path / "missing.json")).verify(keys.sign_detached(PAYLOAD), PAYLOAD)
