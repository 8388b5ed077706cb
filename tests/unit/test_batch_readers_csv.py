"""CSV batch reader (hk.ecom.lvc rows): header checked at once, record-level errors located exactly."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.batches.readers import MEDIA_CSV, BatchFileError, RawRecord, ReaderLimits, open_reader
from gateway.ecommerce.columns import COLUMNS

HEADER = ",".join(COLUMNS).encode() + b"\n"
LIMITS = ReaderLimits(max_line_bytes=600, max_field_bytes=100)


def row(ref: str = "LVC-1", *, address: str = "Flat 3", description: str = "T-shirt") -> bytes:
    values = [
        ref, "Taobao", "ORD-1", "SF100", "Yuexiu Garment Co", "CN", "Chan Tai Man", "KYC-1",
        address, "HK", description, "61091000", "3", "PCE", "120.50", "HKD", "0.4", "CN", "road",
    ]  # fmt: skip
    return ",".join(values).encode() + b"\n"


def read(data: bytes, **kwargs: object) -> list[RawRecord]:
    return list(open_reader("csv", io.BytesIO(data), limits=LIMITS, csv_columns=COLUMNS, **kwargs))  # type: ignore[arg-type]


def outline(records: list[RawRecord]) -> list[tuple[int, str | None]]:
    return [(r.position, r.error.code if r.error else None) for r in records]


MIXED = b"".join(
    [
        b"\xef\xbb\xbf" + HEADER,  # 1: BOM tolerated
        row("LVC-1"),  # 2
        row("LVC-2", address='"Flat 3, 12 Nathan Road\nKowloon"').replace(b"\n", b"\r\n"),  # 3-4: quoted CRLF
        b"\n",  # 5: blank
        row("LVC-3", description='"5"" screen, ""quoted"""'),  # 6: escaped quotes
        b"LVC-4,Taobao,too,few\n",  # 7
        row("LVC-5", description="café").replace("café".encode(), b"caf\xe9"),  # 8: Latin-1
        row("LVC-6", description='"closed"after'),  # 9
        row("LVC-7", description="x" * 101),  # 10: a field over 100 bytes
        row("LVC-8", description="y" * 590),  # 11: a record over 600 bytes
        row("LVC-9", description='5" screen'),  # 12: a quote inside an unquoted field
        row("LVC-10", address='"multi\n\nline"'),  # 13-15: blank line inside quotes is content
        row("LVC-11", description="caf\u00e9 \u9673\u5927\u6587"),  # 16: UTF-8
        row("LVC-12", description='"' + "a" * 300 + "\n" + "b" * 300 + '"'),  # 17-18: over 600 bytes in all
        row("LVC-13"),  # 19
    ]
)
EXPECTED = [
    (2, None),
    (3, None),
    (6, None),
    (7, "batch.csv.field_count"),
    (8, "batch.encoding"),
    (9, "batch.csv.quote"),
    (10, "batch.csv.field_too_long"),
    (11, "batch.line_too_long"),
    (12, None),
    (13, None),
    (16, None),
    (17, "batch.line_too_long"),
    (19, None),
]


def test_valid_and_invalid_rows_mixed_have_exact_positions_and_codes() -> None:
    records = read(MIXED)
    assert outline(records) == EXPECTED
    rows = {r.position: r.row for r in records if r.row is not None}
    assert rows[2] == dict(zip(COLUMNS, row("LVC-1").decode().rstrip("\n").split(","), strict=True))
    assert rows[3]["consignee_address"] == "Flat 3, 12 Nathan Road\nKowloon"
    assert rows[3]["transport_mode"] == "road"
    assert rows[6]["description"] == '5" screen, "quoted"'
    assert rows[12]["description"] == '5" screen'
    assert rows[13]["consignee_address"] == "multi\n\nline"
    assert rows[16]["description"] == "café 陳大文"
    for record in records:
        assert record.media_type == MEDIA_CSV and record.body is None and record.ref is None
        assert (record.row is None) == (record.error is not None)


def test_errors_are_located() -> None:
    errors = {r.position: r.error for r in read(MIXED) if r.error}
    assert errors[7].message == "line 7: 4 field(s), the header has 19"
    assert (errors[8].path, errors[8].message) == (
        "/description",
        "line 8: column 'description' is not valid UTF-8",
    )
    assert errors[9].message.startswith("line 9, character ")
    assert (errors[10].path, errors[10].message) == (
        "/description",
        "line 10: column 'description' is over 100 bytes",
    )
    assert errors[11].message == "line 11 is over 600 bytes"
    assert errors[17].message == "the record starting on line 17 is over 600 bytes"


