"""Traders' public signing keys: checking a registered JWK, and the key objects that verify with it.

A trader (or forwarder) registers public keys as JWKs (RFC 7517) and signs its requests with the
private halves (`gateway.documents.origin`). Two kinds are accepted, each bound to its JWS algorithms:

| JWK | algorithms (JWS ``alg``) |
|---|---|
| ``{"kty": "OKP", "crv": "Ed25519", "x"}`` (RFC 8037) | ``EdDSA``, or ``Ed25519`` (RFC 9864's name) |
| ``{"kty": "EC", "crv": "P-256", "x", "y"}`` (RFC 7518) | ``ES256`` |

Everything else is refused with a located problem (`UnprocessableRequest`): RSA and symmetric keys,
other curves (X25519, Ed448, P-384, secp256k1), a point off the curve, an ``alg`` or ``use`` that does
not fit, and above all a *private* key (any of ``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``oth``,
``k``): the gateway must never hold a trader's signing secret, and a key sent in clear is compromised.

The stored JWK keeps only the public members (``kty``, ``crv``, ``x``, ``y``) with ``kid``, ``use``
``sig`` and ``alg`` when one was given. The ``kid`` is the trader's choice (URL-safe, at most 100
characters, since it appears in ``/v1/signing-keys/{kid}``) or, by default, the RFC 7638 SHA-256
thumbprint of the key, which a client can compute from its own key without asking the gateway
(`thumbprint`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.documents import b64url
from gateway.documents.problems import Problem
from gateway.errors import UnprocessableRequest

__all__ = [
    "ALGORITHMS",
    "KID_PATTERN",
    "PublicKey",
    "TraderKey",
    "parse_public_jwk",
    "public_jwk",
    "thumbprint",
]

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey

#: JWS algorithms accepted for each key kind (kty, crv).
ALGORITHMS: dict[tuple[str, str], frozenset[str]] = {
    ("OKP", "Ed25519"): frozenset({"EdDSA", "Ed25519"}),
    ("EC", "P-256"): frozenset({"ES256"}),
}
#: A kid the gateway accepts (it is also a URL path segment).
KID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,100}")

_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_COORDINATE_BYTES = 32  # Ed25519 public keys, and each P-256 coordinate


@dataclass(frozen=True, slots=True)
class TraderKey:
    """A registered public key, ready to verify. `revoked` keys are kept (to say so) but never verify."""

    kid: str
    kty: str
    crv: str
    thumbprint: str
    jwk: dict[str, str]  # the public members only, as stored and listed
    key: PublicKey = field(compare=False, repr=False)
    revoked: bool = False

    @property
    def algorithms(self) -> frozenset[str]:
        """The JWS algorithms this key verifies: its kind's, narrowed to the JWK's `alg` if it has one."""
        allowed = ALGORITHMS[(self.kty, self.crv)]
        alg = self.jwk.get("alg")
        return frozenset({alg}) if alg in allowed else allowed


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of an OKP or EC public JWK: its required members only,
    sorted, without whitespace."""
    members = ("crv", "kty", "x") if jwk["kty"] == "OKP" else ("crv", "kty", "x", "y")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url.encode(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey | PublicKey) -> dict[str, str]:
    """The public JWK of a key (private or public), with its thumbprint as `kid`: what a trader
    registers. P-256 only among EC curves."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey) else key
    if isinstance(public, Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url.encode(raw)}
    elif isinstance(public.curve, ec.SECP256R1):
        numbers = public.public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url.encode(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
            "y": b64url.encode(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
        }
    else:
        raise ValueError(f"unsupported curve {public.curve.name}: use Ed25519 or P-256")
    return {**jwk, "kid": thumbprint(jwk)}


def parse_public_jwk(jwk: object, *, revoked: bool = False) -> TraderKey:
    """Check a JWK offered for registration (or read back from the store) and build its key.

    Raises `UnprocessableRequest` listing the problems found, each with a stable code (`key.private`,
    `key.kty`, `key.crv`, `key.x`, `key.y`, `key.point`, `key.alg`, `key.use`, `key.kid`).
    """
    if not isinstance(jwk, Mapping):
        raise _refused("key.type", "/", "a JWK is a JSON object")
    private = [name for name in _PRIVATE_MEMBERS if name in jwk]
    if private:
        raise _refused(
            "key.private",
            f"/{private[0]}",
            "this is a private key: register only the public key, and treat this one as compromised",
        )
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if not isinstance(kty, str) or kty not in ("OKP", "EC"):
        raise _refused("key.kty", "/kty", f"kty {kty!r} is not supported: use OKP (Ed25519) or EC (P-256)")
    if not isinstance(crv, str) or (kty, crv) not in ALGORITHMS:
        wanted = "Ed25519" if kty == "OKP" else "P-256"
        raise _refused("key.crv", "/crv", f"crv {crv!r} is not supported for {kty} keys: use {wanted}")
    problems = [*_usage_problems(jwk, ALGORITHMS[(kty, crv)]), *_kid_problems(jwk)]
    public = {"kty": kty, "crv": crv, "x": _coordinate(jwk, "x", problems)}
    if kty == "EC":
        public["y"] = _coordinate(jwk, "y", problems)
    if problems:
        raise UnprocessableRequest(problems)
    key = _key(public)
    digest = thumbprint(public)
    stored = {**public, "kid": jwk.get("kid") or digest, "use": "sig"}
    if isinstance(jwk.get("alg"), str):
        stored["alg"] = jwk["alg"]
    return TraderKey(
        kid=stored["kid"], kty=kty, crv=crv, thumbprint=digest, jwk=stored, key=key, revoked=revoked
    )


def _usage_problems(jwk: Mapping[str, Any], algorithms: frozenset[str]) -> list[Problem]:
    problems = []
    alg = jwk.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in algorithms):
        problems.append(
            Problem(code="key.alg", path="/alg", message=f"alg must be one of {sorted(algorithms)}")
        )
    if jwk.get("use", "sig") != "sig":
        problems.append(Problem(code="key.use", path="/use", message='use must be "sig"'))
    operations = jwk.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        problems.append(Problem(code="key.use", path="/key_ops", message='key_ops must include "verify"'))
    return problems


def _kid_problems(jwk: Mapping[str, Any]) -> list[Problem]:
    kid = jwk.get("kid")
    if kid is None or (isinstance(kid, str) and KID_PATTERN.fullmatch(kid)):
        return []
    message = "kid must be 1-100 characters of A-Z a-z 0-9 . _ ~ - (or left out: the thumbprint)"
    return [Problem(code="key.kid", path="/kid", message=message)]


def _coordinate(jwk: Mapping[str, Any], name: str, problems: list[Problem]) -> str:
    value = jwk.get(name)
    raw = b64url.decode(value) if isinstance(value, str) else None
    if raw is None or len(raw) != _COORDINATE_BYTES:
        problems.append(
            Problem(
                code=f"key.{name}",
                path=f"/{name}",
                message=f"{name} must be {_COORDINATE_BYTES} bytes, base64url without padding",
            )
        )
        return ""
    assert isinstance(value, str)
    return value


def _key(public: Mapping[str, str]) -> PublicKey:
    x = b64url.decode(public["x"])
    assert x is not None
    if public["kty"] == "OKP":
        return Ed25519PublicKey.from_public_bytes(x)
    y = b64url.decode(public["y"])
    assert y is not None
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    )
    try:
        return numbers.public_key()
    except ValueError as exc:  # not a point on P-256
        raise _refused("key.point", "/", "x and y are not a point on P-256") from exc


def _refused(code: str, path: str, message: str) -> UnprocessableRequest:
    return UnprocessableRequest([Problem(code=code, path=path, message=message)])
