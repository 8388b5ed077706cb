"""Picking the batch reader from the Content-Type, else the first bytes, else the file name."""

from __future__ import annotations

import pytest

from gateway.batches.readers import sniff_kind


@pytest.mark.parametrize(
    ("content_type", "first_bytes", "filename", "expected"),
    [
        ("application/x-ndjson", b"", None, "jsonl"),
        ("application/jsonl; charset=utf-8", b"", None, "jsonl"),
        ("Application/X-JSONLines", b"", None, "jsonl"),
        ("text/csv", b"PK\x03\x04", None, "csv"),  # a specific Content-Type decides
        ("text/csv; charset=US-ASCII", b"", None, "csv"),
        ("application/csv", b"", None, "csv"),
        ("application/xml", b"", None, "bundle"),
        ("text/xml; charset=iso-8859-1", b"", None, "bundle"),  # XML declares its own encoding
        ("application/vnd.tsw.bundle+xml", b"", None, "bundle"),
        ("application/zip", b"", None, "zip"),
        ("application/x-zip-compressed", b"", None, "zip"),
        (None, b"PK\x03\x04\x14\x00", None, "zip"),
        ("application/octet-stream", b"PK\x05\x06", None, "zip"),
        ("", b"\xef\xbb\xbf  <?xml version='1.0'?><Bundle/>", None, "bundle"),
        ("text/plain", b'\n{"documentType": "hk.tdec"}\n', None, "jsonl"),
        (None, b"consignment_ref,platform\n", "lvc.CSV", "csv"),
        (None, b"anything", "batch.ndjson", "jsonl"),
        (None, b"anything", "batch.jsonl", "jsonl"),
        (None, b"", "b.xml", "bundle"),
        (None, b"", "b.zip", "zip"),
    ],
)
def test_known_formats(
    content_type: str | None, first_bytes: bytes, filename: str | None, expected: str
) -> None:
    assert sniff_kind(content_type, first_bytes, filename) == expected


@pytest.mark.parametrize(
    ("content_type", "first_bytes", "filename"),
    [
        ("image/png", b"\x89PNG", "x.csv"),  # a Content-Type that names another format
        ("application/json", b"[{}]", None),  # one JSON document: POST /v1/declarations
        ("text/csv; charset=utf-16", b"", None),
        ("application/x-ndjson; charset=windows-1252", b"", None),
        (None, b"consignment_ref,platform\n", None),  # CSV has no signature
        (None, b"", None),
        (None, b"\x1f\x8b\x08", "batch.gz"),
    ],
)
def test_anything_else_is_none(content_type: str | None, first_bytes: bytes, filename: str | None) -> None:
    assert sniff_kind(content_type, first_bytes, filename) is None
