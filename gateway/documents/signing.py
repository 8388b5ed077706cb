"""The gateway's Ed25519 signing keys, compact JWS receipts and detached event signatures.

Keys (`GatewayKeys`)
    Ed25519 keys live in one directory (``Settings.keys_dir``, i.e. ``$TSW_DATA_DIR/keys``, mode 0700):

    - ``ed25519-<kid>.pem``: the private key, PKCS#8 PEM, unencrypted, mode 0600;
    - ``keys.json``: metadata ``{"version": 1, "active": kid, "keys": [{"kid", "created_at",
      "retired_at"}]}``.

    Every file is written atomically (temporary file, fsync, rename) under an exclusive ``flock`` on
    ``.lock``, so two processes starting at once agree on one first key. `GatewayKeys.load_or_create`
    generates the first key on first start; `GatewayKeys.rotate` adds a new active key and stamps the
    old one's ``retired_at``. Rotated-out keys stay on disk and stay in the JWKS, so every receipt and
    event ever signed still verifies. A running process keeps the keys it loaded: after a rotation,
    reload (restart, or call `load_or_create` again) to sign with the new key and publish it.

    **kid scheme**: the RFC 7638 JWK SHA-256 thumbprint of the public key, base64url without padding
    (43 characters). It is self-certifying (any verifier can recompute it from the JWK), needs no
    registry, and is checked against the key material on every load. Creation and retirement dates
    live in ``keys.json``, not in the kid.

Signatures
    Plain RFC 7515 with ``alg`` "EdDSA" (RFC 8037) and the ``kid`` in the protected header:
    `GatewayKeys.sign_compact` gives ``header.payload.signature``; `GatewayKeys.sign_detached` gives
    the appendix F detached form ``header..signature`` whose signing input is still
    ``b64url(header) "." b64url(payload)`` (the RFC 7797 ``b64: false`` option is not used), so any JOSE
    library verifies it once given the payload.

Verifying (`verify_compact`, `verify_detached`)
    The public helpers that agency adapters and traders use. They need only ``cryptography`` and the
    standard library, take the JWKS as published at ``/.well-known/jwks.json`` (a dict), and raise
    only `gateway.errors.SignatureInvalid`, whose message says why: malformed token, unsupported
    ``alg`` (only "EdDSA"; never "none", never HMAC), unknown ``kid``, bad signature.

Why not joserfc on the hot path: its per-call overhead is small (a few µs to sign, ~15-20 µs to verify),
but joserfc 1.8 emits a ``SecurityWarning`` ("EdDSA is deprecated via RFC 9864") on every EdDSA sign
and verify, and suppressing it per call needs ``warnings.catch_warnings``, which is process-global and
not thread-safe. The serialization is a few lines of base64; the tests prove interoperability with
joserfc in both directions.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import GatewayError, SignatureInvalid

__all__ = [
    "ALG",
    "GatewayKeys",
    "KeyInfo",
    "jwk_thumbprint",
    "verify_compact",
    "verify_detached",
]

#: The only JWS algorithm the gateway signs with or accepts (RFC 8037, Ed25519 keys).
ALG = "EdDSA"

_METADATA_FILE = "keys.json"
_LOCK_FILE = ".lock"
_METADATA_VERSION = 1
_KID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")


# --------------------------------------------------------------------------- base64url and JWK helpers


def _b64e(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64d(segment: str, what: str, *, canonical: bool = True) -> bytes:
    """Strict base64url (RFC 7515 section 2): unpadded, URL-safe alphabet only.

    With `canonical`, also refuse unused trailing bits set (two spellings of one signature). The payload
    skips that check: the signature covers its encoded form, so any other spelling fails anyway.
    """
    if len(segment) % 4 == 1 or "+" in segment or "/" in segment or "=" in segment:
        raise SignatureInvalid(f"malformed token: {what} is not base64url")
    try:
        std = segment.encode("ascii").translate(_URL_TO_STD) + b"=" * (-len(segment) % 4)
        data = binascii.a2b_base64(std, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise SignatureInvalid(f"malformed token: {what} is not base64url") from exc
    if canonical and _b64e(data).decode("ascii") != segment:
        raise SignatureInvalid(f"malformed token: {what} is not canonical base64url")
    return data


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 SHA-256 thumbprint of an Ed25519 OKP JWK whose public key is `x` (base64url)."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return _b64e(hashlib.sha256(canonical.encode("ascii")).digest()).decode("ascii")


def _public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    x = _b64e(_public_raw(key)).decode("ascii")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": jwk_thumbprint(x), "use": "sig", "alg": ALG}


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- the key store on disk


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key's metadata from ``keys.json``; `retired_at` is None for the active key."""

    kid: str
    created_at: str
    retired_at: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"kid": self.kid, "created_at": self.created_at, "retired_at": self.retired_at}


