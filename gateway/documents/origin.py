"""Non-repudiation of origin: a trader's detached JWS over the exact request body.

A submission may carry ``TSW-Signature: <header>..<signature>``: a compact JWS (RFC 7515) in the
detached form of its appendix F, whose payload is the request body's exact bytes. The signing input
is the usual ``b64url(header) "." b64url(body)`` (the RFC 7797 unencoded-payload option, ``b64:
false``, is refused, like every ``crit`` extension). The protected header names the key (``kid``, one
the caller registered) and the algorithm (``alg``: ``EdDSA`` or ``Ed25519`` for an Ed25519 key,
``ES256`` for a P-256 key; ES256 signatures are the 64-byte ``r || s`` of RFC 7518, not DER).

`verify_origin` checks one against the caller's keys and returns what is recorded with the
declaration (`SignedBy`), or raises `SignatureRefused` with a stable code:

| code | why |
|---|---|
| `signature.malformed` | not three base64url parts, a header that is not a JSON object, no `kid` |
| `signature.not-detached` | the payload part is not empty: send the body as the body, not in the JWS |
| `signature.unsupported` | an `alg` but EdDSA, Ed25519 or ES256 (``none``, HMAC, ...); `crit` or `b64` |
| `signature.unknown-key` | the `kid` is not one of the caller's keys (another client's key is unknown too) |
| `signature.revoked-key` | the key was revoked: it verifies nothing received since |
| `signature.alg-mismatch` | the `alg` does not fit the key (ES256 with an Ed25519 key, ...) |
| `signature.mismatch` | the signature does not verify over this body |

Only ``cryptography`` does the cryptography; the serialization is the few lines of base64url and JSON
that `gateway.documents.signing` also uses (for the same reasons), and the tests check interoperability
with joserfc. `sign_origin` is the client side, for `tsw submit --sign-key` and the tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from gateway.documents import b64url
from gateway.documents.trader_keys import TraderKey, public_jwk
from gateway.errors import SignatureRefused

__all__ = ["HEADER", "MAX_SIGNATURE_CHARS", "SignedBy", "sign_origin", "verify_origin"]

#: The request header that carries the signature.
HEADER = "TSW-Signature"
#: Longer values are refused unread (a header of a few hundred characters is plenty).
MAX_SIGNATURE_CHARS = 4096

_ES256_HALF = 32
_SIGNATURE_BYTES = 64  # Ed25519, and ES256 as r || s


@dataclass(frozen=True, slots=True)
class SignedBy:
    """A verified origin signature: the key and algorithm, and the detached JWS itself (evidence)."""

    kid: str
    alg: str
    signature: str

    def summary(self) -> dict[str, str]:
        """What receipts, views and the audit log show: ``{"kid", "alg"}``."""
        return {"kid": self.kid, "alg": self.alg}


def verify_origin(signature: str, body: bytes, keys: Mapping[str, TraderKey]) -> SignedBy:
    """Verify a detached JWS over `body` with one of `keys` (the caller's, by kid)."""
    header_b64, signature_b64 = _parts(signature)
    header = _header(header_b64)
    alg, kid = header["alg"], header["kid"]
    key = keys.get(kid)
    if key is None:
        raise SignatureRefused("signature.unknown-key", f"no signing key {kid!r} is registered for you")
    if key.revoked:
        raise SignatureRefused("signature.revoked-key", f"signing key {kid!r} is revoked")
    if alg not in key.algorithms:
        fits = ", ".join(sorted(key.algorithms))
        raise SignatureRefused("signature.alg-mismatch", f"alg {alg!r} does not fit key {kid!r} ({fits})")
    raw = b64url.decode(signature_b64)
    body_b64 = base64.urlsafe_b64encode(body).rstrip(b"=")  # bytes: no str copy of a large body
    signing_input = header_b64.encode("ascii") + b"." + body_b64
    if raw is None or len(raw) != _SIGNATURE_BYTES or not _verifies(key, raw, signing_input):
        raise SignatureRefused("signature.mismatch", "the signature does not verify over this request body")
    return SignedBy(kid=kid, alg=alg, signature=signature)


def sign_origin(
    body: bytes, key: Ed25519PrivateKey | ec.EllipticCurvePrivateKey, *, kid: str | None = None
) -> str:
    """The detached JWS a client sends as `TSW-Signature` (EdDSA or ES256 by the key's kind; `kid`
    defaults to the key's RFC 7638 thumbprint, the gateway's default kid)."""
    alg = "EdDSA" if isinstance(key, Ed25519PrivateKey) else "ES256"
    header = {"alg": alg, "kid": kid or public_jwk(key)["kid"]}
    header_b64 = b64url.encode(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{header_b64}.{b64url.encode(body)}".encode("ascii")
    if isinstance(key, Ed25519PrivateKey):
        raw = key.sign(signing_input)
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(_ES256_HALF, "big") + s.to_bytes(_ES256_HALF, "big")
    return f"{header_b64}..{b64url.encode(raw)}"


def _parts(signature: str) -> tuple[str, str]:
    """The header and signature parts of a detached JWS."""
    if len(signature) > MAX_SIGNATURE_CHARS:
        limit = MAX_SIGNATURE_CHARS
        raise SignatureRefused("signature.malformed", f"a signature is at most {limit} characters")
    parts = signature.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise SignatureRefused("signature.malformed", "a detached JWS is `<header>..<signature>`")
    if parts[1]:
        raise SignatureRefused(
            "signature.not-detached", "the JWS carries a payload: send it detached, `<header>..<signature>`"
        )
    return parts[0], parts[2]


def _header(segment: str) -> dict[str, str]:
    raw = b64url.decode(segment)
    try:
        header = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        raise SignatureRefused("signature.malformed", "the JWS header is not base64url of a JSON object")
    alg = header.get("alg")
    if alg not in ("EdDSA", "Ed25519", "ES256"):
        raise SignatureRefused("signature.unsupported", f"alg {alg!r} is not accepted: use EdDSA or ES256")
    if "crit" in header or "b64" in header:
        raise SignatureRefused(
            "signature.unsupported", "JWS extensions (crit, b64) are not supported: sign the encoded body"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignatureRefused("signature.malformed", "the JWS header has no kid")
    return {"alg": alg, "kid": kid[:200]}


def _verifies(key: TraderKey, raw: bytes, signing_input: bytes) -> bool:
    try:
        if isinstance(key.key, Ed25519PublicKey):
            key.key.verify(raw, signing_input)
        else:
            r = int.from_bytes(raw[:_ES256_HALF], "big")
            s = int.from_bytes(raw[_ES256_HALF:], "big")
            key.key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
