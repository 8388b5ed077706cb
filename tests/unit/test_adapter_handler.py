"""One routed record through the handler, with an in-memory agency and JWKS and a real dedupe store:
signature checks before anything else, poison to the dead-letter topic, redelivery without a second
agency call, and the exact response record."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
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
from adapters.errors import StoreUnavailable
from adapters.handler import HandleResult, RecordHandler
from adapters.jwks import JwksCache
from adapters.records import OutgoingRecord
from adapters.retry import Backoff
from gateway.contracts.agencies import Agency
from gateway.contracts.events import EventHeaders, encode_headers, event_type
from gateway.contracts.responses import RESPONSE_EVENT_TYPE, AgencyResponse, response_event_id
from tests.examples import examples

NOW = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
TDEC_XML = examples("hk.tdec", suffix="import-electronics-cn-sea.xml")[0].read_bytes()


@dataclass
class Agency_:
    """The contract's POST /v1/submissions, idempotent by submission_id, in memory."""

    decision: str = "CLEARED"
    status: int = 200
    deliveries: dict[str, int] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if self.status != 200:
            return httpx.Response(self.status, json={"title": "refused", "errors": [{"path": "/summary"}]})
        submission_id = body["submission_id"]
        self.deliveries[submission_id] = self.deliveries.get(submission_id, 0) + 1
        self.bodies[submission_id] = body
        return httpx.Response(
            200,
            json={
                "submission_id": submission_id,
                "decision": self.decision,
                "reference": f"REF-{submission_id[:8]}",
                "reason": None,
                "detail": {"checked": True},
            },
        )


@dataclass
class Rig:
    keys: Any
    agency: Agency_
    store: DedupeStore
    published: list[OutgoingRecord]
    handler: RecordHandler


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig_for(tmp_path, Agency_()) as made:
        yield made


@contextlib.asynccontextmanager
async def rig_for(tmp_path: Path, agency: Agency_, *, backend: Any = None) -> AsyncIterator[Rig]:
    """A handler with a real dedupe store; `backend` (default `agency`) answers its HTTP calls."""
    from gateway.documents.signing import GatewayKeys

    keys = GatewayKeys.ephemeral()
    store = DedupeStore(tmp_path / "dedupe.sqlite3")
    await store.open()
    published: list[OutgoingRecord] = []
    backoff = Backoff(base_s=0.001, max_s=0.001)
    client = AgencyClient(
        "http://customs.test",
        agency="customs",
        backoff=backoff,
        breaker=CircuitBreaker(),
        transport=httpx.MockTransport(backend or agency),
    )

    async def publish(records: Sequence[OutgoingRecord]) -> None:
        published.extend(records)

    async def wait(delay_s: float) -> None:
        return None

    handler = RecordHandler(
        agency=Agency.CUSTOMS,
        source="urn:tsw:adapter:customs",
        jwks=JwksCache("jwks", loader=lambda source: keys.jwks()),
        store=store,
        client=client,
        publish=publish,
        backoff=backoff,
        wait=wait,
        clock=lambda: NOW,
    )
    try:
        yield Rig(keys=keys, agency=agency, store=store, published=published, handler=handler)
    finally:
        await client.stop()
        await store.close()


def routed(
    keys: Any,
    value: bytes = TDEC_XML,
    *,
    event_id: str | None = None,
    declaration_id: str | None = None,
    action: str = "submitted",
    content_type: str = "application/xml",
    document_type: str | None = "hk.tdec",
    signature: str | None = "sign",
    offset: int = 7,
) -> ConsumerRecord[bytes, bytes]:
    declaration_id = declaration_id or str(uuid.uuid4())
    headers = EventHeaders(
        id=event_id or str(uuid.uuid4()),
        source="urn:tsw:gateway",
        type=event_type(action),
        subject=declaration_id,
        time="2026-03-10T08:00:00.000000Z",
        content_type=content_type,
        signature=keys.sign_detached(value) if signature == "sign" else signature,
        document_type=document_type,
    )
    return ConsumerRecord(
        topic="tsw.route.customs",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=declaration_id.encode(),
        value=value,
        checksum=None,
        serialized_key_size=len(declaration_id),
        serialized_value_size=len(value),
        headers=encode_headers(headers),
    )


def headers(record: OutgoingRecord) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in record.headers}


