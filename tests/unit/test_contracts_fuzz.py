"""Properties of the wire-contract parsers that read what other processes put on Kafka.

`decode_headers` (CloudEvents headers, read by the response consumer and every adapter),
`AgencyResponse.from_json` and `BulkResponse.from_json` (agency answers, read by the gateway) and
`parse_bulk_value` (bulk events, read by the adapters) take bytes from another process: whatever
arrives, they return a value of the declared types or raise `ValueError` (which their callers turn
into a skipped or dead-lettered record); never another exception, which would stop a consumer on the
same record forever. What they are given to write, they read back unchanged.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.contracts.bulk import BulkAnswer, BulkResponse, bulk_value, parse_bulk_value
from gateway.contracts.events import EventHeaders, decode_headers, encode_headers
from gateway.contracts.responses import AgencyResponse, AgencyStatus

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=300, deadline=None)

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)  # what `str.encode()` can write
_stored = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30
)  # and a database
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)
_HEADER_NAMES = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_subject",
    "ce_time",
    "content-type",
    "tsw-signature",
    "tsw-document-type",
    "tsw-declaration-version",
]
_RESPONSE_FIELDS = ["declaration_id", "agency", "in_reply_to", "status", "decision", "decided_at"]
_statuses = st.sampled_from(list(AgencyStatus))


def _value_or_wrong(sample: Any) -> st.SearchStrategy[Any]:
    """A field's plausible value, one with a NUL character, or any JSON value in its place."""
    return st.one_of(st.just(sample), st.just(f"{sample}\x00"), _text, _json)


# ---- CloudEvents headers


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_HEADER_NAMES) | _text, st.none() | st.binary(max_size=20) | _text.map(str.encode)
        ),
        max_size=14,
    )
)
@example(raw=[("ce_id", None)])  # a null header value once raised AttributeError
def test_any_headers_decode_or_raise_value_error(raw: list[tuple[str, bytes | None]]) -> None:
    try:
        headers = decode_headers(raw)  # type: ignore[arg-type]  # a null header value is what Kafka allows
    except ValueError:
        return
    assert all(isinstance(value, str) for value in (headers.id, headers.subject, headers.type, headers.time))
    assert headers.version is None or headers.version >= 0


@FUZZ
@given(
    st.builds(
        EventHeaders,
        id=_text,
        source=_text,
        type=_text,
        subject=_text,
        time=_text,
        content_type=_text,
        signature=st.none() | _text,
        document_type=st.none() | _text,
        version=st.none() | st.integers(0, 10**9),
    )
)
def test_headers_read_back_as_written(headers: EventHeaders) -> None:
    assert decode_headers(encode_headers(headers)) == headers


# ---- single agency answers


@FUZZ
@given(st.binary(max_size=300) | _json.map(orjson.dumps))
def test_any_bytes_are_an_agency_response_or_a_value_error(raw: bytes) -> None:
    with contextlib.suppress(ValueError):
        AgencyResponse.from_json(raw)


@FUZZ
@given(
    st.fixed_dictionaries(
        {
            **{name: _value_or_wrong("x") for name in _RESPONSE_FIELDS},
            "status": _value_or_wrong("CLEARED"),
        },
        optional={"reference": _value_or_wrong("HKCED-1"), "reason": _value_or_wrong("r"), "detail": _json},
    )
)
@example(data={**dict.fromkeys(_RESPONSE_FIELDS, "x"), "status": "HELD", "reference": []})  # was accepted
@example(data={**dict.fromkeys(_RESPONSE_FIELDS, "x"), "status": "HELD", "reason": "a\x00b"})  # was stored
def test_a_misshapen_agency_response_is_refused_never_half_typed(data: dict[str, Any]) -> None:
    try:
        response = AgencyResponse.from_json(orjson.dumps(data))
    except ValueError:
        return
    for name in _RESPONSE_FIELDS:
        assert isinstance(getattr(response, name), str), name
    assert isinstance(response.status, AgencyStatus)
    assert response.reference is None or isinstance(response.reference, str)
    assert response.reason is None or isinstance(response.reason, str)
    assert isinstance(response.detail, dict)
    _storable(
        response.declaration_id, response.agency, response.decision, response.reference, response.reason
    )


