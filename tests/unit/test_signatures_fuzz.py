"""Properties of JWS verification against a JWKS: the gateway's (`gateway.documents.signing`) and the
adapters' cached one (`adapters.jwks.JwksCache`), which check receipts and every routed record.

Whatever token, payload or JWK Set arrives, verification returns the protected header only for a
signature the gateway made over exactly that payload, and otherwise raises `SignatureInvalid`: never
another exception (a dead adapter, or a 500). Everything signed reads back. A JWKS file or answer
is a key set or refused, and strict base64url (`gateway.documents.b64url`) reads one spelling only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.jwks import JwksCache
from gateway.documents import b64url
from gateway.documents.receipts import load_jwks
from gateway.documents.signing import GatewayKeys, verify_compact, verify_detached
from gateway.errors import SignatureInvalid

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = GatewayKeys.ephemeral()
JWKS = KEYS.jwks()

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_token_like = st.lists(
    st.text(alphabet=_B64 + "=+/.é\x00", max_size=40) | st.sampled_from(["", "."]), max_size=5
).map(".".join)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _header(fields: dict[str, Any]) -> str:
    return _b64(json.dumps(fields).encode())


def _mutated(token: str, index: int, replacement: str) -> str:
    index %= len(token)
    return token[:index] + replacement + token[index + 1 :]


@FUZZ
@given(st.text(max_size=120) | _token_like, st.binary(max_size=40))
def test_any_text_is_refused_as_a_compact_or_detached_jws(token: str, payload: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        verify_compact(token, JWKS)
    with pytest.raises(SignatureInvalid):
        verify_detached(token, payload, JWKS)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jku"]), _json, max_size=4)
    .map(lambda h: {"alg": "EdDSA", "kid": KEYS.active_kid, **h})
    .map(_header),
    st.binary(max_size=40),
    st.text(alphabet=_B64, max_size=90),
)
def test_any_header_with_any_signature_is_refused(header: str, payload: bytes, signature: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify_compact(f"{header}.{_b64(payload)}.{signature}", JWKS)
    with pytest.raises(SignatureInvalid):
        verify_detached(f"{header}..{signature}", payload, JWKS)


@FUZZ
@given(st.binary(max_size=200), st.none() | st.text(max_size=10))
def test_what_the_gateway_signs_verifies(payload: bytes, typ: str | None) -> None:
    header, read = verify_compact(KEYS.sign_compact(payload, typ=typ), JWKS)
    assert read == payload and header["kid"] == KEYS.active_kid and header.get("typ") == typ
    assert verify_detached(KEYS.sign_detached(payload, typ=typ), payload, JWKS)["alg"] == "EdDSA"


@FUZZ
@given(
    st.binary(max_size=60),
    st.integers(0, 10**6),
    st.sampled_from(list(_B64 + ".=é")),
    st.binary(min_size=1, max_size=3),
)
def test_a_signed_token_changed_anywhere_or_over_other_bytes_is_refused(
    payload: bytes, index: int, replacement: str, extra: bytes
) -> None:
    compact = KEYS.sign_compact(payload)
    detached = KEYS.sign_detached(payload)
    if _mutated(compact, index, replacement) != compact:
        with pytest.raises(SignatureInvalid):
            verify_compact(_mutated(compact, index, replacement), JWKS)
    if _mutated(detached, index, replacement) != detached:
        with pytest.raises(SignatureInvalid):
            verify_detached(_mutated(detached, index, replacement), payload, JWKS)
    with pytest.raises(SignatureInvalid):
        verify_detached(detached, payload + extra, JWKS)


@FUZZ
@given(
    _json
    | st.fixed_dictionaries(
        {
            "keys": st.lists(
                st.dictionaries(st.sampled_from(["kid", "kty", "crv", "x", "alg", "use"]), _json), max_size=3
            )
        }
    )
    | st.just(JWKS["keys"][0]).map(
        lambda key: {"keys": [{**key, "x": _b64(b"\x00" * 32)}]}  # the right kid, another key
    )
)
def test_a_signature_checked_against_any_other_jwks_is_refused(jwks: Any) -> None:
    with pytest.raises(SignatureInvalid):
        verify_detached(KEYS.sign_detached(b"body"), b"body", jwks)


@FUZZ
@given(st.text(max_size=120) | _token_like, st.binary(max_size=40), _json)
def test_the_adapters_jwks_cache_refuses_anything_unsigned(
    signature: str, payload: bytes, served: Any
) -> None:
    """With the JWKS the gateway serves, or whatever a broken one serves instead."""
    for jwks in (JWKS, served if isinstance(served, dict) else {"keys": [served]}):
        cache = JwksCache("jwks.json", loader=lambda _source, jwks=jwks: orjson.loads(orjson.dumps(jwks)))
        with pytest.raises(SignatureInvalid):
            asyncio.run(cache.verify(signature, payload))
    good = JwksCache("jwks.json", loader=lambda _source: JWKS)
    assert asyncio.run(good.verify(KEYS.sign_detached(payload), payload))["kid"] == KEYS.active_kid


@FUZZ
@given(st.binary(max_size=200) | _json.map(orjson.dumps))
def test_any_file_served_as_a_jwks_is_a_key_set_or_refused(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "jwks.json"
        path.write_bytes(content)
        try:
            jwks = load_jwks(str(path))
        except SignatureInvalid:
            return
    assert isinstance(jwks["keys"], list)
    with pytest.raises(SignatureInvalid):
        verify_detached(KEYS.sign_detached(b"body"), b"body", jwks)


@FUZZ
@given(st.text(alphabet=_B64 + "=+/é", max_size=30) | st.binary(max_size=30).map(b64url.encode))
def test_base64url_decodes_one_spelling_only(segment: str) -> None:
    data = b64url.decode(segment)
    assert data is None or b64url.encode(data) == segment