async def test_a_declaration_is_delivered_and_answered(rig: Rig) -> None:
    record = routed(rig.keys)
    assert await rig.handler.handle(record) is HandleResult.RESPONDED
    event = headers_of(record)
    assert rig.agency.deliveries == {event["ce_id"]: 1}
    body = rig.agency.bodies[event["ce_id"]]
    assert body["declaration_id"] == event["ce_subject"]
    assert body["action"] == "submitted"
    assert body["document_type"] == "hk.tdec"
    assert body["summary"]["kind"] == "import"

    (published,) = rig.published
    assert published.topic == "tsw.responses"
    assert published.key == record.key
    sent = headers(published)
    assert sent["ce_id"] == response_event_id(event["ce_id"], "CLEARED")
    assert sent["ce_type"] == RESPONSE_EVENT_TYPE
    assert sent["ce_source"] == "urn:tsw:adapter:customs"
    assert sent["ce_subject"] == event["ce_subject"]
    assert sent["ce_specversion"] == "1.0"
    assert sent["ce_time"] == "2026-03-10T08:30:00.000000Z"
    assert sent["content-type"] == "application/json"
    assert published.value is not None
    response = AgencyResponse.from_json(published.value)
    assert response.status == "CLEARED"
    assert response.decision == "CLEARED"
    assert response.in_reply_to == event["ce_id"]
    assert response.agency == "customs"
    assert response.reference == f"REF-{event['ce_id'][:8]}"
    assert response.detail == {"checked": True}

    handled = await rig.store.get(event["ce_id"])
    assert handled is not None and handled.published and handled.record == published


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in record.headers}


async def test_a_redelivered_event_is_answered_again_without_calling_the_agency(rig: Rig) -> None:
    record = routed(rig.keys)
    await rig.handler.handle(record)
    first = rig.published[0]
    # the adapter died after recording, before Kafka acknowledged: the outcome is not marked published
    await rig.store._call(
        lambda: rig.store._db().execute("UPDATE handled_events SET published_at = NULL").rowcount
    )
    assert await rig.handler.handle(record) is HandleResult.DUPLICATE
    assert rig.published == [first, first]  # the very same record, same response ce_id
    # once marked, a further redelivery publishes nothing
    assert await rig.handler.handle(record) is HandleResult.DUPLICATE
    assert len(rig.published) == 2
    assert sum(rig.agency.deliveries.values()) == 1


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        ("other-key", "unknown kid"),
        ("tampered", "bad signature"),
        ("missing", "no tsw-signature"),
        ("garbage", "malformed"),
    ],
)
async def test_a_forged_signature_is_dead_lettered_and_never_delivered(
    rig: Rig, forge: str, reason: str
) -> None:
    from gateway.documents.signing import GatewayKeys

    if forge == "other-key":
        record = routed(GatewayKeys.ephemeral())
    elif forge == "tampered":
        record = routed(rig.keys, signature=rig.keys.sign_detached(TDEC_XML.replace(b"500", b"5")))
    elif forge == "missing":
        record = routed(rig.keys, signature=None)
    else:
        record = routed(rig.keys, signature="not-a-jws")
    assert await rig.handler.handle(record) is HandleResult.DEAD_LETTERED
    assert rig.agency.deliveries == {}
    (dead,) = rig.published
    assert dead.topic == "tsw.dlq.customs"
    assert (dead.key, dead.value) == (record.key, record.value)
    sent = headers(dead)
    assert reason in sent["tsw-dlq-reason"]
    assert sent["tsw-dlq-at"] == "2026-03-10T08:30:00.000000Z"
    assert sent["tsw-dlq-origin"] == "tsw.route.customs/0@7"
    assert {k: v for k, v in sent.items() if not k.startswith("tsw-dlq-")} == headers_of(record)
    # nothing about a forged event is remembered: its ce_id might be a real event's
    assert await rig.store.get(headers_of(record)["ce_id"]) is None


async def test_poison_documents_are_dead_lettered(rig: Rig) -> None:
    record = routed(rig.keys, b"<TradeDeclaration xmlns='urn:hk:tsw:tdec:1'>")
    assert await rig.handler.handle(record) is HandleResult.DEAD_LETTERED
    assert rig.agency.deliveries == {}
    assert "well-formed" in headers(rig.published[0])["tsw-dlq-reason"]
    handled = await rig.store.get(headers_of(record)["ce_id"])
    assert handled is not None and handled.outcome == "dead-letter"


