"""Signed receipts: what a trader gets back at once for every accepted declaration.

A receipt is a compact JWS (RFC 7515, alg "EdDSA", the gateway key's ``kid`` in the header, ``typ``
``tsw-receipt+jws``) whose payload is a JSON object with at least:

- ``declaration_id``, ``document_type``, ``trader``;
- ``digest``: ``"sha256:" + hex`` of the exact request body (`body_digest`);
- ``received_at``: RFC 3339 UTC with microseconds and a ``Z`` (``2025-01-02T03:04:05.000000Z``).

Keys are sorted, so the same facts always give the same bytes. Anyone holding the body and the
gateway's JWKS (``/.well-known/jwks.json``, see `load_jwks`) can check a receipt with
`verify_receipt`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.documents.signing import GatewayKeys, verify_compact
from gateway.errors import ServiceUnavailable, SignatureInvalid

__all__ = [
    "RECEIPT_TYP",
    "REQUIRED_FIELDS",
    "body_digest",
    "build_receipt_payload",
    "issue_receipt",
    "load_jwks",
    "verify_receipt",
]

#: The ``typ`` header of a receipt JWS (RFC 8725 explicit typing).
RECEIPT_TYP = "tsw-receipt+jws"
#: Payload fields every receipt carries; `extra` may add others but never replace these.
REQUIRED_FIELDS = ("declaration_id", "document_type", "digest", "received_at", "trader")

_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_MAX_JWKS_BYTES = 1024 * 1024


def body_digest(body: bytes) -> str:
    """``"sha256:" + hex`` of the exact request body bytes."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _rfc3339_utc(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_receipt_payload(
    *,
    declaration_id: str,
    document_type: str,
    digest: str,
    received_at: datetime,
    trader: str,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The receipt's JSON payload (orjson, sorted keys). `ValueError` on a malformed digest, a naive
    `received_at`, or `extra` naming a required field."""
    if not _DIGEST_RE.fullmatch(digest):
        raise ValueError(f"digest must be 'sha256:' + 64 lowercase hex digits, got {digest!r}")
    clash = sorted(set(extra or ()) & set(REQUIRED_FIELDS))
    if clash:
        raise ValueError(f"extra may not replace receipt fields: {clash}")
    payload = {
        **(extra or {}),
        "declaration_id": declaration_id,
        "document_type": document_type,
        "digest": digest,
        "received_at": _rfc3339_utc(received_at),
        "trader": trader,
    }
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def issue_receipt(
    keys: GatewayKeys,
    *,
    declaration_id: str,
    document_type: str,
    body: bytes,
    received_at: datetime,
    trader: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Build and sign a receipt for `body` with the active key (``typ`` `RECEIPT_TYP`)."""
    payload = build_receipt_payload(
        declaration_id=declaration_id,
        document_type=document_type,
        digest=body_digest(body),
        received_at=received_at,
        trader=trader,
        extra=extra,
    )
    return keys.sign_compact(payload, typ=RECEIPT_TYP)


def _parse_payload(raw: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SignatureInvalid("receipt payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise SignatureInvalid("receipt payload is not a JSON object")
    missing = [name for name in REQUIRED_FIELDS if not isinstance(payload.get(name), str)]
    if missing:
        raise SignatureInvalid(f"receipt payload lacks {missing}")
    return payload


def verify_receipt(receipt: str, jwks: Mapping[str, Any], *, body: bytes | None = None) -> dict[str, Any]:
    """Verify a receipt against the gateway's JWKS and return its payload.

    With `body` (the exact bytes that were submitted) also check the receipt's digest. A ``typ``
    header other than `RECEIPT_TYP` is refused; a missing one is tolerated. Raises only
    `SignatureInvalid`: bad or foreign signature, unknown kid, malformed payload, "digest mismatch".
    """
    header, raw = verify_compact(receipt, jwks)
    if header.get("typ", RECEIPT_TYP) != RECEIPT_TYP:
        raise SignatureInvalid(f"not a receipt: typ {header.get('typ')!r}")
    payload = _parse_payload(raw)
    if body is not None and not hmac.compare_digest(payload["digest"], body_digest(body)):
        raise SignatureInvalid("digest mismatch")
    return payload


def _fetch(url: str, timeout_s: float) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=timeout_s, headers={"Accept": "application/json"}) as resp:
            if resp.status_code != 200:
                raise ServiceUnavailable(f"JWKS {url} answered HTTP {resp.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > _MAX_JWKS_BYTES:
                    raise SignatureInvalid(f"JWKS {url} is larger than {_MAX_JWKS_BYTES} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"cannot fetch JWKS {url}: {exc}") from exc
    return b"".join(chunks)


def load_jwks(source: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """Read a JWK Set from an ``http(s)://`` URL or a file path.

    Raises `ServiceUnavailable` when the URL cannot be fetched (network error, non-200 answer),
    `SignatureInvalid` when the content is not a JWK Set; file errors (`OSError`) pass through as they are.
    Redirects are not followed: give the final URL.
    """
    if source.startswith(("http://", "https://")):
        raw = _fetch(source, timeout_s)
    else:
        raw = Path(source).read_bytes()
    try:
        jwks = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SignatureInvalid(f"JWKS {source} is not JSON") from exc
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise SignatureInvalid(f"JWKS {source} has no 'keys' list")
    return jwks
