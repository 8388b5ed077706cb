"""Which reader an upload needs: from its Content-Type, else its first bytes, else its file name.

Decisions:
It answers None for anything that is not one of the four formats, so the API can answer 415.

- A specific Content-Type decides: ``application/x-ndjson``, ``application/jsonl``,
  ``application/x-jsonlines`` and ``application/json-lines`` are JSON Lines; ``text/csv`` and
  ``application/csv`` CSV; ``application/xml``, ``text/xml`` and any ``+xml`` an XML bundle;
  ``application/zip`` and ``application/x-zip-compressed`` a ZIP. A CSV or JSON Lines upload that
  names a charset other than UTF-8 (or its subset US-ASCII) is None: the readers read UTF-8 only.
- A Content-Type that says nothing (none, ``application/octet-stream``, ``text/plain``) leaves it to
  the first bytes: a ZIP signature; else, after a UTF-8 BOM and whitespace, ``<`` is a bundle and
  ``{`` JSON Lines. CSV has no signature, so then the file name's extension decides (``.csv``,
  ``.jsonl``/``.ndjson``, ``.xml``, ``.zip``).
- Any other Content-Type, or nothing recognisable, is None.
"""

from __future__ import annotations

from gateway.batches.readers.records import BatchKind

__all__ = ["sniff_kind"]

_BY_MEDIA_TYPE: dict[str, BatchKind] = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/json-lines": "jsonl",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/xml": "bundle",
    "text/xml": "bundle",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
}
_SAYS_NOTHING = frozenset({"", "application/octet-stream", "binary/octet-stream", "text/plain"})
_BY_SUFFIX: dict[str, BatchKind] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "bundle",
    ".zip": "zip",
}
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_BOM = b"\xef\xbb\xbf"
_TEXT_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})


def sniff_kind(content_type: str | None, first_bytes: bytes, filename: str | None = None) -> BatchKind | None:
    """The batch format of an upload (its Content-Type, first bytes, file name), or None."""
    media_type, charset = _parse_content_type(content_type or "")
    kind = _BY_MEDIA_TYPE.get(media_type) or ("bundle" if media_type.endswith("+xml") else None)
    if kind is None and media_type not in _SAYS_NOTHING:
        return None
    kind = kind or _by_magic(first_bytes) or _by_suffix(filename)
    if kind in ("csv", "jsonl") and charset is not None and charset not in _TEXT_CHARSETS:
        return None
    return kind


def _parse_content_type(header: str) -> tuple[str, str | None]:
    media_type, *parameters = header.split(";")
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.strip().lower(), charset


def _by_magic(first_bytes: bytes) -> BatchKind | None:
    if first_bytes.startswith(_ZIP_SIGNATURES):
        return "zip"
    text = first_bytes.removeprefix(_BOM).lstrip(b" \t\r\n")
    if text.startswith(b"<"):
        return "bundle"
    if text.startswith(b"{"):
        return "jsonl"
    return None


def _by_suffix(filename: str | None) -> BatchKind | None:
    name = (filename or "").lower()
    return next((kind for suffix, kind in _BY_SUFFIX.items() if name.endswith(suffix)), None)
