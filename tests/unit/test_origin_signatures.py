"""Traders' detached JWS signatures over request bodies (`gateway.documents.origin`) and the public
JWKs they register (`gateway.documents.trader_keys`): good and tampered, every refusal code, and
interoperability with joserfc in both directions."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

from gateway.documents.origin import sign_origin, verify_origin
from gateway.documents.trader_keys import TraderKey, parse_public_jwk, public_jwk, thumbprint
from gateway.errors import SignatureRefused, UnprocessableRequest

BODY = b'<?xml version="1.0"?><TradeDeclaration><Total>12.50</Total></TradeDeclaration>'
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
JOSERFC_EDDSA = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def header(obj: dict[str, Any]) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


@pytest.fixture(params=["Ed25519", "P-256"])
def private(request: pytest.FixtureRequest) -> PrivateKey:
    if request.param == "Ed25519":
        return Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def registered(*keys: PrivateKey, revoked: bool = False) -> dict[str, TraderKey]:
    parsed = [parse_public_jwk(public_jwk(key), revoked=revoked) for key in keys]
    return {key.kid: key for key in parsed}


def refusal(signature: str, body: bytes, keys: dict[str, TraderKey]) -> str:
    with pytest.raises(SignatureRefused) as caught:
        verify_origin(signature, body, keys)
    return caught.value.code


# --------------------------------------------------------------------------- verification


def test_a_good_signature_verifies_and_names_its_key(private: PrivateKey) -> None:
    keys = registered(private)
    signed = verify_origin(sign_origin(BODY, private), BODY, keys)
    assert signed.kid == public_jwk(private)["kid"]
    assert signed.alg == ("EdDSA" if isinstance(private, Ed25519PrivateKey) else "ES256")
    assert signed.summary() == {"kid": signed.kid, "alg": signed.alg}


def test_an_empty_body_can_be_signed(private: PrivateKey) -> None:
    assert verify_origin(sign_origin(b"", private), b"", registered(private)).kid


@pytest.mark.parametrize(
    "tampered", [BODY + b" ", BODY.replace(b"12.50", b"12.51"), BODY[:-1], b"", BODY + b"\n"]
)
def test_a_tampered_body_is_refused(private: PrivateKey, tampered: bytes) -> None:
    assert refusal(sign_origin(BODY, private), tampered, registered(private)) == "signature.mismatch"


def test_a_signature_by_another_key_under_a_registered_kid_is_refused(private: PrivateKey) -> None:
    keys = registered(private)
    kid = next(iter(keys))
    impostor = (
        Ed25519PrivateKey.generate()
        if isinstance(private, Ed25519PrivateKey)
        else ec.generate_private_key(ec.SECP256R1())
    )
    assert refusal(sign_origin(BODY, impostor, kid=kid), BODY, keys) == "signature.mismatch"


def test_an_unknown_kid_is_refused(private: PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    assert refusal(sign_origin(BODY, other), BODY, registered(private)) == "signature.unknown-key"
    assert (
        refusal(sign_origin(BODY, private, kid="nope"), BODY, registered(private)) == "signature.unknown-key"
    )


def test_a_revoked_key_verifies_nothing(private: PrivateKey) -> None:
    assert (
        refusal(sign_origin(BODY, private), BODY, registered(private, revoked=True))
        == "signature.revoked-key"
    )


def test_an_alg_that_does_not_fit_the_key_is_refused() -> None:
    ed, p256 = Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    keys = registered(ed, p256)
    ed_signature = sign_origin(BODY, ed).split(".")
    as_es256 = header({"alg": "ES256", "kid": public_jwk(ed)["kid"]}) + ".." + ed_signature[2]
    assert refusal(as_es256, BODY, keys) == "signature.alg-mismatch"
    p_signature = sign_origin(BODY, p256).split(".")
    as_eddsa = header({"alg": "EdDSA", "kid": public_jwk(p256)["kid"]}) + ".." + p_signature[2]
    assert refusal(as_eddsa, BODY, keys) == "signature.alg-mismatch"


def test_a_jwk_alg_narrows_the_algorithms_a_key_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    parsed = parse_public_jwk({**public_jwk(key), "alg": "Ed25519"})
    assert parsed.algorithms == {"Ed25519"}
    assert refusal(sign_origin(BODY, key), BODY, {parsed.kid: parsed}) == "signature.alg-mismatch"


@pytest.mark.parametrize(
    "alg", ["none", "None", "HS256", "RS256", "ES384", "PS256", "EdDSA25519", "", None, 7]
)
def test_other_algorithms_are_refused(private: PrivateKey, alg: object) -> None:
    parts = sign_origin(BODY, private).split(".")
    forged = header({"alg": alg, "kid": public_jwk(private)["kid"]}) + ".." + parts[2]
    assert refusal(forged, BODY, registered(private)) == "signature.unsupported"


def test_alg_none_with_an_empty_signature_is_refused(private: PrivateKey) -> None:
    unsigned = header({"alg": "none", "kid": public_jwk(private)["kid"]}) + ".."
    assert refusal(unsigned, BODY, registered(private)) == "signature.malformed"
    assert refusal(unsigned + "AA", BODY, registered(private)) == "signature.unsupported"


def test_an_attached_payload_is_refused_even_when_it_is_the_body(private: PrivateKey) -> None:
    head, _, signature = sign_origin(BODY, private).split(".")
    assert refusal(f"{head}.{b64(BODY)}.{signature}", BODY, registered(private)) == "signature.not-detached"


@pytest.mark.parametrize("extension", [{"b64": False, "crit": ["b64"]}, {"b64": False}, {"crit": ["exp"]}])
def test_jws_extensions_are_refused(private: PrivateKey, extension: dict[str, Any]) -> None:
    parts = sign_origin(BODY, private).split(".")
    alg = "EdDSA" if isinstance(private, Ed25519PrivateKey) else "ES256"
    forged = header({"alg": alg, "kid": public_jwk(private)["kid"], **extension}) + ".." + parts[2]
    assert refusal(forged, BODY, registered(private)) == "signature.unsupported"


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "abc",
        "a.b",
        "a..b..c",
        "..",
        "!!!..AAAA",
        header({"alg": "EdDSA"}) + "..AAAA",  # no kid
        header({"alg": "EdDSA", "kid": 5}) + "..AAAA",
        b64(b"[1, 2]") + "..AAAA",  # not an object
        b64(b"{not json") + "..AAAA",
        "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ==..AAAA",  # padded
        "x" * 5000,
    ],
)
def test_malformed_signatures_are_refused(private: PrivateKey, signature: str) -> None:
    assert refusal(signature, BODY, registered(private)) == "signature.malformed"


def test_a_signature_of_the_wrong_length_or_spelling_does_not_verify(private: PrivateKey) -> None:
    head, _, signature = sign_origin(BODY, private).split(".")
    keys = registered(private)
    assert refusal(f"{head}..{signature[:-4]}", BODY, keys) == "signature.mismatch"
    assert refusal(f"{head}..{signature}AAAA", BODY, keys) == "signature.mismatch"
    assert refusal(f"{head}..{signature}=", BODY, keys) == "signature.mismatch"  # padding is not base64url


def test_an_es256_signature_in_der_form_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    head = header({"alg": "ES256", "kid": public_jwk(key)["kid"]})
    from cryptography.hazmat.primitives import hashes

    der = key.sign(f"{head}.{b64(BODY)}".encode(), ec.ECDSA(hashes.SHA256()))
    assert refusal(f"{head}..{b64(der)}", BODY, registered(key)) == "signature.mismatch"


def test_the_refusal_is_a_401_problem_pointing_at_the_header() -> None:
    error = SignatureRefused("signature.mismatch", "no")
    assert [p.as_dict() for p in error.problems] == [
        {"code": "signature.mismatch", "path": "/headers/TSW-Signature", "message": "no"}
    ]


# --------------------------------------------------------------------------- joserfc, both ways


@JOSERFC_EDDSA
def test_joserfc_detached_signatures_verify_here(private: PrivateKey) -> None:
    jwk = public_jwk(private)
    if isinstance(private, Ed25519PrivateKey):
        key: OKPKey | ECKey = OKPKey.import_key(private)
        alg = "EdDSA"
    else:
        key = ECKey.import_key(private)
        alg = "ES256"
    compact = jws.serialize_compact({"alg": alg, "kid": jwk["kid"]}, BODY, key, algorithms=[alg])
    detached = jws.detach_content(compact)
    assert detached.split(".")[1] == ""
    assert verify_origin(detached, BODY, registered(private)).alg == alg


@JOSERFC_EDDSA
def test_signatures_made_here_verify_with_joserfc(private: PrivateKey) -> None:
    signature = sign_origin(BODY, private)
    head, _, tail = signature.split(".")
    jwk = public_jwk(private)
    key: OKPKey | ECKey = OKPKey.import_key(dict(jwk)) if jwk["kty"] == "OKP" else ECKey.import_key(dict(jwk))  # type: ignore[arg-type]
    alg = "EdDSA" if jwk["kty"] == "OKP" else "ES256"
    obj = jws.deserialize_compact(f"{head}.{b64(BODY)}.{tail}", key, algorithms=[alg])
    assert obj.payload == BODY


def test_rfc9864_alg_ed25519_is_accepted_for_an_ed25519_key() -> None:
    key = Ed25519PrivateKey.generate()
    kid = public_jwk(key)["kid"]
    head = header({"alg": "Ed25519", "kid": kid})
    signature = key.sign(f"{head}.{b64(BODY)}".encode())
    assert verify_origin(f"{head}..{b64(signature)}", BODY, registered(key)).alg == "Ed25519"


# --------------------------------------------------------------------------- registering a JWK


def test_a_public_jwk_gets_its_thumbprint_as_kid(private: PrivateKey) -> None:
    jwk = public_jwk(private)
    bare = {name: value for name, value in jwk.items() if name != "kid"}
    parsed = parse_public_jwk(bare)
    assert parsed.kid == parsed.thumbprint == thumbprint(bare) == jwk["kid"]
    assert parsed.jwk == {**jwk, "use": "sig"}


def test_rfc7638_thumbprint_example() -> None:
    """The thumbprint of RFC 8037 appendix A.3's Ed25519 key."""
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_chosen_kid_and_alg_are_kept(private: PrivateKey) -> None:
    alg = "EdDSA" if isinstance(private, Ed25519PrivateKey) else "ES256"
    parsed = parse_public_jwk({**public_jwk(private), "kid": "acme-2026.1", "alg": alg, "extra": "dropped"})
    assert parsed.kid == "acme-2026.1"
    assert parsed.jwk["alg"] == alg and "extra" not in parsed.jwk


