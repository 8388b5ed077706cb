"""JSON Lines batch reader: one record per non-blank line, positions are physical lines."""

from __future__ import annotations

import gc
import io
from pathlib import Path

import pytest

from gateway.batches.readers import MEDIA_JSON, RawRecord, ReaderLimits, open_reader

LIMITS = ReaderLimits(max_line_bytes=64)
LONG = b'{"documentType": "hk.tdec", "padding": "' + b"x" * 80 + b'"}'

MIXED = b"".join(
    [
        b'\xef\xbb\xbf{"documentType": "hk.tdec", "n": 1}\n',  # 1: BOM tolerated
        b"\n",  # 2: blank
        b'  {"documentType": "hk.aci.road"}  \r\n',  # 3: CRLF, spaces trimmed
        b"[1, 2]\n",  # 4: an array
        b"42\n",  # 5: a scalar
        b'{"name": "caf\xe9"}\n',  # 6: Latin-1, not UTF-8
        LONG + b"\n",  # 7: over the line limit
        b" \t \n",  # 8: whitespace only
        b"{\n",  # 9: a pretty-printed document, first line
        b'  "documentType": "hk.tdec"\n',  # 10
        b"}\n",  # 11
        b"{not json at all}\n",  # 12: the validator's business, not the reader's
        '{"name": "陳大文"}'.encode(),  # 13: last line, no newline
    ]
)
EXPECTED = [
    (1, None),
    (3, None),
    (4, "batch.not_object"),
    (5, "batch.not_object"),
    (6, "batch.encoding"),
    (7, "batch.line_too_long"),
    (9, "batch.not_object"),
    (10, "batch.not_object"),
    (11, "batch.not_object"),
    (12, None),
    (13, None),
]


def _outline(records: list[RawRecord]) -> list[tuple[int, str | None]]:
    return [(r.position, r.error.code if r.error else None) for r in records]


def read(data: bytes, **kwargs: object) -> list[RawRecord]:
    return list(open_reader("jsonl", io.BytesIO(data), limits=LIMITS, **kwargs))  # type: ignore[arg-type]


def test_valid_and_invalid_lines_mixed_have_exact_positions_and_codes() -> None:
    records = read(MIXED)
    assert _outline(records) == EXPECTED
    bodies = {r.position: r.body for r in records if r.ok}
    assert bodies == {
        1: b'{"documentType": "hk.tdec", "n": 1}',
        3: b'{"documentType": "hk.aci.road"}',
        12: b"{not json at all}",
        13: '{"name": "陳大文"}'.encode(),
    }
    for record in records:
        assert record.media_type == MEDIA_JSON
        assert record.ref is None and record.row is None
        assert (record.body is None) == (record.error is not None)


def test_errors_say_which_line_and_why() -> None:
    errors = {r.position: r.error for r in read(MIXED) if r.error}
    assert errors[6].message == "line 6, byte 14: not valid UTF-8"
    assert errors[7].message == "line 7 is over 64 bytes"
    assert errors[4].path == "/"


@pytest.mark.parametrize("start_after", range(15))
def test_resume_after_any_position_yields_exactly_the_rest(start_after: int) -> None:
    full = read(MIXED)
    assert read(MIXED, start_after=start_after) == [r for r in full if r.position > start_after]


def test_an_overlong_line_without_newline_at_the_end_is_one_error() -> None:
    assert _outline(read(b'{"a": 1}\n' + LONG)) == [(1, None), (2, "batch.line_too_long")]


def test_a_very_long_line_is_never_held_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"a": "' + b"y" * 5_000_000 + b'"}\n{"b": 2}\n')
    records = list(open_reader("jsonl", path, limits=LIMITS))
    assert _outline(records) == [(1, "batch.line_too_long"), (2, None)]


def test_reads_a_path_and_closes_the_file_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(MIXED)
    stream = open_reader("jsonl", path, limits=LIMITS)
    first = next(stream)
    assert first.position == 1
    stream.close()
    stream.close()  # twice is fine
    with pytest.raises(StopIteration):
        next(stream)
    with open_reader("jsonl", str(path), limits=LIMITS) as records:
        assert _outline(list(records)) == EXPECTED


def test_a_file_object_is_read_from_where_it_stands_and_left_open() -> None:
    source = io.BytesIO(b'{"skipped": true}\n{"a": 1}\n')
    source.readline()
    records = list(open_reader("jsonl", source))
    assert [(r.position, r.body) for r in records] == [(1, b'{"a": 1}')]
    assert not source.closed


def test_an_unbuffered_file_is_buffered(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(MIXED)
    with path.open("rb", buffering=0) as raw:
        stream = open_reader("jsonl", raw, limits=LIMITS)
        assert _outline(list(stream)) == EXPECTED
        del stream
        gc.collect()
        assert not raw.closed


def test_empty_and_blank_files_have_no_records() -> None:
    assert read(b"") == []
    assert read(b"\n\n  \r\n") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "parquet"}, "unknown batch kind"),
        ({"kind": "csv"}, "csv_columns"),
        ({"kind": "jsonl", "start_after": -1}, "start_after"),
    ],
)
def test_programming_errors_are_value_errors(kwargs: dict[str, object], message: str) -> None:
    kind = kwargs.pop("kind")
    with pytest.raises(ValueError, match=message):
        open_reader(kind, io.BytesIO(b""), **kwargs)  # type: ignore[arg-type]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_ratio"):
        ReaderLimits(max_ratio=0)
