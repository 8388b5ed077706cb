"""Base64url without padding (RFC 7515 section 2), strict: one spelling per value."""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode", "encode"]


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(segment: str) -> bytes | None:
    """The bytes of canonical, unpadded base64url; None for anything else (padding, the standard
    alphabet, stray characters, unused trailing bits set)."""
    if "=" in segment or "+" in segment or "/" in segment or len(segment) % 4 == 1:
        return None
    try:
        padded = segment.encode("ascii") + b"=" * (-len(segment) % 4)
        data = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return None
    return data if encode(data) == segment else None