def codes(jwk: object) -> list[str]:
    with pytest.raises(UnprocessableRequest) as caught:
        parse_public_jwk(jwk)
    return [problem.code for problem in caught.value.problems]


def test_private_keys_are_refused() -> None:
    from joserfc.jwk import OKPKey as Okp

    private = Okp.import_key(Ed25519PrivateKey.generate()).as_dict(private=True)
    assert "d" in private
    assert codes(private) == ["key.private"]
    assert codes({"kty": "oct", "k": "c2VjcmV0"}) == ["key.private"]


def test_other_kinds_of_keys_and_curves_are_refused() -> None:
    assert codes({"kty": "RSA", "n": "AQAB", "e": "AQAB"}) == ["key.kty"]
    assert codes({"kty": "OKP", "crv": "X25519", "x": b64(b"\x01" * 32)}) == ["key.crv"]
    ed448 = b64(Ed448PrivateKey.generate().public_key().public_bytes_raw())
    assert codes({"kty": "OKP", "crv": "Ed448", "x": ed448}) == ["key.crv"]
    p384 = ECKey.import_key(ec.generate_private_key(ec.SECP384R1()).public_key()).as_dict()
    assert codes(p384) == ["key.crv"]
    assert codes({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}) == ["key.crv"]
    assert codes("not an object") == ["key.type"]


