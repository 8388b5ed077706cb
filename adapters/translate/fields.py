"""Forgiving access to a parsed document: a wrong type reads as "unknown" (None), never as a crash.

The gateway validated every routed document against its schema, so these only matter for documents
that reach an adapter some other way; the agency contract allows any summary field to be null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["country", "items", "obj", "text"]


def obj(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The object at `key`, or an empty one."""
    value = document.get(key)
    return value if isinstance(value, Mapping) else {}


def items(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The objects in the array at `key` (non-objects skipped), or none."""
    value = document.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def text(document: Mapping[str, Any], key: str) -> str | None:
    """The string at `key`, stripped; None when absent, blank or not a string."""
    value = document.get(key)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def country(document: Mapping[str, Any], key: str) -> str | None:
    """An ISO 3166-1 alpha-2 code at `key` (upper-cased), or None when it does not look like one."""
    value = text(document, key)
    if value is None or len(value) != 2 or not value.isalpha() or not value.isascii():
        return None
    return value.upper()
