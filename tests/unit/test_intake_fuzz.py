"""Properties of the fast path's intake (`gateway.intake`): rows in (a JSON array, or CSV records),
consignments out, whatever the rows.

Every row ends in exactly one consignment, accepted (canonical document bytes that the `hk.ecom.lvc`
pack accepts) or refused with problems located at its rows; nothing raises (a raise would be a 500
for `POST /v1/ecommerce/consignments`, or a failed batch job). Generated good rows are all accepted
and their documents validate; rows broken at random are refused at the broken row.
"""

from __future__ import annotations

import io
import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.batches.readers.csv_rows import read_csv
from gateway.batches.readers.records import RawRecord, ReaderLimits
from gateway.config import Settings
from gateway.documents.packs import discover_packs
from gateway.ecommerce.columns import COLUMNS
from gateway.ecommerce.generate import FileFormat, encode, generate_consignments
from gateway.ecommerce.policy import LvcPolicy
from gateway.intake import Assembled, from_csv_records, from_json_rows
from gateway.lodgements import LVC_DOCUMENT_TYPE

pytestmark = pytest.mark.timeout(180)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICY = LvcPolicy()


def _validator() -> Any:
    """The validator with the fast path's rules, as the gateway builds it."""
    from gateway.documents.rules import RULES
    from gateway.documents.validator import DocumentValidator
    from gateway.ecommerce.rules import LvcRules

    packs = discover_packs([Settings().builtin_packs_dir])
    return DocumentValidator(packs, rules={**RULES, LVC_DOCUMENT_TYPE: LvcRules(POLICY)})


VALIDATOR = _validator()
_text = st.text(max_size=30)
_cell = st.one_of(
    _text,
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.sampled_from(["", "0", "-1", "1e9", "NaN", "CN", "HK", "XX", "USD", "HKD", "61091000", "H87"]),
)


def _good_rows(seed: int, count: int) -> list[dict[str, str]]:
    return [row for c in generate_consignments(count, seed=seed) for row in c.rows]


def _check(assembled: list[Assembled], *, rows: int, csv: bool) -> None:
    """Each consignment is accepted (a document the pack accepts) or refused at its rows, and the rows
    are all accounted for, in order."""
    positions = [item.position for item, _ in assembled]
    assert positions == sorted(positions)
    for item, last in assembled:
        event("accepted" if item.document is not None else "refused")
        assert (item.document is None) == bool(item.problems), item
        assert item.position <= last
        if item.document is not None:
            assert VALIDATOR.validate(item.document, "json").document_type == LVC_DOCUMENT_TYPE
        for problem in item.problems:
            assert problem.code and problem.message
            row = int(problem.path.split("/")[1])
            assert item.position <= row <= last, (problem, item.position, last)
    if assembled and not csv:
        assert assembled[-1][1] == rows - 1


@FUZZ
@given(st.integers(0, 10**6), st.integers(1, 6))
def test_generated_rows_are_all_accepted_and_their_documents_validate(seed: int, count: int) -> None:
    rows = _good_rows(seed, count)
    assembled = list(from_json_rows(rows, policy=POLICY))
    assert len(assembled) == count and all(item.document for item, _ in assembled)
    _check(assembled, rows=len(rows), csv=False)


@FUZZ
@given(
    st.integers(0, 10**6),
    st.integers(1, 5),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from([*COLUMNS, "extra"]), _cell | st.just("delete")),
        min_size=1,
        max_size=5,
    ),
)
def test_rows_broken_anywhere_are_refused_at_their_row(
    seed: int, count: int, changes: list[tuple[int, str, object]]
) -> None:
    rows: list[Any] = _good_rows(seed, count)
    for pick, column, value in changes:
        row = rows[pick % len(rows)]
        if value == "delete":
            row.pop(column, None)
        else:
            row[column] = value
    _check(list(from_json_rows(rows, policy=POLICY)), rows=len(rows), csv=False)


@FUZZ
@given(
    st.lists(st.dictionaries(st.sampled_from([*COLUMNS, "x"]) | _text, _cell, max_size=8) | _cell, max_size=8)
)
def test_any_json_array_is_consignments_never_an_exception(rows: list[Any]) -> None:
    _check(list(from_json_rows(rows, policy=POLICY)), rows=len(rows), csv=False)


@FUZZ
@given(
    st.integers(0, 10**6),
    st.integers(1, 4),
    st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=6)), max_size=4),
)
def test_any_csv_is_consignments_never_an_exception(
    seed: int, count: int, damage: list[tuple[int, bytes]]
) -> None:
    """A generated CSV with bytes overwritten here and there: read, assembled, accounted for."""
    data = bytearray(b"".join(encode(generate_consignments(count, seed=seed), FileFormat.CSV)))
    header_end = data.index(b"\n") + 1
    for pick, junk in damage:
        at = header_end + pick % max(1, len(data) - header_end)
        data[at : at + len(junk)] = junk
    records: list[RawRecord] = list(read_csv(io.BytesIO(bytes(data)), columns=COLUMNS, limits=ReaderLimits()))
    _check(list(from_csv_records(records, policy=POLICY)), rows=len(records), csv=True)
    if not damage:
        assert len([r for r in records if r.row is not None]) == len(_good_rows(seed, count))


def test_json_rows_and_their_csv_give_the_same_documents() -> None:
    consignments = list(generate_consignments(20, seed=random.Random(7).randrange(10**6)))
    rows = [row for c in consignments for row in c.rows]
    records = list(
        read_csv(
            io.BytesIO(b"".join(encode(consignments, FileFormat.CSV))), columns=COLUMNS, limits=ReaderLimits()
        )
    )
    from_json = [orjson.loads(item.document or b"null") for item, _ in from_json_rows(rows, policy=POLICY)]
    from_csv = [
        orjson.loads(item.document or b"null") for item, _ in from_csv_records(records, policy=POLICY)
    ]
    assert from_json == from_csv and None not in from_json
