"""Bulk events (many e-commerce consignments in one signed record) through the adapter: reading them,
refusing forged or malformed ones, one delivery and one bulk answer per event, redelivery answered
from the dedupe store, and consignments the agency cannot decide left out without sinking the rest."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import ConsumerRecord

from adapters.circuit import CircuitBreaker
from adapters.dedupe import DedupeStore
from adapters.delivery import AgencyClient
from adapters.errors import PoisonEvent
from adapters.handler import HandleResult, RecordHandler
from adapters.inbound import read_bulk, read_event
from adapters.jwks import JwksCache
from adapters.records import OutgoingRecord
from adapters.retry import Backoff
from gateway.contracts.agencies import Agency
from gateway.contracts.bulk import (
    BULK_EVENT_TYPE,
    BULK_RESPONSE_EVENT_TYPE,
    BulkResponse,
    bulk_response_event_id,
    bulk_value,
)
from gateway.contracts.events import EventHeaders, encode_headers, event_type
from tests.unit.test_adapter_ecom_translate import consignment

NOW = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
BUYER_ID = "HKID-REF-8c1f02"

Json = dict[str, Any]


# --------------------------------------------------------------------------- routed bulk events


def consignments(count: int, **changes: Any) -> list[tuple[str, bytes]]:
    return [(str(uuid.uuid4()), orjson.dumps(consignment(**changes))) for _ in range(count)]


def bulk_record(
    keys: Any,
    items: list[tuple[str, bytes]],
    *,
    bulk_id: str | None = None,
    value: bytes | None = None,
    subject: str | None = None,
    event_id: str | None = None,
    signature: str | None = "sign",
    topic: str = "tsw.route.customs",
) -> ConsumerRecord[bytes, bytes]:
    bulk_id = bulk_id or str(uuid.uuid4())
    value = value if value is not None else bulk_value(bulk_id, "hk.ecom.lvc", items)
    headers = EventHeaders(
        id=event_id or str(uuid.uuid4()),
        source="urn:tsw:gateway",
        type=BULK_EVENT_TYPE,
        subject=subject or bulk_id,
        time="2026-03-10T08:00:00.000000Z",
        content_type="application/json",
        signature=keys.sign_detached(value) if signature == "sign" else signature,
        document_type="hk.ecom.lvc",
    )
    return ConsumerRecord(
        topic=topic,
        partition=1,
        offset=42,
        timestamp=0,
        timestamp_type=0,
        key=bulk_id.encode(),
        value=value,
        checksum=None,
        serialized_key_size=len(bulk_id),
        serialized_value_size=len(value),
        headers=[*encode_headers(headers), ("tsw-consignment-count", str(len(items)).encode())],
    )


def headers(record: OutgoingRecord | ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in record.headers}


@pytest.fixture(scope="module")
def keys() -> Any:
    from gateway.documents.signing import GatewayKeys

    return GatewayKeys.ephemeral()


def test_a_bulk_event_is_read_with_its_consignments(keys: Any) -> None:
    items = consignments(3)
    record = bulk_record(keys, items, bulk_id="bulk-1")
    event = read_event(record)
    assert (event.bulk, event.declaration_id, event.action) == (True, "bulk-1", "submitted")
    assert event.document_type == "hk.ecom.lvc"
    bulk = read_bulk(event, record.value)
    assert bulk.bulk_id == "bulk-1" and bulk.document_type == "hk.ecom.lvc"
    assert [declaration_id for declaration_id, _ in bulk.consignments] == [d for d, _ in items]
    assert bulk.consignments[0][1]["buyer_id_ref"] == BUYER_ID


def test_single_events_are_not_bulk(keys: Any) -> None:
    record = bulk_record(keys, consignments(1))
    record.headers = [
        (name, event_type("amended").encode() if name == "ce_type" else value)
        for name, value in record.headers
    ]
    event = read_event(record)
    assert (event.bulk, event.action) == (False, "amended")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"bulk_id": "b", "consignments": [', "malformed bulk event: bulk value is not JSON"),
        (b'{"bulk_id": "b", "document_type": "hk.ecom.lvc"}', "with a `consignments` array"),
        (
            b'{"bulk_id": "b", "document_type": "hk.ecom.lvc", "consignments": [{"document": {}}]}',
            "consignments/0",
        ),
        (b'{"bulk_id": "b", "document_type": "hk.ecom.lvc", "consignments": []}', "no consignments"),
        (b'{"bulk_id": "other", "document_type": "hk.ecom.lvc", "consignments": []}', "is not ce_subject"),
        (b'{"bulk_id": "b", "document_type": "hk.tdec", "consignments": []}', "is not tsw-document-type"),
        (
            b'{"bulk_id": "b", "document_type": "hk.ecom.lvc", "consignments": ['
            b'{"declaration_id": "d", "document": {}}, {"declaration_id": "d", "document": {}}]}',
            "more than once",
        ),
    ],
)
def test_a_malformed_bulk_value_is_poison(keys: Any, value: bytes, reason: str) -> None:
    record = bulk_record(keys, [], bulk_id="b", value=value)
    with pytest.raises(PoisonEvent, match=reason):
        read_bulk(read_event(record), value)


def test_the_key_must_be_the_bulk_id(keys: Any) -> None:
    record = bulk_record(keys, consignments(1), bulk_id="bulk-1", subject="bulk-2")
    with pytest.raises(PoisonEvent, match="is not the bulk id 'bulk-2'"):
        read_event(record)


# --------------------------------------------------------------------------- the handler


@dataclass
class BulkAgency:
    """The contract's POST /v1/bulk-submissions (and /v1/submissions), idempotent, in memory."""

    decide: Callable[[str, Json], str] = lambda declaration_id, summary: "CLEARED"
    status: int = 200
    calls: list[str] = field(default_factory=list)  # request paths, in order
    bodies: dict[str, Json] = field(default_factory=dict)
    answers: dict[str, Json] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.status != 200:
            return httpx.Response(
                self.status, json={"title": "refused", "errors": [{"path": "/consignments"}]}
            )
        body = orjson.loads(request.content)
        submission_id = body["submission_id"]
        self.bodies.setdefault(submission_id, body)
        if request.url.path == "/v1/submissions":
            return httpx.Response(200, json={"submission_id": submission_id, "decision": "RELEASED"})
        answer = self.answers.setdefault(submission_id, self._answer(body))
        return httpx.Response(200, json=answer)

    def _answer(self, body: Json) -> Json:
        decisions = [
            {
                "declaration_id": item["declaration_id"],
                "decision": self.decide(item["declaration_id"], item["summary"]),
                "reference": f"CED{index:010d}",
                "reason": None,
                "detail": {"lane": "green"},
            }
            for index, item in enumerate(body["consignments"])
        ]
        return {"submission_id": body["submission_id"], "decisions": decisions}


