"""Any bytes at all, into any reader: records or `BatchFileError`, never another exception, always an end."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.batches.readers import BatchFileError, RawRecord, ReaderLimits, open_reader

COLUMNS = ("consignment_ref", "platform", "value")
LIMITS = ReaderLimits(max_line_bytes=300, max_field_bytes=40, max_entry_bytes=2_000, max_entries=20)
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that matter to the formats, mixed with anything.
_SPECIAL = st.sampled_from(
    [
        b'"',
        b",",
        b"\n",
        b"\r\n",
        b"\r",
        b'""',
        b"{",
        b"}",
        b"<",
        b">",
        b"\xff",
        b"\xc3",
        b"\xef\xbb\xbf",
        b"\x00",
    ]
)
_CHUNKS = st.lists(
    st.one_of(_SPECIAL, st.binary(max_size=12), st.sampled_from([b"x" * 200, b"y" * 500])), max_size=40
)


def _drain(kind: str, data: bytes, **kwargs: object) -> list[RawRecord]:
    records: list[RawRecord] = []
    try:
        with open_reader(kind, io.BytesIO(data), limits=LIMITS, **kwargs) as stream:  # type: ignore[arg-type]
            records.extend(stream)
    except BatchFileError as exc:
        assert exc.code.startswith("batch.") and exc.message
    for record in records:
        assert sum(part is not None for part in (record.body, record.row, record.error)) == 1
        assert record.position >= 1
    positions = [record.position for record in records]
    assert positions == sorted(set(positions))
    return records


@FUZZ
@given(st.binary(max_size=600), st.sampled_from(["jsonl", "bundle", "zip"]))
def test_arbitrary_bytes(data: bytes, kind: str) -> None:
    _drain(kind, data)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_as_csv(data: bytes) -> None:
    _drain("csv", data, csv_columns=COLUMNS)


@FUZZ
@given(_CHUNKS)
def test_csv_with_a_good_header_and_hostile_rows(chunks: list[bytes]) -> None:
    data = b"consignment_ref,platform,value\n" + b"".join(chunks)
    records = _drain("csv", data, csv_columns=COLUMNS)
    for record in records:
        if record.row is not None:
            assert list(record.row) == list(COLUMNS)


@FUZZ
@given(_CHUNKS, st.integers(0, 30))
def test_csv_and_jsonl_resume_yields_exactly_the_rest(chunks: list[bytes], start_after: int) -> None:
    data = b"consignment_ref,platform,value\n" + b"".join(chunks)
    for kind, kwargs in (("csv", {"csv_columns": COLUMNS}), ("jsonl", {})):
        try:
            full = list(open_reader(kind, io.BytesIO(data), limits=LIMITS, **kwargs))  # type: ignore[arg-type]
            rest = list(open_reader(kind, io.BytesIO(data), limits=LIMITS, start_after=start_after, **kwargs))  # type: ignore[arg-type]
        except BatchFileError:
            continue
        assert rest == [record for record in full if record.position > start_after]


@FUZZ
@given(_CHUNKS)
def test_jsonl_hostile_lines(chunks: list[bytes]) -> None:
    _drain("jsonl", b"".join(chunks))


_BUNDLE_PARTS = st.sampled_from(
    [
        b'<b:Document ref="r">',
        b"<b:Document>",
        b"</b:Document>",
        b"<A>",
        b"</A>",
        b"<A/>",
        b"text",
        b"<!-- c -->",
        b"<!DOCTYPE x>",
        b'<!ENTITY e "x">',
        b"&e;",
        b"&amp;",
        b"<![CDATA[<x>]]>",
        b"<?pi?>",
        b'<q:B xmlns:q="urn:q"/>',
        b"\xff",
        b"x" * 1500,
    ]
)


@FUZZ
@given(st.lists(_BUNDLE_PARTS, max_size=30), st.booleans())
def test_bundles_built_from_hostile_parts(parts: list[bytes], closed: bool) -> None:
    data = b'<b:Bundle xmlns:b="urn:hk:tsw:bundle:1">' + b"".join(parts) + (b"</b:Bundle>" if closed else b"")
    _drain("bundle", data)


def _archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.xml", b"<A>" + b"a" * 300 + b"</A>")
        archive.writestr("dir/", b"")
        archive.writestr("b.json", b'{"documentType": "x"}')
        archive.writestr("c.xml", b"<C/>", compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


ARCHIVE = _archive()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(ARCHIVE) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_zips_with_corrupted_bytes(changes: list[tuple[int, int]]) -> None:
    data = bytearray(ARCHIVE)
    for offset, value in changes:
        data[offset] = value
    _drain("zip", bytes(data))


@FUZZ
@given(st.integers(0, len(ARCHIVE)), st.binary(max_size=40))
def test_zips_cut_or_padded(cut: int, tail: bytes) -> None:
    _drain("zip", ARCHIVE[:cut] + tail)