def test_rows_follow_the_callers_column_order_whatever_the_files() -> None:
    shuffled = list(reversed(COLUMNS))
    values = row("LVC-1").decode().rstrip("\n").split(",")
    data = ",".join(shuffled).encode() + b"\n" + ",".join(reversed(values)).encode() + b"\n"
    (record,) = read(data)
    assert record.row is not None
    assert list(record.row) == list(COLUMNS)
    assert record.row == dict(zip(COLUMNS, values, strict=True))


def test_header_names_are_trimmed_of_spaces() -> None:
    data = b" " + HEADER.replace(b",", b" , ") + row()
    assert outline(read(data)) == [(2, None)]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(b",hs_code", b""), "missing column(s) 'hs_code'"),
        (HEADER.replace(b"\n", b",colour\n"), "unknown column(s) 'colour'"),
        (HEADER.replace(b"\n", b",unit\n"), "duplicate column(s) 'unit'"),
        (HEADER.replace(b"platform", b"pl\xe4tform"), "not valid UTF-8"),
        (b'"consignment_ref,platform\n', "cannot be read"),
        (b"a," * 400 + b"\n", "cannot be read"),
    ],
)
def test_a_bad_header_refuses_the_file_before_any_record(header: bytes, message: str) -> None:
    with pytest.raises(BatchFileError) as caught:
        open_reader("csv", io.BytesIO(header + row()), limits=LIMITS, csv_columns=COLUMNS)
    assert caught.value.code == "batch.csv.header"
    assert message in str(caught.value)
    assert caught.value.problems[0].code == "batch.csv.header"


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n"])
def test_an_empty_file_has_no_header(data: bytes) -> None:
    with pytest.raises(BatchFileError, match="the file is empty: a header row naming the columns"):
        read(data)


def test_a_utf16_file_is_refused_at_the_header() -> None:
    data = (HEADER + row()).decode().encode("utf-16")
    with pytest.raises(BatchFileError, match="header"):
        read(data)


def test_an_unterminated_quote_at_the_end_names_the_line_it_opened_on() -> None:
    data = (
        HEADER
        + row("LVC-1")
        + row("LVC-2", address='"two\nlines"', description='"never\nclosed').rstrip(b"\n")
    )
    records = read(data)
    assert outline(records) == [(2, None), (3, "batch.csv.unterminated_quote")]
    assert records[1].error is not None
    assert (
        records[1].error.message == "the quoted field opened on line 4 is not closed at the end of the file"
    )


def test_an_unterminated_quote_in_a_big_file_is_one_error_not_a_huge_record() -> None:
    data = HEADER + row("LVC-1", address='"opens here') + row("LVC-2") * 50
    records = read(data)
    assert outline(records) == [(2, "batch.csv.unterminated_quote")]
    assert records[0].error is not None
    assert "opened on line 2" in records[0].error.message


def test_a_physical_line_over_the_limit_ends_its_record_and_reading_goes_on() -> None:
    data = HEADER + row("LVC-1", address='"opens ' + "z" * 700) + row("LVC-2")
    assert outline(read(data)) == [(2, "batch.line_too_long"), (3, None)]


def test_lines_without_a_final_newline_and_crlf_read_the_same() -> None:
    lf = HEADER + row("A") + row("B")
    crlf = lf.replace(b"\n", b"\r\n")
    assert read(lf) == read(crlf) == read(lf.rstrip(b"\n"))


@pytest.mark.parametrize("start_after", range(21))
def test_resume_after_any_line_yields_exactly_the_rest(start_after: int) -> None:
    full = read(MIXED)
    assert read(MIXED, start_after=start_after) == [r for r in full if r.position > start_after]


def test_resume_inside_a_multiline_record_does_not_split_it() -> None:
    data = HEADER + row("A", address='"l1\nl2 ""q"", x\nl3"') + row("B", address='"m1\n"')
    full = read(data)
    assert outline(full) == [(2, None), (5, None)]
    assert full[0].row is not None and full[0].row["consignee_address"] == 'l1\nl2 "q", x\nl3'
    for start_after in (2, 3, 4):
        assert outline(read(data, start_after=start_after)) == [(5, None)]
    for start_after in (5, 6, 7):
        assert read(data, start_after=start_after) == []


def test_reads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "lvc.csv"
    path.write_bytes(MIXED)
    assert outline(list(open_reader("csv", path, limits=LIMITS, csv_columns=COLUMNS))) == EXPECTED


@given(st.text(alphabet=st.sampled_from(['"', ",", "a", "b", " ", "é", "\r", "\t"]), max_size=40))
def test_the_fast_line_path_agrees_with_the_careful_one(line: str) -> None:
    from gateway.batches.readers.csv_rows import _LineParser, _Record, _scan

    fast = _LineParser().fields(line)
    if fast is None or line.count('"') % 2 or "\r" in line:
        return  # the careful path takes it
    careful = _Record(1, keep=True)
    _scan(careful, line, 1)
    assert not careful.in_quote and careful.problem is None
    assert fast == careful.fields