@dataclass
class Rig:
    agency: BulkAgency
    store: DedupeStore
    published: list[OutgoingRecord]
    handler: Callable[[Agency], RecordHandler]


@pytest.fixture
async def rig(tmp_path: Path, keys: Any) -> AsyncIterator[Rig]:
    agency = BulkAgency()
    store = DedupeStore(tmp_path / "dedupe.sqlite3")
    await store.open()
    published: list[OutgoingRecord] = []
    backoff = Backoff(base_s=0.001, max_s=0.001)
    client = AgencyClient(
        "http://agency.test",
        agency="customs",
        backoff=backoff,
        breaker=CircuitBreaker(),
        transport=httpx.MockTransport(agency),
    )

    async def publish(records: Sequence[OutgoingRecord]) -> None:
        published.extend(records)

    async def wait(delay_s: float) -> None:
        return None

    def handler(which: Agency = Agency.CUSTOMS) -> RecordHandler:
        return RecordHandler(
            agency=which,
            source=f"urn:tsw:adapter:{which.value}",
            jwks=JwksCache("jwks", loader=lambda source: keys.jwks()),
            store=store,
            client=client,
            publish=publish,
            backoff=backoff,
            wait=wait,
            clock=lambda: NOW,
        )

    try:
        yield Rig(agency=agency, store=store, published=published, handler=handler)
    finally:
        await client.stop()
        await store.close()


async def test_a_bulk_is_delivered_in_one_call_and_answered_in_one_bulk_response(rig: Rig, keys: Any) -> None:
    items = consignments(250)
    record = bulk_record(keys, items)
    event = headers(record)
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.RESPONDED

    assert rig.agency.calls == ["/v1/bulk-submissions"]
    body = rig.agency.bodies[event["ce_id"]]
    assert body["document_type"] == "hk.ecom.lvc"
    assert [item["declaration_id"] for item in body["consignments"]] == [d for d, _ in items]
    assert body["consignments"][0]["summary"]["trader"]["id"] == BUYER_ID  # customs may see it

    (published,) = rig.published
    assert (published.topic, published.key) == ("tsw.responses", record.key)
    sent = headers(published)
    assert sent["ce_id"] == bulk_response_event_id(event["ce_id"])
    assert sent["ce_type"] == BULK_RESPONSE_EVENT_TYPE
    assert sent["ce_subject"] == event["ce_subject"]
    assert sent["ce_source"] == "urn:tsw:adapter:customs"
    assert sent["ce_time"] == "2026-03-10T08:30:00.000000Z"
    assert sent["tsw-document-type"] == "hk.ecom.lvc"
    assert sent["tsw-consignment-count"] == "250"
    assert published.value is not None
    response = BulkResponse.from_json(published.value)
    assert published.value == response.to_json()  # the contract's own serialization, byte for byte
    assert (response.bulk_id, response.agency, response.in_reply_to) == (
        event["ce_subject"],
        "customs",
        event["ce_id"],
    )
    assert [answer.declaration_id for answer in response.answers] == [d for d, _ in items]
    assert {(answer.status, answer.decision) for answer in response.answers} == {("CLEARED", "CLEARED")}
    assert response.answers[1].reference == "CED0000000001"
    assert response.answers[0].detail == {"lane": "green"}

    handled = await rig.store.get(event["ce_id"])
    assert handled is not None and handled.published and handled.record == published
    assert handled.declaration_id == event["ce_subject"]


