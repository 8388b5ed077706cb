"""`gateway.ecommerce.consignments`: adjacent rows -> consignments, consistency and the threshold."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from gateway.ecommerce.consignments import ConsignmentAssembler, ConsignmentResult, assemble
from gateway.ecommerce.policy import LvcPolicy
from gateway.ecommerce.rows import parse_row
from tests.unit.test_ecommerce_rows import GOOD, SECRET


def _row(ref: str = "C1", **changes: Any) -> dict[str, Any]:
    return {**GOOD, "consignment_ref": ref, **changes}


def _assemble(rows: list[dict[str, Any]], policy: LvcPolicy | None = None) -> list[ConsignmentResult]:
    """Rows as CSV lines 2, 3, ... (line 1 is the header)."""
    return list(assemble(((line, parse_row(row, line)) for line, row in enumerate(rows, 2)), policy))


def _codes(result: ConsignmentResult) -> list[tuple[str, str]]:
    return [(problem.code, problem.path) for problem in result.problems]


def test_adjacent_rows_with_one_ref_form_one_consignment() -> None:
    results = _assemble([_row("C1"), _row("C1", description="Jeans", value="100"), _row("C2")])
    assert [(r.consignment_ref, r.first_position, r.last_position, r.row_count) for r in results] == [
        ("C1", 2, 3, 2),
        ("C2", 4, 4, 1),
    ]
    first = results[0].consignment
    assert first is not None and results[0].accepted and results[0].problems == ()
    assert [row.description for row in first.rows] == [GOOD["description"], "Jeans"]
    assert first.total_value == Decimal("187.5") and first.currency == "CNY"


def test_a_ref_that_reappears_later_is_a_new_consignment_with_the_same_ref() -> None:
    """Documented choice: not merged, not flagged here; the store refuses the duplicate reference."""
    results = _assemble([_row("C1"), _row("C2"), _row("C1")])
    assert [(r.consignment_ref, r.first_position, r.accepted) for r in results] == [
        ("C1", 2, True),
        ("C2", 3, True),
        ("C1", 4, True),
    ]


def test_rows_stream_through_one_consignment_at_a_time() -> None:
    consumed: list[int] = []

    def rows() -> Iterator[tuple[int, Any]]:
        for line in range(2, 1_000_000):
            consumed.append(line)
            yield line, parse_row(_row(f"C{line // 2}"), line)

    results = assemble(rows())
    first = next(results)
    assert (first.first_position, first.last_position) == (2, 3)
    assert consumed[-1] == 4  # the first row of the next consignment closed it; nothing more was read


def test_push_api_returns_each_consignment_when_the_next_starts() -> None:
    assembler = ConsignmentAssembler()
    assert assembler.add(0, parse_row(_row("A"), 0)) is None
    assert assembler.add(1, parse_row(_row("A"), 1)) is None
    closed = assembler.add(2, parse_row(_row("B"), 2))
    assert closed is not None and closed.consignment_ref == "A" and closed.row_count == 2
    last = assembler.finish()
    assert last is not None and last.consignment_ref == "B"
    assert assembler.finish() is None
    assert list(assemble([])) == []


def test_disagreeing_consignment_columns_are_inconsistent_at_the_disagreeing_row() -> None:
    results = _assemble(
        [_row(), _row(seller_country="HK", buyer_id_ref="OTHER-REF"), _row(), _row(currency="HKD")]
    )
    assert len(results) == 1 and not results[0].accepted and results[0].consignment is None
    assert _codes(results[0]) == [
        ("lvc.inconsistent", "/3/seller_country"),
        ("lvc.inconsistent", "/3/buyer_id_ref"),
        ("lvc.inconsistent", "/5/currency"),
    ]
    assert all("first row (/2)" in problem.message for problem in results[0].problems)


def test_one_bad_row_refuses_its_whole_consignment_with_every_problem() -> None:
    results = _assemble([_row(), _row(unit="PCS"), _row(hs_code="6109", value="x"), _row("C2")])
    assert [r.accepted for r in results] == [False, True]
    assert _codes(results[0]) == [
        ("lvc.unit", "/3/unit"),
        ("lvc.hs-code", "/4/hs_code"),
        ("lvc.number", "/4/value"),
    ]
    assert (results[0].first_position, results[0].last_position, results[0].row_count) == (2, 4, 3)


def test_a_row_without_a_usable_ref_stands_alone() -> None:
    results = _assemble([_row("C1"), _row(""), _row(""), _row("C1")])
    assert [(r.consignment_ref, r.first_position, r.accepted) for r in results] == [
        ("C1", 2, True),
        (None, 3, False),
        (None, 4, False),
        ("C1", 5, True),
    ]
    assert _codes(results[1]) == [("lvc.required", "/3/consignment_ref")]


@pytest.mark.parametrize(
    ("currency", "value", "over"),
    [
        ("HKD", "5000", False),  # exactly the threshold is still low-value
        ("HKD", "5000.01", True),
        ("USD", "641.02", False),  # 4,999.956 HKD at 7.8
        ("USD", "641.03", True),  # 5,000.034 HKD
        ("CNY", "4629.62", False),
        ("CNY", "4629.63", True),
        ("JPY", "96153", False),
        ("JPY", "96154", True),
    ],
)
def test_threshold_in_hkd_with_the_rate_table(currency: str, value: str, over: bool) -> None:
    [result] = _assemble([_row(currency=currency, value=value)])
    assert result.accepted is not over
    if over:
        [problem] = result.problems
        assert (problem.code, problem.path) == ("lvc.threshold", "/2")
        assert "hk.tdec" in problem.message and "HK$5,000" in problem.message


def test_threshold_sums_every_item() -> None:
    [result] = _assemble([_row(currency="HKD", value="2000") for _ in range(3)])
    assert _codes(result) == [("lvc.threshold", "/2")]
    assert "6,000.00 HKD" in result.problems[0].message and "at least" not in result.problems[0].message


def test_the_threshold_is_checked_with_the_other_problems_of_the_consignment() -> None:
    rows = [_row(currency="HKD", value="6000"), _row(currency="HKD", unit="PCS", value="100")]
    [result] = _assemble(rows)
    assert _codes(result) == [("lvc.unit", "/3/unit"), ("lvc.threshold", "/2")]
    assert "6,100.00 HKD" in result.problems[1].message and "at least" not in result.problems[1].message
    [result] = _assemble([_row(currency="HKD", value="9000", seller_country="UK")])
    assert _codes(result) == [("lvc.country", "/2/seller_country"), ("lvc.threshold", "/2")]


def test_an_unreadable_value_makes_the_total_a_lower_bound() -> None:
    [result] = _assemble([_row(currency="HKD", value="9000"), _row(currency="HKD", value="x")])
    assert _codes(result) == [("lvc.number", "/3/value"), ("lvc.threshold", "/2")]
    assert "at least 9,000.00 HKD" in result.problems[1].message


def test_threshold_and_rates_are_configurable() -> None:
    policy = LvcPolicy(threshold_hkd=Decimal(1000), rates_to_hkd={"HKD": Decimal(1), "EUR": Decimal("8.5")})
    [accepted, refused, no_rate] = _assemble(
        [_row("A", currency="EUR", value="117.64"), _row("B", currency="EUR", value="117.65"), _row("C")],
        policy,
    )
    assert accepted.accepted and not refused.accepted
    assert "HK$1,000" in refused.problems[0].message and "(HK$1,000.02)" in refused.problems[0].message
    assert _codes(no_rate) == [("lvc.currency-rate", "/4/currency")]


def test_a_currency_without_a_rate_is_refused() -> None:
    [result] = _assemble([_row(currency="THB")])
    assert _codes(result) == [("lvc.currency-rate", "/2/currency")]


def test_too_many_items_is_refused_and_memory_stays_bounded() -> None:
    policy = LvcPolicy(max_items_per_consignment=3, threshold_hkd=Decimal(10**9))
    [result, after] = _assemble([*[_row("BIG", value="1") for _ in range(10)], _row("NEXT")], policy)
    assert _codes(result) == [("lvc.too-many-items", "/5")]
    assert (result.row_count, result.last_position, after.first_position) == (10, 11, 12)


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate"):
        LvcPolicy(rates_to_hkd={"USD": Decimal(0)})
    with pytest.raises(ValueError, match="threshold"):
        LvcPolicy(threshold_hkd=Decimal("NaN"))
    with pytest.raises(ValueError, match="max_items"):
        LvcPolicy(max_items_per_consignment=0)
    rates = {"HKD": Decimal(1)}
    policy = LvcPolicy(rates_to_hkd=rates)
    rates["USD"] = Decimal(8)
    assert "USD" not in policy.rates_to_hkd  # a private copy


def test_buyer_id_ref_is_in_no_repr_or_message_of_a_result() -> None:
    rows = [_row(), _row(buyer_id_ref=SECRET + "-2"), _row("OK"), _row("BIG", currency="HKD", value="9999")]
    results = _assemble(rows)
    text = repr(results) + str(results) + "".join(p.message for r in results for p in r.problems)
    assert SECRET not in text
    assert results[1].consignment is not None and results[1].consignment.rows[0].buyer_id_ref == SECRET