def _storable(*texts: str | None) -> None:
    """What is stored can be: PostgreSQL text holds no NUL character (an answer with one would be
    refused by the database at every redelivery)."""
    assert all("\x00" not in (text or "") for text in texts)


@FUZZ
@given(
    st.builds(
        AgencyResponse,
        declaration_id=_stored,
        agency=_stored,
        in_reply_to=_stored,
        status=_statuses,
        decision=_stored,
        decided_at=_stored,
        reference=st.none() | _stored,
        reason=st.none() | _stored,
        detail=st.dictionaries(_text, _json, max_size=3),
    )
)
def test_an_agency_response_reads_back_as_written(response: AgencyResponse) -> None:
    assert AgencyResponse.from_json(response.to_json()) == response


# ---- bulk answers and bulk events

_answers = st.builds(
    BulkAnswer,
    declaration_id=_stored,
    status=_statuses,
    decision=_stored,
    reference=st.none() | _stored,
    reason=st.none() | _stored,
    detail=st.dictionaries(_text, _json, max_size=3),
)


@FUZZ
@given(
    st.binary(max_size=300)
    | _json.map(orjson.dumps)
    | st.fixed_dictionaries(
        {name: _value_or_wrong("x") for name in ("bulk_id", "agency", "in_reply_to", "decided_at")},
        optional={
            "answers": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "declaration_id": _value_or_wrong("d"),
                        "status": _value_or_wrong("HELD"),
                        "decision": _value_or_wrong("HELD"),
                        "reference": _value_or_wrong("r"),
                        "reason": _value_or_wrong("r"),
                        "detail": _json,
                    },
                )
                | _json,
                max_size=4,
            )
        },
    ).map(orjson.dumps)
)
def test_any_bulk_response_is_read_whole_or_refused(raw: bytes) -> None:
    try:
        response = BulkResponse.from_json(raw)
    except ValueError:
        return
    _storable(response.bulk_id, response.agency)
    for answer in response.answers:
        assert isinstance(answer.declaration_id, str) and isinstance(answer.decision, str)
        assert isinstance(answer.status, AgencyStatus)
        assert answer.reference is None or isinstance(answer.reference, str)
        assert answer.reason is None or isinstance(answer.reason, str)
        _storable(answer.declaration_id, answer.decision, answer.reference, answer.reason)


@FUZZ
@given(
    st.builds(
        BulkResponse,
        bulk_id=_stored,
        agency=_stored,
        in_reply_to=_stored,
        decided_at=_stored,
        answers=st.lists(_answers, max_size=4).map(tuple),
    )
)
def test_a_bulk_response_reads_back_as_written(response: BulkResponse) -> None:
    assert BulkResponse.from_json(response.to_json()) == response


@FUZZ
@given(
    st.binary(max_size=300)
    | _json.map(orjson.dumps)
    | st.fixed_dictionaries(
        {"bulk_id": _value_or_wrong("b"), "document_type": _value_or_wrong("hk.ecom.lvc")},
        optional={"consignments": st.lists(_json, max_size=4)},
    ).map(orjson.dumps)
)
def test_any_bulk_value_is_read_whole_or_refused(raw: bytes) -> None:
    try:
        bulk_id, document_type, consignments = parse_bulk_value(raw)
    except ValueError:
        return
    assert isinstance(bulk_id, str) and isinstance(document_type, str)
    assert all(isinstance(i, str) and isinstance(d, dict) for i, d in consignments)


@FUZZ
@given(
    _text,
    _text,
    st.lists(st.tuples(_text, st.dictionaries(_text, _json, max_size=3)), max_size=5),
)
def test_a_bulk_value_reads_back_as_built(
    bulk_id: str, document_type: str, consignments: list[tuple[str, dict[str, Any]]]
) -> None:
    value = bulk_value(bulk_id, document_type, [(i, orjson.dumps(d)) for i, d in consignments])
    assert parse_bulk_value(value) == (bulk_id, document_type, consignments)