async def test_logistics_is_not_sent_the_buyers_identity_reference(rig: Rig, keys: Any) -> None:
    rig.agency.decide = lambda declaration_id, summary: "RELEASED"
    record = bulk_record(keys, consignments(3), topic="tsw.route.logistics")
    assert await rig.handler(Agency.LOGISTICS).handle(record) is HandleResult.RESPONDED
    body = rig.agency.bodies[headers(record)["ce_id"]]
    assert BUYER_ID.encode() not in orjson.dumps(body)
    assert {item["summary"]["trader"]["id"] for item in body["consignments"]} == {None}
    response = BulkResponse.from_json(rig.published[0].value or b"")
    assert {answer.status for answer in response.answers} == {"CLEARED"}


async def test_a_redelivered_bulk_is_answered_from_the_dedupe_store(rig: Rig, keys: Any) -> None:
    record = bulk_record(keys, consignments(20))
    handler = rig.handler(Agency.CUSTOMS)
    await handler.handle(record)
    first = rig.published[0]
    # the adapter died after recording the outcome, before Kafka acknowledged it
    await rig.store._call(
        lambda: rig.store._db().execute("UPDATE handled_events SET published_at = NULL").rowcount
    )
    assert await handler.handle(record) is HandleResult.DUPLICATE
    assert rig.published == [first, first]  # the very same bulk answer, same ce_id
    assert await handler.handle(record) is HandleResult.DUPLICATE
    assert len(rig.published) == 2
    assert rig.agency.calls == ["/v1/bulk-submissions"]  # the agency was called once


@pytest.mark.parametrize(
    ("forge", "reason"),
    [("other-key", "unknown kid"), ("tampered", "bad signature"), ("missing", "no tsw-signature")],
)
async def test_a_bulk_with_a_bad_signature_is_dead_lettered_and_never_delivered(
    rig: Rig, keys: Any, forge: str, reason: str
) -> None:
    from gateway.documents.signing import GatewayKeys

    items = consignments(5)
    if forge == "other-key":
        record = bulk_record(GatewayKeys.ephemeral(), items)
    elif forge == "tampered":
        record = bulk_record(keys, items, signature=keys.sign_detached(b"{}"))
    else:
        record = bulk_record(keys, items, signature=None)
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.DEAD_LETTERED
    assert rig.agency.calls == []
    (dead,) = rig.published
    assert dead.topic == "tsw.dlq.customs"
    assert (dead.key, dead.value) == (record.key, record.value)
    sent = headers(dead)
    assert reason in sent["tsw-dlq-reason"] and "signature" in sent["tsw-dlq-reason"]
    assert sent["tsw-dlq-origin"] == "tsw.route.customs/1@42"
    assert await rig.store.get(headers(record)["ce_id"]) is None  # nothing about it is remembered


async def test_a_malformed_bulk_is_dead_lettered(rig: Rig, keys: Any) -> None:
    value = b'{"bulk_id": "b-9", "document_type": "hk.ecom.lvc", "consignments": [{"declaration_id": 1}]}'
    record = bulk_record(keys, [], bulk_id="b-9", value=value)
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.DEAD_LETTERED
    assert rig.agency.calls == []
    assert "consignments/0" in headers(rig.published[0])["tsw-dlq-reason"]
    handled = await rig.store.get(headers(record)["ce_id"])
    assert handled is not None and handled.outcome == "dead-letter"


async def test_a_bulk_whose_value_names_another_bulk_is_dead_lettered(rig: Rig, keys: Any) -> None:
    items = consignments(2)
    value = bulk_value("someone-elses-bulk", "hk.ecom.lvc", items)
    record = bulk_record(keys, items, bulk_id="bulk-7", value=value)  # signed, but about another bulk
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.DEAD_LETTERED
    assert "is not ce_subject 'bulk-7'" in headers(rig.published[0])["tsw-dlq-reason"]
    assert rig.agency.calls == []


