"""Deterministic reference numbers: the same key always gets the same reference.

An agency's reference for a declaration is derived from the declaration id (SHA-256, reduced to a
fixed number of decimal digits), so an amendment or a redelivery carries the same reference and a
test can predict it.
"""

from __future__ import annotations

import hashlib

__all__ = ["digits_for", "hex_for"]


def digits_for(key: str, *, length: int = 10) -> str:
    """`length` decimal digits derived from `key` (zero-padded)."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big")
    return str(number % 10**length).zfill(length)


def hex_for(key: str) -> str:
    """32 lowercase hex digits derived from `key`, in the shape of a WCO FunctionalReferenceID."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]