async def test_a_422_from_the_agency_is_dead_lettered_with_the_problem(rig: Rig) -> None:
    rig.agency.status = 422
    assert await rig.handler.handle(routed(rig.keys)) is HandleResult.DEAD_LETTERED
    reason = headers(rig.published[0])["tsw-dlq-reason"]
    assert "HTTP 422" in reason and "/summary" in reason


async def test_an_unmapped_decision_is_dead_lettered(rig: Rig) -> None:
    rig.agency.decision = "MAYBE"
    assert await rig.handler.handle(routed(rig.keys)) is HandleResult.DEAD_LETTERED
    assert "'MAYBE'" in headers(rig.published[0])["tsw-dlq-reason"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ce_type": b"hk.tsw.declaration.exploded.v1"}, "unsupported event type"),
        ({"ce_id": None}, "missing CloudEvents headers: ce_id"),
        ({"ce_subject": b"someone-else"}, "is not the declaration id"),
        ({"ce_source": b"\xff\xfe"}, "undecodable"),
    ],
)
async def test_broken_envelopes_are_dead_lettered(
    rig: Rig, change: dict[str, bytes | None], reason: str
) -> None:
    record = routed(rig.keys)
    kept = [(name, value) for name, value in record.headers if name not in change]
    record.headers = kept + [(name, value) for name, value in change.items() if value is not None]
    assert await rig.handler.handle(record) is HandleResult.DEAD_LETTERED
    assert reason in headers(rig.published[0])["tsw-dlq-reason"]
    assert rig.agency.deliveries == {}


async def test_actions_come_from_the_event_type(rig: Rig) -> None:
    amended = routed(rig.keys, action="amended")
    cancelled = routed(
        rig.keys, b'{"reason": "withdrawn"}', action="cancelled", content_type="application/json"
    )
    rig.agency.decision = "CANCELLATION_ACKNOWLEDGED"
    assert await rig.handler.handle(amended) is HandleResult.RESPONDED
    assert await rig.handler.handle(cancelled) is HandleResult.RESPONDED
    assert rig.agency.bodies[headers_of(amended)["ce_id"]]["action"] == "amended"
    body = rig.agency.bodies[headers_of(cancelled)["ce_id"]]
    assert body["action"] == "cancelled"
    assert body["summary"]["kind"] == "unknown"  # a cancellation's body need not be a document
    assert AgencyResponse.from_json(rig.published[-1].value or b"").status == "CANCELLED"


async def test_store_failures_are_retried_not_skipped(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    failures = 2
    real_get_many = rig.store.get_many

    async def flaky_get_many(event_ids: Sequence[str]) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise StoreUnavailable("disk busy")
        return await real_get_many(event_ids)

    monkeypatch.setattr(rig.store, "get_many", flaky_get_many)
    assert await rig.handler.handle(routed(rig.keys)) is HandleResult.RESPONDED
    assert failures == 0


async def test_a_batch_delivers_declarations_concurrently_and_each_declaration_in_order(
    tmp_path: Path,
) -> None:
    """Declaration A's first delivery is held until B's arrives: a handler delivering one record at a
    time would never let B through (the timeout fails the test). A's amendment waits for A's original."""
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    seen: list[tuple[str, str]] = []
    b_arrived = asyncio.Event()

    async def agency(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        seen.append((body["declaration_id"], body["action"]))
        if body["declaration_id"] == b:
            b_arrived.set()
        elif body["action"] == "submitted":
            await b_arrived.wait()
        return httpx.Response(
            200, json={"submission_id": body["submission_id"], "decision": "CLEARED", "reference": "R"}
        )

    async with rig_for(tmp_path, Agency_(), backend=agency) as made:
        a_first = routed(made.keys, declaration_id=a, offset=1)
        batch = [
            a_first,
            routed(made.keys, declaration_id=a, action="amended", offset=2),
            routed(made.keys, declaration_id=b, offset=3),
            a_first,  # the same event again in one batch: handled once
        ]
        async with asyncio.timeout(10):
            results = await made.handler.handle_batch(batch)

    assert results == [HandleResult.RESPONDED] * 3 + [HandleResult.DUPLICATE]
    assert seen.index((a, "submitted")) < seen.index((a, "amended"))
    assert seen.index((b, "submitted")) < seen.index((a, "amended"))
    assert len(seen) == 3
    # one response per distinct event, published in the batch's order
    assert [AgencyResponse.from_json(r.value or b"").in_reply_to for r in made.published] == [
        headers_of(record)["ce_id"] for record in batch[:3]
    ]