async def test_an_undecidable_consignment_is_left_out_and_the_others_answered(
    rig: Rig, keys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    items = consignments(6)
    odd, unanswered = items[2][0], items[4][0]
    words = {odd: "MAYBE_LATER", unanswered: ""}  # an unknown word; no decision at all
    rig.agency.decide = lambda declaration_id, summary: words.get(declaration_id, "HELD_FOR_INSPECTION")
    caplog.set_level(logging.DEBUG)
    record = bulk_record(keys, items)
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.RESPONDED

    (published,) = rig.published
    response = BulkResponse.from_json(published.value or b"")
    expected = [d for d, _ in items if d not in words]
    assert [answer.declaration_id for answer in response.answers] == expected
    assert {answer.status for answer in response.answers} == {"HELD"}
    assert headers(published)["tsw-consignment-count"] == "4"
    left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(left_out) == 2
    assert any(odd in message and "'MAYBE_LATER'" in message for message in left_out)
    assert any(unanswered in message for message in left_out)


async def test_a_bulk_with_no_decidable_consignment_is_dead_lettered(rig: Rig, keys: Any) -> None:
    rig.agency.decide = lambda declaration_id, summary: "PERHAPS"
    record = bulk_record(keys, consignments(3))
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.DEAD_LETTERED
    assert "answered none of the 3 consignments" in headers(rig.published[0])["tsw-dlq-reason"]


async def test_an_untranslatable_consignment_is_not_sent_and_the_others_are(rig: Rig, keys: Any) -> None:
    items = consignments(3)
    stray = (str(uuid.uuid4()), orjson.dumps({"documentType": "hk.tdec"}))
    record = bulk_record(keys, [*items, stray])
    assert await rig.handler(Agency.CUSTOMS).handle(record) is HandleResult.RESPONDED
    body = rig.agency.bodies[headers(record)["ce_id"]]
    assert [item["declaration_id"] for item in body["consignments"]] == [d for d, _ in items]
    response = BulkResponse.from_json(rig.published[0].value or b"")
    assert len(response.answers) == 3


async def test_a_bulk_the_agency_refuses_is_dead_lettered_with_the_problem(rig: Rig, keys: Any) -> None:
    rig.agency.status = 422
    assert await rig.handler(Agency.CUSTOMS).handle(bulk_record(keys, consignments(2))) is (
        HandleResult.DEAD_LETTERED
    )
    reason = headers(rig.published[0])["tsw-dlq-reason"]
    assert "HTTP 422" in reason and "/consignments" in reason


async def test_the_buyers_identity_reference_never_reaches_the_logs(
    rig: Rig, keys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    words = iter(["CLEARED", "NONSENSE", "CLEARED"])
    rig.agency.decide = lambda declaration_id, summary: next(words)
    handler = rig.handler(Agency.CUSTOMS)
    await handler.handle(bulk_record(keys, consignments(3)))
    await handler.handle(bulk_record(keys, consignments(2), signature="forged"))
    rig.agency.status = 422
    await handler.handle(bulk_record(keys, consignments(2)))
    assert len(caplog.records) >= 3
    assert all(BUYER_ID not in record.getMessage() for record in caplog.records)


async def test_a_single_consignment_through_the_normal_path_is_translated(rig: Rig, keys: Any) -> None:
    document = orjson.dumps(consignment())
    declaration_id = str(uuid.uuid4())
    headers_ = EventHeaders(
        id=str(uuid.uuid4()),
        source="urn:tsw:gateway",
        type=event_type("submitted"),
        subject=declaration_id,
        time="2026-03-10T08:00:00.000000Z",
        content_type="application/json",
        signature=keys.sign_detached(document),
        document_type="hk.ecom.lvc",
    )
    record = ConsumerRecord(
        topic="tsw.route.logistics",
        partition=0,
        offset=1,
        timestamp=0,
        timestamp_type=0,
        key=declaration_id.encode(),
        value=document,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(document),
        headers=encode_headers(headers_),
    )
    assert await rig.handler(Agency.LOGISTICS).handle(record) is HandleResult.RESPONDED
    assert rig.agency.calls == ["/v1/submissions"]
    body = rig.agency.bodies[headers_.id]
    assert body["summary"]["kind"] == "import" and body["summary"]["lines"][0]["hs_code"] == "39269099"
    assert body["summary"]["trader"]["id"] is None  # logistics: no buyer identity, single path too
