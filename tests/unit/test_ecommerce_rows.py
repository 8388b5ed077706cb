"""`gateway.ecommerce.rows`: one row in, a typed `Row` or every problem of the row out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ecommerce.columns import COLUMN_SET, COLUMNS, CONSIGNMENT_COLUMNS, ITEM_COLUMNS
from gateway.ecommerce.rows import TEXT_LIMITS, Row, RowParser, RowProblems, parse_row

SECRET = "KYC-SECRET-4242"

GOOD: dict[str, str] = {
    "consignment_ref": "LVC-T-000001",
    "platform": "Taobao",
    "order_ref": "3817264095523418",
    "tracking_no": "SF1402837746519",
    "seller_name": "Guangzhou Yuexiu Meiyi Garment Trading Co., Ltd.",
    "seller_country": "CN",
    "buyer_name": "Chan Tai Man",
    "buyer_id_ref": SECRET,
    "consignee_address": "Flat 12B, 8/F, Block 3, Laguna City, Kwun Tong, Kowloon",
    "destination_country": "HK",
    "description": "Women's T-shirt, knitted cotton",
    "hs_code": "61091000",
    "quantity": "3",
    "unit": "H87",
    "value": "87.50",
    "currency": "CNY",
    "gross_weight_kg": "0.660",
    "origin_country": "CN",
    "transport_mode": "road",
}


def _problems(row: dict[str, Any], position: int = 7) -> list[tuple[str, str]]:
    parsed = parse_row(row, position)
    assert isinstance(parsed, RowProblems), parsed
    return [(problem.code, problem.path) for problem in parsed.problems]


def test_columns_split_into_consignment_and_item_level() -> None:
    assert len(COLUMNS) == 19 == len(COLUMN_SET)
    assert set(CONSIGNMENT_COLUMNS) | set(ITEM_COLUMNS) == COLUMN_SET
    assert not set(CONSIGNMENT_COLUMNS) & set(ITEM_COLUMNS)
    assert "currency" in CONSIGNMENT_COLUMNS


def test_a_good_row_becomes_a_typed_row_with_exact_decimals() -> None:
    row = parse_row({name: f"  {value} " for name, value in GOOD.items()}, 2)
    assert isinstance(row, Row)
    assert row.seller_country == "CN" and row.hs_code == "61091000" and row.buyer_id_ref == SECRET
    assert (row.quantity, row.value, row.gross_weight_kg) == (Decimal(3), Decimal("87.5"), Decimal("0.66"))
    assert (str(row.value), str(row.gross_weight_kg)) == ("87.50", "0.660")  # as written


def test_json_numbers_are_read_exactly() -> None:
    row = parse_row({**GOOD, "quantity": 2, "value": 19.99, "gross_weight_kg": 0.5}, 0)
    assert isinstance(row, Row)
    assert (row.quantity, row.value, row.gross_weight_kg) == (Decimal(2), Decimal("19.99"), Decimal("0.5"))


def test_row_is_frozen_and_slotted() -> None:
    row = parse_row(GOOD, 1)
    assert isinstance(row, Row)
    assert not hasattr(row, "__dict__")
    with pytest.raises(AttributeError):
        row.value = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("tracking_no", "", "lvc.required"),
        ("tracking_no", "   ", "lvc.required"),
        ("tracking_no", None, "lvc.required"),
        ("hs_code", 61091000, "lvc.type"),
        ("platform", ["Taobao"], "lvc.type"),
        ("value", True, "lvc.type"),
        ("value", {"amount": 1}, "lvc.type"),
        ("order_ref", "9" * 36, "lvc.too-long"),
        ("consignee_address", "x" * 257, "lvc.too-long"),
        ("hs_code", "6109", "lvc.hs-code"),
        ("hs_code", "610910001", "lvc.hs-code"),
        ("hs_code", "61.09.10", "lvc.hs-code"),
        ("hs_code", "77010000", "lvc.hs-code"),
        ("hs_code", "00010000", "lvc.hs-code"),
        ("hs_code", "98010000", "lvc.hs-code"),
        ("hs_code", "６１０９１０００", "lvc.hs-code"),  # full-width digits  # noqa: RUF001
        ("unit", "PCS", "lvc.unit"),
        ("unit", "h87", "lvc.unit"),
        ("currency", "RMB", "lvc.currency"),
        ("currency", "XAU", "lvc.currency"),
        ("seller_country", "UK", "lvc.country"),
        ("destination_country", "HKG", "lvc.country"),
        ("origin_country", "cn", "lvc.country"),
        ("transport_mode", "courier", "lvc.transport-mode"),
        ("transport_mode", "Air", "lvc.transport-mode"),
        ("value", "12,50", "lvc.number"),
        ("value", "1e3", "lvc.number"),
        ("value", ".5", "lvc.number"),
        ("value", "NaN", "lvc.number"),
        ("value", float("inf"), "lvc.number"),
        ("value", "1_000", "lvc.number"),
        ("value", "1234567890123", "lvc.number"),
        ("value", 10**20, "lvc.number"),
        ("quantity", "٣", "lvc.number"),  # Arabic-Indic three
        ("value", "0", "lvc.positive"),
        ("value", "0.00", "lvc.positive"),
        ("quantity", "-2", "lvc.positive"),
        ("gross_weight_kg", -0.5, "lvc.positive"),
        ("value", "12.345", "lvc.precision"),
        ("gross_weight_kg", "0.0005", "lvc.precision"),
        ("value", 1e-7, "lvc.precision"),
    ],
)
def test_each_problem_has_its_code_and_path(column: str, value: object, code: str) -> None:
    assert _problems({**GOOD, column: value}) == [(code, f"/7/{column}")]


def test_an_integer_too_long_to_print_is_a_bad_number() -> None:
    assert _problems({**GOOD, "value": 10**5000}) == [("lvc.number", "/7/value")]


def test_a_missing_column_is_required() -> None:
    row = {name: value for name, value in GOOD.items() if name != "buyer_id_ref"}
    assert _problems(row) == [("lvc.required", "/7/buyer_id_ref")]


def test_trailing_zeros_do_not_count_as_decimal_places() -> None:
    row = parse_row({**GOOD, "value": "87.5000", "quantity": "007"}, 1)
    assert isinstance(row, Row) and row.value == Decimal("87.5") and row.quantity == 7


def test_unknown_columns_are_named_with_an_escaped_pointer() -> None:
    assert _problems({**GOOD, "colour": "red", "a/b~c": "x"}, 3) == [
        ("lvc.unknown-column", "/3/colour"),
        ("lvc.unknown-column", "/3/a~1b~0c"),
    ]


def test_more_csv_cells_than_header_columns() -> None:
    row: dict[Any, Any] = {**GOOD, None: ["extra", "cells"]}
    assert _problems(row, 12) == [("lvc.unknown-column", "/12")]


def test_every_problem_of_a_row_is_listed_at_once() -> None:
    row = {**GOOD, "hs_code": "6109", "unit": "PCS", "value": "-1", "currency": "RMB", "platform": ""}
    assert _problems(row, 0) == [
        ("lvc.required", "/0/platform"),
        ("lvc.hs-code", "/0/hs_code"),
        ("lvc.unit", "/0/unit"),
        ("lvc.positive", "/0/value"),
        ("lvc.currency", "/0/currency"),
    ]


def test_refused_row_keeps_its_consignment_ref_for_grouping() -> None:
    parsed = parse_row({**GOOD, "unit": "PCS"}, 1)
    assert isinstance(parsed, RowProblems) and parsed.consignment_ref == GOOD["consignment_ref"]
    for bad_ref in ("", "x" * 36, None):
        parsed = parse_row({**GOOD, "consignment_ref": bad_ref}, 1)
        assert isinstance(parsed, RowProblems) and parsed.consignment_ref is None


def test_messages_quote_codes_shortened_and_never_text_values() -> None:
    parsed = parse_row({**GOOD, "unit": "X" * 500, "buyer_id_ref": SECRET * 10}, 1)
    assert isinstance(parsed, RowProblems)
    too_long, unit = parsed.problems
    assert len(unit.message) < 160 and "..." in unit.message
    assert too_long.code == "lvc.too-long" and SECRET not in too_long.message


def test_buyer_id_ref_never_in_a_repr_str_or_message() -> None:
    row = parse_row(GOOD, 1)
    assert SECRET not in repr(row) and SECRET not in str(row)
    for bad in ({"buyer_id_ref": "x" * 65}, {"buyer_id_ref": 12}, {"unit": "PCS"}):
        parsed = parse_row({**GOOD, **bad}, 1)
        assert isinstance(parsed, RowProblems)
        assert SECRET not in repr(parsed) and "x" * 65 not in repr(parsed)


def test_text_limits_cover_every_free_text_column() -> None:
    coded = {"seller_country", "destination_country", "origin_country", "hs_code", "unit", "currency"}
    coded |= {"transport_mode", "quantity", "value", "gross_weight_kg"}
    assert set(TEXT_LIMITS) == COLUMN_SET - coded


# ---- properties -----------------------------------------------------------------------------------

_values = st.one_of(
    st.text(max_size=40),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=2),
    st.binary(max_size=8),
    st.decimals(),
)
_keys = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=12))


def _check_outcome(parsed: Row | RowProblems, position: int) -> None:
    if isinstance(parsed, RowProblems):
        assert parsed.problems
        for problem in parsed.problems:
            assert problem.code.startswith("lvc.") and problem.message
            assert problem.path == f"/{position}" or problem.path.startswith(f"/{position}/")
    else:
        assert isinstance(parsed, Row) and parsed.value > 0 and parsed.quantity > 0


@settings(max_examples=400)
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=25), st.integers(0, 10**6))
def test_any_string_mapping_gives_a_row_or_problems_never_an_exception(
    row: dict[str, str], position: int
) -> None:
    _check_outcome(parse_row(row, position), position)


@settings(max_examples=400)
@given(st.dictionaries(_keys, _values, max_size=25))
def test_any_json_like_mapping_gives_a_row_or_problems(row: dict[str, Any]) -> None:
    _check_outcome(parse_row(row, 0), 0)


@settings(max_examples=400)
@given(st.sampled_from(COLUMNS), st.one_of(st.text(max_size=300), _values))
def test_one_column_changed_is_accepted_or_refused_at_that_column(column: str, value: object) -> None:
    parsed = parse_row({**GOOD, column: value}, 5)
    _check_outcome(parsed, 5)
    if isinstance(parsed, RowProblems):
        assert {problem.path for problem in parsed.problems} == {f"/5/{column}"}


# ---- the fast path agrees with the thorough one ---------------------------------------------------

PARSER = RowParser.shared()


def test_fields_are_in_column_order() -> None:
    assert tuple(Row.__dataclass_fields__) == COLUMNS


@pytest.mark.parametrize("column", sorted(TEXT_LIMITS))
def test_fast_path_length_limits_are_the_text_limits(column: str) -> None:
    limit = TEXT_LIMITS[column]
    assert PARSER._fast({**GOOD, column: "x" * limit}) is not None
    assert PARSER._fast({**GOOD, column: "x" * (limit + 1)}) is None


def test_good_csv_and_json_rows_take_the_fast_path() -> None:
    assert PARSER._fast(GOOD) is not None
    assert PARSER._fast({**GOOD, "value": 19.99, "quantity": 2}) is not None


def _same_outcome(row: dict[str, Any]) -> None:
    fast = PARSER._fast(row)
    thorough = PARSER._thorough(row, 1)
    if fast is not None:
        assert thorough == fast


_decimal_texts = st.one_of(
    st.from_regex(r"\A-?[0-9]{1,14}(\.[0-9]{1,5})?\Z"),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13),
    st.integers(-(10**14), 10**14),
)


@settings(max_examples=500)
@given(st.sampled_from(("quantity", "value", "gross_weight_kg")), _decimal_texts)
def test_fast_and_thorough_agree_on_decimals(column: str, value: object) -> None:
    _same_outcome({**GOOD, column: value})


@settings(max_examples=500)
@given(
    st.sampled_from(COLUMNS), st.one_of(st.text(max_size=300), st.from_regex(r"\A[0-9A-Z]{1,9}\Z"), _values)
)
def test_fast_and_thorough_agree_on_any_one_column(column: str, value: object) -> None:
    _same_outcome({**GOOD, column: value})