def test_bad_members_are_listed_together() -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "short", "alg": "ES256", "use": "enc", "kid": "a/b"}
    assert codes(jwk) == ["key.alg", "key.use", "key.kid", "key.x"]
    assert codes({**public_jwk(Ed25519PrivateKey.generate()), "key_ops": ["sign"]}) == ["key.use"]


def test_a_point_off_the_curve_is_refused() -> None:
    jwk = public_jwk(ec.generate_private_key(ec.SECP256R1()))
    y = base64.urlsafe_b64decode(jwk["y"] + "==")
    off = {**jwk, "y": b64(y[:-1] + bytes([y[-1] ^ 1]))}
    assert codes(off) == ["key.point"]
    assert codes({**jwk, "y": jwk["y"] + "="}) == ["key.y"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
JWK_LIKE = st.fixed_dictionaries(
    {},
    optional={
        name: JSON_VALUES | st.sampled_from(["OKP", "EC", "Ed25519", "P-256", "EdDSA", "ES256", "sig"])
        for name in ("kty", "crv", "x", "y", "alg", "use", "kid", "key_ops", "d")
    },
)


@settings(max_examples=300, deadline=None)
@given(JWK_LIKE | JSON_VALUES)
def test_any_json_offered_as_a_jwk_is_a_key_or_a_listed_refusal(jwk: object) -> None:
    try:
        parse_public_jwk(jwk)
    except UnprocessableRequest as exc:
        assert exc.problems and all(problem.code.startswith("key.") for problem in exc.problems)


@settings(max_examples=300, deadline=None)
@given(header=JWK_LIKE | JSON_VALUES, tail=st.text(max_size=100))
def test_any_header_is_a_verdict_never_a_crash(header: object, tail: str) -> None:
    keys = registered(Ed25519PrivateKey.generate())
    try:
        head = b64(json.dumps(header).encode())
    except (TypeError, ValueError):
        return
    for signature in (f"{head}..{tail}", f"{head}.{tail}", tail, f"{tail}..{head}"):
        with pytest.raises(SignatureRefused):
            verify_origin(signature, BODY, keys)