@dataclass(frozen=True, slots=True)
class _Metadata:
    active: str
    keys: tuple[KeyInfo, ...]

    def to_json(self) -> bytes:
        doc = {"version": _METADATA_VERSION, "active": self.active, "keys": [k.as_dict() for k in self.keys]}
        return json.dumps(doc, indent=2).encode("utf-8") + b"\n"


def _ensure_dir(keys_dir: Path) -> None:
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if keys_dir.stat().st_mode & 0o077:
        os.chmod(keys_dir, 0o700)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` with mode 0600: temporary file, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def _locked(keys_dir: Path) -> Iterator[None]:
    fd = os.open(keys_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _key_path(keys_dir: Path, kid: str) -> Path:
    return keys_dir / f"ed25519-{kid}.pem"


def _read_metadata(keys_dir: Path) -> _Metadata | None:
    try:
        raw = (keys_dir / _METADATA_FILE).read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
        infos = tuple(KeyInfo(k["kid"], k["created_at"], k.get("retired_at")) for k in doc["keys"])
        metadata = _Metadata(active=doc["active"], keys=infos)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GatewayError(f"{keys_dir / _METADATA_FILE} is malformed: {exc}") from exc
    if not isinstance(metadata.active, str) or metadata.active not in {k.kid for k in infos}:
        raise GatewayError(f"{keys_dir / _METADATA_FILE}: active kid {metadata.active!r} is not listed")
    return metadata


def _load_private(keys_dir: Path, kid: str) -> Ed25519PrivateKey:
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise GatewayError(f"{keys_dir / _METADATA_FILE}: malformed kid {kid!r}")
    path = _key_path(keys_dir, kid)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise GatewayError(f"cannot load signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise GatewayError(f"{path} is not an Ed25519 private key")
    if _public_jwk(key.public_key())["kid"] != kid:
        raise GatewayError(f"{path} does not hold the key its kid names")
    return key


def _new_key(keys_dir: Path) -> KeyInfo:
    """Generate a key and write its PEM (before any metadata names it, so a crash leaves no dangling kid)."""
    key = Ed25519PrivateKey.generate()
    kid = _public_jwk(key.public_key())["kid"]
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _atomic_write(_key_path(keys_dir, kid), pem)
    return KeyInfo(kid=kid, created_at=_utc_now())


# --------------------------------------------------------------------------- GatewayKeys


class GatewayKeys:
    """The gateway's Ed25519 keys, loaded once; signs receipts and routed events.

    Build it in the composition root with `load_or_create` and pass it down. Everything the hot path
    needs (private key object, encoded protected headers, the JWKS) is computed once here.
    """

    __slots__ = ("_active", "_active_kid", "_headers", "_infos", "_jwks", "_keys_dir")

    def __init__(
        self,
        *,
        keys: Mapping[str, Ed25519PrivateKey],
        active_kid: str,
        infos: tuple[KeyInfo, ...] = (),
        keys_dir: Path | None = None,
    ) -> None:
        if active_kid not in keys:
            raise ValueError(f"active kid {active_kid!r} is not among the keys")
        self._active_kid = active_kid
        self._active = keys[active_kid]
        self._infos = infos
        self._keys_dir = keys_dir
        ordered = [active_kid, *(kid for kid in keys if kid != active_kid)]
        self._jwks = [_public_jwk(keys[kid].public_key()) for kid in ordered]
        self._headers: dict[str | None, bytes] = {}

    # ---- construction

    @classmethod
    def ephemeral(cls) -> GatewayKeys:
        """One fresh in-memory key, nothing on disk: for tests and throw-away tools."""
        key = Ed25519PrivateKey.generate()
        kid = _public_jwk(key.public_key())["kid"]
        return cls(keys={kid: key}, active_kid=kid, infos=(KeyInfo(kid=kid, created_at=_utc_now()),))

    @classmethod
    def load(cls, keys_dir: Path) -> GatewayKeys:
        """Load every key listed in ``keys.json``; `GatewayError` if the store is missing or damaged."""
        metadata = _read_metadata(keys_dir)
        if metadata is None:
            raise GatewayError(f"no signing keys in {keys_dir} (run `tsw keys` or start the gateway once)")
        keys = {info.kid: _load_private(keys_dir, info.kid) for info in metadata.keys}
        return cls(keys=keys, active_kid=metadata.active, infos=metadata.keys, keys_dir=keys_dir)

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> GatewayKeys:
        """Load the key store, generating the first key (and the 0700 directory) on first start."""
        _ensure_dir(keys_dir)
        if _read_metadata(keys_dir) is None:
            with _locked(keys_dir):
                if _read_metadata(keys_dir) is None:
                    info = _new_key(keys_dir)
                    _atomic_write(keys_dir / _METADATA_FILE, _Metadata(info.kid, (info,)).to_json())
        return cls.load(keys_dir)

    def rotate(self) -> str:
        """Make a new active key in the directory these keys came from; return its kid.

        The old key is retired (``retired_at``) but kept on disk and in the JWKS. This instance, like
        every running process, keeps signing with the key it loaded (still valid, still published);
        load again (`load_or_create`) to sign with the new key and publish it.
        """
        if self._keys_dir is None:
            raise GatewayError("ephemeral keys have no key directory to rotate")
        keys_dir = self._keys_dir
        _ensure_dir(keys_dir)
        with _locked(keys_dir):
            metadata = _read_metadata(keys_dir)
            info = _new_key(keys_dir)
            now = info.created_at
            old = () if metadata is None else metadata.keys
            retired = tuple(KeyInfo(k.kid, k.created_at, now) if k.retired_at is None else k for k in old)
            _atomic_write(keys_dir / _METADATA_FILE, _Metadata(info.kid, (*retired, info)).to_json())
        return info.kid

    # ---- read-only views

    @property
    def active_kid(self) -> str:
        return self._active_kid

    @property
    def keys_dir(self) -> Path | None:
        """The directory these keys were loaded from; None for `ephemeral` keys."""
        return self._keys_dir

    @property
    def kids(self) -> tuple[str, ...]:
        """Every kid this instance can verify, the active one first."""
        return tuple(jwk["kid"] for jwk in self._jwks)

    @property
    def infos(self) -> tuple[KeyInfo, ...]:
        """Creation and retirement dates, as recorded in ``keys.json``."""
        return self._infos

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 JWK Set of every public key that may still verify something (a fresh copy)."""
        return {"keys": [dict(jwk) for jwk in self._jwks]}

    # ---- signing

    def _header(self, typ: str | None) -> bytes:
        encoded = self._headers.get(typ)
        if encoded is None:
            header = {"alg": ALG, "kid": self._active_kid}
            if typ is not None:
                header["typ"] = typ
            encoded = _b64e(json.dumps(header, separators=(",", ":")).encode("utf-8"))
            self._headers[typ] = encoded
        return encoded

    def sign_compact(self, payload: bytes, *, typ: str | None = None) -> str:
        """Compact JWS ``header.payload.signature`` with ``{"alg": "EdDSA", "kid": ..., ["typ"]}``."""
        signing_input = self._header(typ) + b"." + _b64e(payload)
        return (signing_input + b"." + _b64e(self._active.sign(signing_input))).decode("ascii")

    def sign_detached(self, payload: bytes, *, typ: str | None = None) -> str:
        """Detached compact JWS ``header..signature`` (RFC 7515 appendix F) over `payload`."""
        header = self._header(typ)
        signature = self._active.sign(header + b"." + _b64e(payload))
        return (header + b".." + _b64e(signature)).decode("ascii")


# --------------------------------------------------------------------------- verification


def _parse_header(segment: str) -> dict[str, Any]:
    raw = _b64d(segment, "header")
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SignatureInvalid("malformed token: header is not JSON") from exc
    if not isinstance(header, dict):
        raise SignatureInvalid("malformed token: header is not a JSON object")
    alg = header.get("alg")
    if alg != ALG:
        raise SignatureInvalid(f"unsupported alg {alg!r}: only {ALG!r} is accepted")
    if "crit" in header:
        raise SignatureInvalid("unsupported crit header parameters")
    if not isinstance(header.get("kid"), str):
        raise SignatureInvalid("header has no kid")
    return header


def _find_key(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise SignatureInvalid("malformed JWKS: no 'keys' list")
    for jwk in keys:
        if isinstance(jwk, Mapping) and jwk.get("kid") == kid:
            return _usable_key(jwk, kid)
    raise SignatureInvalid(f"unknown kid {kid!r}")


def _usable_key(jwk: Mapping[str, Any], kid: str) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise SignatureInvalid(f"key {kid!r} is not an Ed25519 OKP key")
    if jwk.get("alg", ALG) != ALG or jwk.get("use", "sig") != "sig":
        raise SignatureInvalid(f"key {kid!r} is not for {ALG} signatures")
    x = jwk.get("x")
    raw = _b64d(x, "JWK x") if isinstance(x, str) else b""
    if len(raw) != 32:
        raise SignatureInvalid(f"key {kid!r} has a malformed 'x'")
    return Ed25519PublicKey.from_public_bytes(raw)


def _verify(header_b64: str, payload_b64: str, signature_b64: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    header = _parse_header(header_b64)
    signature = _b64d(signature_b64, "signature")
    key = _find_key(jwks, header["kid"])
    try:
        key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature as exc:
        raise SignatureInvalid("bad signature") from exc
    return header


def _split(token: object, form: str) -> list[str]:
    if not isinstance(token, str):
        raise SignatureInvalid(f"malformed token: a {form} JWS is a string")
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureInvalid(f"malformed token: a {form} JWS has three dot-separated parts")
    return parts


def verify_compact(token: str, jwks: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS against a JWK Set; return ``(protected header, payload bytes)``.

    `jwks` is the document published at ``/.well-known/jwks.json`` (see `receipts.load_jwks`).
    Raises `SignatureInvalid` (and nothing else) when the token is malformed, its ``alg`` is not
    "EdDSA", its ``kid`` is not in `jwks`, or the signature does not verify.
    """
    header_b64, payload_b64, signature_b64 = _split(token, "compact")
    payload = _b64d(payload_b64, "payload", canonical=False)
    return _verify(header_b64, payload_b64, signature_b64, jwks), payload


def verify_detached(signature: str, payload: bytes, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Verify a detached JWS ``header..signature`` over `payload` (e.g. a routed record's value).

    Returns the protected header. Raises `SignatureInvalid` as `verify_compact` does, and also when the
    signature carries an embedded payload.
    """
    header_b64, embedded, signature_b64 = _split(signature, "detached")
    if embedded:
        raise SignatureInvalid("malformed token: a detached JWS has an empty payload part")
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise SignatureInvalid("the payload of a detached JWS must be bytes")
    payload_b64 = _b64e(bytes(payload)).decode("ascii")
    return _verify(header_b64, payload_b64, signature_b64, jwks)
