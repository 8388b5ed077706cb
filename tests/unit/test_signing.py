"""Gateway signing keys, compact and detached JWS, and interoperability with joserfc."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, KeySetSerialization, OKPKey

from gateway.documents.signing import GatewayKeys, jwk_thumbprint, verify_compact, verify_detached
from gateway.errors import GatewayError, SignatureInvalid

# joserfc 1.8 warns on every "EdDSA" use (RFC 9864 prefers "Ed25519"); the design fixes alg EdDSA.
JOSERFC_EDDSA = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")

PAYLOAD = b'{"declaration_id":"D-1","hello":"world"}'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private_pem(keys_dir: Path, kid: str) -> bytes:
    return (keys_dir / f"ed25519-{kid}.pem").read_bytes()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / "keys"


@pytest.fixture
def keys(keys_dir: Path) -> GatewayKeys:
    return GatewayKeys.load_or_create(keys_dir)


def joserfc_keys(keys: GatewayKeys) -> KeySet:
    """The published JWKS, imported into joserfc."""
    return KeySet.import_key_set(cast(KeySetSerialization, keys.jwks()))


# --------------------------------------------------------------------------- key store


def test_first_start_creates_one_key_with_private_modes(keys_dir: Path, keys: GatewayKeys) -> None:
    assert mode(keys_dir) == 0o700
    pems = list(keys_dir.glob("*.pem"))
    assert [p.name for p in pems] == [f"ed25519-{keys.active_kid}.pem"]
    assert mode(pems[0]) == 0o600
    assert mode(keys_dir / "keys.json") == 0o600
    assert not list(keys_dir.glob(".*.tmp"))
    assert keys.kids == (keys.active_kid,)


def test_existing_loose_directory_is_tightened(keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, mode=0o755)
    keys_dir.chmod(0o755)
    GatewayKeys.load_or_create(keys_dir)
    assert mode(keys_dir) == 0o700


def test_reload_gives_same_kid_and_jwks(keys_dir: Path, keys: GatewayKeys) -> None:
    again = GatewayKeys.load_or_create(keys_dir)
    assert again.active_kid == keys.active_kid
    assert again.jwks() == keys.jwks()
    assert len(list(keys_dir.glob("*.pem"))) == 1


def test_kid_is_rfc7638_thumbprint(keys: GatewayKeys) -> None:
    (jwk,) = keys.jwks()["keys"]
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"))
    assert keys.active_kid == b64(hashlib.sha256(canonical.encode()).digest())
    assert keys.active_kid == jwk_thumbprint(jwk["x"])
    assert keys.active_kid == OKPKey.import_key(jwk).thumbprint()


def test_jwks_shape(keys: GatewayKeys) -> None:
    jwks = keys.jwks()
    assert jwks == {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": jwks["keys"][0]["x"], "kid": keys.active_kid}
            | {"use": "sig", "alg": "EdDSA"}
        ]
    }
    assert "d" not in jwks["keys"][0]
    jwks["keys"][0]["kid"] = "mutated"
    assert keys.jwks()["keys"][0]["kid"] == keys.active_kid


def test_private_key_file_is_standard_pkcs8_pem(keys_dir: Path, keys: GatewayKeys) -> None:
    pem = private_pem(keys_dir, keys.active_kid)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)


def test_concurrent_first_start_agrees_on_one_key(keys_dir: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        loaded = list(pool.map(lambda _: GatewayKeys.load_or_create(keys_dir), range(8)))
    assert len({k.active_kid for k in loaded}) == 1
    assert len(list(keys_dir.glob("*.pem"))) == 1


def test_load_without_store_fails_clearly(keys_dir: Path) -> None:
    with pytest.raises(GatewayError, match="no signing keys"):
        GatewayKeys.load(keys_dir)


def test_key_file_not_matching_its_kid_is_refused(keys_dir: Path, keys: GatewayKeys) -> None:
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (keys_dir / f"ed25519-{keys.active_kid}.pem").write_bytes(other)
    with pytest.raises(GatewayError, match="does not hold the key"):
        GatewayKeys.load(keys_dir)


def test_malformed_metadata_is_refused(keys_dir: Path, keys: GatewayKeys) -> None:
    (keys_dir / "keys.json").write_text('{"active": ["x"], "keys": []}')
    with pytest.raises(GatewayError, match=r"keys\.json"):
        GatewayKeys.load(keys_dir)


def test_ephemeral_keys_sign_and_verify() -> None:
    keys = GatewayKeys.ephemeral()
    header, payload = verify_compact(keys.sign_compact(PAYLOAD), keys.jwks())
    assert payload == PAYLOAD
    assert header["kid"] == keys.active_kid


# --------------------------------------------------------------------------- rotation


def test_rotation_keeps_old_keys_published_and_verifiable(keys_dir: Path, keys: GatewayKeys) -> None:
    old_kid = keys.active_kid
    old_token = keys.sign_compact(PAYLOAD)
    old_event_sig = keys.sign_detached(PAYLOAD)

    new_kid = keys.rotate()
    assert keys.active_kid == old_kid  # the running instance is not changed under its feet
    rotated = GatewayKeys.load_or_create(keys_dir)

    assert new_kid != old_kid
    assert rotated.active_kid == new_kid
    assert rotated.kids == (new_kid, old_kid)
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {new_kid, old_kid}
    assert mode(keys_dir / f"ed25519-{new_kid}.pem") == 0o600
    assert (keys_dir / f"ed25519-{old_kid}.pem").exists()

    assert verify_compact(old_token, rotated.jwks())[0]["kid"] == old_kid
    assert verify_detached(old_event_sig, PAYLOAD, rotated.jwks())["kid"] == old_kid
    header, _ = verify_compact(rotated.sign_compact(PAYLOAD), rotated.jwks())
    assert header["kid"] == new_kid
    assert verify_detached(rotated.sign_detached(PAYLOAD), PAYLOAD, rotated.jwks())["kid"] == new_kid


def test_rotation_records_retirement(keys_dir: Path, keys: GatewayKeys) -> None:
    first = keys.active_kid
    second = keys.rotate()
    third = keys.rotate()
    infos = {info.kid: info for info in GatewayKeys.load(keys_dir).infos}
    assert list(infos) == [first, second, third]
    assert infos[first].retired_at is not None
    assert infos[second].retired_at is not None
    assert infos[third].retired_at is None
    meta = json.loads((keys_dir / "keys.json").read_text())
    assert meta["active"] == third
    first_retired = infos[first].retired_at
    keys.rotate()
    assert {i.kid: i for i in GatewayKeys.load(keys_dir).infos}[first].retired_at == first_retired


def test_ephemeral_keys_cannot_rotate() -> None:
    keys = GatewayKeys.ephemeral()
    assert keys.keys_dir is None
    with pytest.raises(GatewayError, match="ephemeral"):
        keys.rotate()


# --------------------------------------------------------------------------- compact and detached


def test_compact_round_trip(keys: GatewayKeys) -> None:
    token = keys.sign_compact(PAYLOAD)
    header_b64, payload_b64, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header_b64 + "==")) == {"alg": "EdDSA", "kid": keys.active_kid}
    assert payload_b64 == b64(PAYLOAD)
    header, payload = verify_compact(token, keys.jwks())
    assert header == {"alg": "EdDSA", "kid": keys.active_kid}
    assert payload == PAYLOAD


def test_typ_goes_into_the_protected_header(keys: GatewayKeys) -> None:
    header, _ = verify_compact(keys.sign_compact(PAYLOAD, typ="tsw-receipt+jws"), keys.jwks())
    assert header == {"alg": "EdDSA", "kid": keys.active_kid, "typ": "tsw-receipt+jws"}
    assert "typ" not in verify_compact(keys.sign_compact(PAYLOAD), keys.jwks())[0]


def test_detached_round_trip(keys: GatewayKeys) -> None:
    signature = keys.sign_detached(PAYLOAD)
    _, middle, _ = signature.split(".")
    assert middle == ""
    assert verify_detached(signature, PAYLOAD, keys.jwks()) == {"alg": "EdDSA", "kid": keys.active_kid}
    # Re-attaching the payload gives an ordinary compact JWS (RFC 7515 appendix F).
    compact = signature.replace("..", f".{b64(PAYLOAD)}.")
    assert verify_compact(compact, keys.jwks())[1] == PAYLOAD


def test_empty_payload_round_trips(keys: GatewayKeys) -> None:
    assert verify_compact(keys.sign_compact(b""), keys.jwks())[1] == b""
    assert verify_detached(keys.sign_detached(b""), b"", keys.jwks())["kid"] == keys.active_kid


def flip_last_char(segment: str) -> str:
    return segment[:-2] + ("A" if segment[-2] != "A" else "B") + segment[-1]


def test_tampered_compact_parts_are_rejected(keys: GatewayKeys) -> None:
    h, p, s = keys.sign_compact(PAYLOAD).split(".")
    jwks = keys.jwks()
    for token in (
        f"{h}.{b64(PAYLOAD + b' ')}.{s}",
        f"{h}.{flip_last_char(p)}.{s}",
        f"{b64json({'alg': 'EdDSA', 'kid': keys.active_kid, 'typ': 'x'})}.{p}.{s}",
        f"{h}.{p}.{flip_last_char(s)}",
        f"{h}.{p}.{b64(bytes(64))}",
    ):
        with pytest.raises(SignatureInvalid):
            verify_compact(token, jwks)


def test_tampered_detached_is_rejected(keys: GatewayKeys) -> None:
    signature = keys.sign_detached(PAYLOAD)
    h, _, s = signature.split(".")
    jwks = keys.jwks()
    with pytest.raises(SignatureInvalid, match="bad signature"):
        verify_detached(signature, PAYLOAD + b"x", jwks)
    with pytest.raises(SignatureInvalid, match="bad signature"):
        verify_detached(f"{h}..{flip_last_char(s)}", PAYLOAD, jwks)
    with pytest.raises(SignatureInvalid, match="empty payload"):
        verify_detached(f"{h}.{b64(PAYLOAD)}.{s}", PAYLOAD, jwks)


def test_non_canonical_base64_signature_is_rejected(keys: GatewayKeys) -> None:
    h, p, s = keys.sign_compact(PAYLOAD).split(".")
    # 64 bytes -> 86 chars; the last char carries 2 unused bits. Setting one gives the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = s[:-1] + alphabet[alphabet.index(s[-1]) ^ 1]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(s + "==")
    with pytest.raises(SignatureInvalid, match="canonical"):
        verify_compact(f"{h}.{p}.{twin}", keys.jwks())


def test_unknown_kid_is_rejected(keys: GatewayKeys) -> None:
    token = GatewayKeys.ephemeral().sign_compact(PAYLOAD)
    with pytest.raises(SignatureInvalid, match="unknown kid"):
        verify_compact(token, keys.jwks())
    with pytest.raises(SignatureInvalid, match="unknown kid"):
        verify_detached(GatewayKeys.ephemeral().sign_detached(PAYLOAD), PAYLOAD, keys.jwks())


def test_kid_swapped_to_a_published_key_is_rejected(keys_dir: Path, keys: GatewayKeys) -> None:
    old_kid = keys.active_kid
    keys.rotate()
    rotated = GatewayKeys.load(keys_dir)
    _, p, s = rotated.sign_compact(PAYLOAD).split(".")
    forged = f"{b64json({'alg': 'EdDSA', 'kid': old_kid})}.{p}.{s}"
    with pytest.raises(SignatureInvalid, match="bad signature"):
        verify_compact(forged, rotated.jwks())


def test_alg_none_is_rejected(keys: GatewayKeys) -> None:
    for header in ({"alg": "none", "kid": keys.active_kid}, {"alg": "none"}, {"kid": keys.active_kid}):
        token = f"{b64json(header)}.{b64(PAYLOAD)}."
        with pytest.raises(SignatureInvalid, match="alg"):
            verify_compact(token, keys.jwks())


def test_hs256_with_public_key_as_secret_is_rejected(keys: GatewayKeys) -> None:
    jwk = keys.jwks()["keys"][0]
    signing_input = f"{b64json({'alg': 'HS256', 'kid': keys.active_kid})}.{b64(PAYLOAD)}"
    for secret in (jwk["x"].encode(), base64.urlsafe_b64decode(jwk["x"] + "=")):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(SignatureInvalid, match="unsupported alg 'HS256'"):
            verify_compact(f"{signing_input}.{b64(mac)}", keys.jwks())


@pytest.mark.parametrize("alg", ["Ed25519", "ES256", "RS256", "eddsa", None, 1])
def test_only_eddsa_is_accepted(keys: GatewayKeys, alg: object) -> None:
    _, p, s = keys.sign_compact(PAYLOAD).split(".")
    with pytest.raises(SignatureInvalid, match="alg"):
        verify_compact(f"{b64json({'alg': alg, 'kid': keys.active_kid})}.{p}.{s}", keys.jwks())


def test_crit_header_is_rejected(keys: GatewayKeys) -> None:
    header = {"alg": "EdDSA", "kid": keys.active_kid, "crit": ["b64"], "b64": False}
    with pytest.raises(SignatureInvalid, match="crit"):
        verify_compact(f"{b64json(header)}.{b64(PAYLOAD)}.{b64(bytes(64))}", keys.jwks())


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "!!!.e30.AAAA",
        "e30=.e30.AAAA",
        "bm90IGpzb24.e30.AAAA",
        "WzFd.e30.AAAA",
        "e30.e30.AAAA",
    ],
)
def test_malformed_tokens_are_rejected(keys: GatewayKeys, token: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify_compact(token, keys.jwks())


@pytest.mark.parametrize(
    "jwks",
    [
        {},
        {"keys": "nope"},
        {"keys": [{"kid": "K", "kty": "EC", "crv": "P-256", "x": "AAAA"}]},
        {"keys": [{"kid": "K", "kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]},
        {"keys": [{"kid": "K", "kty": "OKP", "crv": "Ed25519", "x": 5}]},
        {"keys": [{"kid": "K", "kty": "OKP", "crv": "Ed25519", "x": b64(bytes(32)), "use": "enc"}]},
        {"keys": [{"kid": "K", "kty": "OKP", "crv": "Ed25519", "x": b64(bytes(32)), "alg": "HS256"}]},
    ],
)
def test_unusable_jwks_are_rejected(jwks: dict[str, Any]) -> None:
    token = f"{b64json({'alg': 'EdDSA', 'kid': 'K'})}.{b64(PAYLOAD)}.{b64(bytes(64))}"
    with pytest.raises(SignatureInvalid):
        verify_compact(token, jwks)


# --------------------------------------------------------------------------- joserfc interoperability


@JOSERFC_EDDSA
def test_joserfc_verifies_our_compact_tokens(keys: GatewayKeys) -> None:
    token = keys.sign_compact(PAYLOAD, typ="tsw-receipt+jws")
    obj = jws.deserialize_compact(token, joserfc_keys(keys), algorithms=["EdDSA"])
    assert obj.payload == PAYLOAD
    assert obj.protected == {"alg": "EdDSA", "kid": keys.active_kid, "typ": "tsw-receipt+jws"}


@JOSERFC_EDDSA
def test_joserfc_verifies_our_detached_signatures(keys: GatewayKeys) -> None:
    signature = keys.sign_detached(PAYLOAD)
    key_set = joserfc_keys(keys)
    obj = jws.deserialize_compact(signature, key_set, algorithms=["EdDSA"], payload=PAYLOAD)
    assert obj.payload == PAYLOAD
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(signature, key_set, algorithms=["EdDSA"], payload=PAYLOAD + b"!")


@JOSERFC_EDDSA
def test_we_verify_joserfc_compact_and_detached(keys_dir: Path, keys: GatewayKeys) -> None:
    key = OKPKey.import_key(private_pem(keys_dir, keys.active_kid))
    assert key.thumbprint() == keys.active_kid
    header = {"alg": "EdDSA", "kid": keys.active_kid}
    token = jws.serialize_compact(header, PAYLOAD, key, algorithms=["EdDSA"])
    assert verify_compact(token, keys.jwks()) == (header, PAYLOAD)
    detached = jws.detach_content(token)
    assert verify_detached(detached, PAYLOAD, keys.jwks()) == header
    with pytest.raises(SignatureInvalid, match="bad signature"):
        verify_detached(detached, PAYLOAD[:-1], keys.jwks())


@JOSERFC_EDDSA
def test_joserfc_token_from_foreign_key_is_rejected(keys: GatewayKeys) -> None:
    foreign = OKPKey.generate_key("Ed25519")
    token = jws.serialize_compact({"alg": "EdDSA", "kid": keys.active_kid}, PAYLOAD, foreign, ["EdDSA"])
    with pytest.raises(SignatureInvalid, match="bad signature"):
        verify_compact(token, keys.jwks())


# --------------------------------------------------------------------------- fuzzing


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
B64_TEXT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.", max_size=120
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@FUZZ
@given(token=st.text(max_size=200) | B64_TEXT)
def test_verify_compact_only_raises_signature_invalid(keys: GatewayKeys, token: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify_compact(token, keys.jwks())


@FUZZ
@given(signature=st.text(max_size=200) | B64_TEXT, payload=st.binary(max_size=64))
def test_verify_detached_only_raises_signature_invalid(
    keys: GatewayKeys, signature: str, payload: bytes
) -> None:
    with pytest.raises(SignatureInvalid):
        verify_detached(signature, payload, keys.jwks())


@FUZZ
@given(header=JSON_VALUES, signature=st.binary(max_size=80))
def test_verify_with_arbitrary_headers_only_raises_signature_invalid(
    keys: GatewayKeys, header: object, signature: bytes
) -> None:
    with pytest.raises(SignatureInvalid):
        verify_compact(f"{b64json(header)}.{b64(PAYLOAD)}.{b64(signature)}", keys.jwks())


@FUZZ
@given(jwks=JSON_VALUES | st.dictionaries(st.just("keys"), st.lists(JSON_VALUES, max_size=3)))
def test_verify_with_arbitrary_jwks_only_raises_signature_invalid(keys: GatewayKeys, jwks: Any) -> None:
    token = keys.sign_compact(PAYLOAD)
    with pytest.raises(SignatureInvalid):
        verify_compact(token, jwks)
