"""Properties of what an agency adapter reads: routed records from Kafka (`adapters.inbound`), and its
agency back-end's answers over HTTP (`adapters.delivery`, `adapters.bulk_delivery`, `Retry-After`).

A routed record becomes a `RoutedEvent`/`RoutedBulk` or a `PoisonEvent` (dead-lettered with its
reason); a back-end answer becomes an answer, `BackendUnavailable` (retried) or `DeliveryRejected`
(dead-lettered). Nothing else: another exception would stop the adapter's partition on one record.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import ConsumerRecord
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adapters.bulk_delivery import BulkSubmission
from adapters.circuit import CircuitBreaker
from adapters.delivery import AgencyClient, Submission
from adapters.errors import BackendUnavailable, DeliveryRejected, PoisonEvent
from adapters.inbound import RoutedBulk, RoutedEvent, read_bulk, read_event
from adapters.retry import Backoff, parse_retry_after
from adapters.translate.summary import empty_summary
from gateway.contracts.bulk import BULK_EVENT_TYPE, bulk_value
from gateway.contracts.events import EventHeaders, encode_headers, event_type

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_text = st.text(max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=8,
)
_TYPES = st.sampled_from(
    [event_type(a) for a in ("submitted", "amended", "cancelled", "other")] + [BULK_EVENT_TYPE]
)
_header_values = st.none() | st.binary(max_size=12) | (_TYPES | _text).map(str.encode)
_headers = st.lists(
    st.tuples(
        st.sampled_from(["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time"])
        | st.sampled_from(["content-type", "tsw-signature", "tsw-document-type", "tsw-declaration-version"])
        | _text,
        _header_values,
    ),
    max_size=12,
)


def _record(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]]
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="tsw.route.customs",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=headers,
    )


def _event(type_: str, subject: str) -> list[tuple[str, bytes]]:
    return encode_headers(
        EventHeaders(
            id="e1", source="urn:tsw:gateway", type=type_, subject=subject, time="t", content_type="x"
        )
    )


# ---- routed records


@FUZZ
@given(_headers, st.none() | st.binary(max_size=10), st.booleans())
def test_any_record_is_an_event_or_poison(
    headers: list[tuple[str, bytes | None]], key: bytes | None, valid: bool
) -> None:
    if valid:  # a complete set of headers, with the fuzzed ones after (they win)
        headers = [*_event(event_type(), "d1"), *headers]
    try:
        event = read_event(_record(key, b"", headers))
    except PoisonEvent:
        return
    assert isinstance(event, RoutedEvent) and event.id and event.declaration_id


@FUZZ
@given(
    st.binary(max_size=200)
    | _json.map(orjson.dumps)
    | st.fixed_dictionaries(
        {
            "bulk_id": st.sampled_from(["b1", "b2"]) | _json,
            "document_type": st.sampled_from(["hk.ecom.lvc"]) | _json,
        },
        optional={
            "consignments": st.lists(
                st.fixed_dictionaries({"declaration_id": st.sampled_from(["c1", "c2"]), "document": _json})
                | _json,
                max_size=3,
            )
        },
    ).map(orjson.dumps)
)
def test_any_bulk_value_is_consignments_or_poison(value: bytes) -> None:
    event = read_event(_record(b"b1", value, _event(BULK_EVENT_TYPE, "b1")))
    try:
        bulk = read_bulk(event, value)
    except PoisonEvent:
        return
    assert bulk.bulk_id == "b1" and bulk.consignments
    assert len({i for i, _ in bulk.consignments}) == len(bulk.consignments)


@FUZZ
@given(
    st.lists(
        st.tuples(st.uuids().map(str), st.dictionaries(_text, _json, max_size=3)),
        min_size=1,
        max_size=4,
        unique_by=lambda c: c[0],
    )
)
def test_a_bulk_value_as_the_gateway_builds_it_is_read_back(
    consignments: list[tuple[str, dict[str, Any]]],
) -> None:
    value = bulk_value("b1", "hk.ecom.lvc", [(i, orjson.dumps(d)) for i, d in consignments])
    event = read_event(_record(b"b1", value, _event(BULK_EVENT_TYPE, "b1")))
    assert read_bulk(event, value) == RoutedBulk(
        bulk_id="b1", document_type="hk.ecom.lvc", consignments=consignments
    )


# ---- back-end answers

_STATUSES = st.sampled_from([200, 201, 204, 301, 400, 404, 409, 422, 429, 500, 502, 503]) | st.integers(
    100, 599
)
_bodies = (
    st.binary(max_size=80)
    | _json.map(orjson.dumps)
    | st.fixed_dictionaries(
        {},
        optional={
            "submission_id": st.sampled_from(["s1", "other"]) | _json,
            "decision": st.sampled_from(["CLEARED", ""]) | _json,
            "decisions": st.lists(
                st.fixed_dictionaries(
                    {}, optional={"declaration_id": _json, "decision": _json, "detail": _json}
                )
                | _json,
                max_size=3,
            ),
            "reference": _json,
            "reason": _json,
            "detail": _json,
            "title": _json,
            "errors": _json,
        },
    ).map(orjson.dumps)
)


def _client(status: int, body: bytes, headers: dict[str, str]) -> AgencyClient:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return AgencyClient(
        "http://agency.test",
        agency="customs",
        backoff=Backoff(),
        breaker=CircuitBreaker(),
        transport=httpx.MockTransport(handler),
    )


async def _deliver(client: AgencyClient, *, bulk: bool) -> object:
    try:
        if bulk:
            return await client.submit_bulk_once(
                BulkSubmission("s1", "hk.ecom.lvc", [("c1", empty_summary())])
            )
        return await client.submit_once(Submission("s1", "d1", "submitted", "hk.tdec", empty_summary()))
    finally:
        await client.stop()


@FUZZ
@given(
    _STATUSES,
    _bodies,
    st.dictionaries(
        st.sampled_from(["Retry-After", "Content-Type"]),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    ),
    st.booleans(),
)
def test_any_backend_answer_is_an_answer_a_retry_or_a_rejection(
    status: int, body: bytes, headers: dict[str, str], bulk: bool
) -> None:
    try:
        answer = asyncio.run(_deliver(_client(status, body, headers), bulk=bulk))
    except BackendUnavailable as exc:
        assert status >= 500 or status in (408, 429)
        assert exc.retry_after_s is None or exc.retry_after_s >= 0
        return
    except DeliveryRejected:
        return
    assert 200 <= status < 300, answer


@FUZZ
@given(
    st.none()
    | st.text(max_size=40)
    | st.integers(0, 10**400).map(str)
    | st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT"))
)
@example("²")  # found by Hypothesis: a digit to str.isdigit() that float() refuses
def test_any_retry_after_is_a_wait_or_nothing(value: str | None) -> None:
    wait = parse_retry_after(value)
    assert wait is None or wait >= 0
    assert 0 <= Backoff().delay_s(3, retry_after_s=wait) <= Backoff().retry_after_max_s
