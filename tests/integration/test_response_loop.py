"""Agency answers on tsw.responses move a declaration through the state machine, once each."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from gateway.contracts.events import EventHeaders, encode_headers, rfc3339
from gateway.contracts.responses import RESPONSE_EVENT_TYPE, AgencyResponse, AgencyStatus, response_event_id
from gateway.contracts.topics import RESPONSES_TOPIC, route_topic
from tests.conftest import RunningGateway
from tests.examples import examples, wco_samples
from tests.kafka_helpers import consume_keys, headers_of, routed_event_ids


def agency_answer(
    declaration_id: str,
    agency: str,
    status: AgencyStatus,
    decision: str,
    *,
    in_reply_to: str,
    reference: str | None = None,
) -> tuple[str, AgencyResponse]:
    """An agency's answer to the routed event `in_reply_to`, and its `ce_id`, as an adapter makes them."""
    response = AgencyResponse(
        declaration_id=declaration_id,
        agency=agency,
        in_reply_to=in_reply_to,
        status=status,
        decision=decision,
        decided_at=rfc3339(datetime.now(UTC)),
        reference=reference,
    )
    return response_event_id(in_reply_to, status), response


async def answer(
    producer: AIOKafkaProducer,
    declaration_id: str,
    agency: str,
    status: AgencyStatus,
    decision: str,
    *,
    in_reply_to: str,
    reference: str | None = None,
) -> RecordMetadata:
    """Publish an agency answer to the routed event `in_reply_to`, as an adapter would."""
    event_id, response = agency_answer(
        declaration_id, agency, status, decision, in_reply_to=in_reply_to, reference=reference
    )
    headers = EventHeaders(
        id=event_id,
        source=f"urn:tsw:adapter:{agency}",
        type=RESPONSE_EVENT_TYPE,
        subject=declaration_id,
        time=response.decided_at,
        content_type="application/json",
    )
    return await producer.send_and_wait(
        RESPONSES_TOPIC, response.to_json(), key=declaration_id.encode(), headers=encode_headers(headers)
    )


async def responses_ready(running: RunningGateway) -> None:
    """The gateway's response consumer has joined its group (it reads only answers sent after that)."""
    assert running.gateway.messaging is not None
    async with asyncio.timeout(60):
        await running.gateway.messaging.responses.ready.wait()


async def view_when(
    running: RunningGateway, headers: dict[str, str], declaration_id: str, status: str
) -> dict:  # type: ignore[type-arg]
    async with asyncio.timeout(30):
        while True:
            body = (await running.http.get(f"/v1/declarations/{declaration_id}", headers=headers)).json()
            if body["status"] == status:
                return body  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)


async def test_answers_move_a_declaration_to_cleared_once(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("answered-trader")
    body = examples("hk.tdec", suffix=".json")[0].read_bytes()
    accepted = (
        await running.http.post(
            "/v1/declarations", content=body, headers={**trader, "Content-Type": "application/json"}
        )
    ).json()
    declaration_id = accepted["id"]
    await view_when(running, trader, declaration_id, "ROUTED")
    routed = await routed_event_ids(
        running.settings.kafka_bootstrap_servers, declaration_id, ["customs", "censtatd"]
    )

    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for _ in range(2):  # the second is a redelivery: same ce_id, applied once
            await answer(
                producer,
                declaration_id,
                "customs",
                AgencyStatus.CLEARED,
                "CLEARED",
                in_reply_to=routed["customs"],
                reference="CED0000000001",
            )
        under_review = await view_when(running, trader, declaration_id, "UNDER_REVIEW")
        assert under_review["agencies"]["customs"]["status"] == "CLEARED"
        assert under_review["agencies"]["customs"]["reference"] == "CED0000000001"
        assert under_review["agencies"]["censtatd"]["status"] == "ROUTED"

        await answer(
            producer,
            declaration_id,
            "censtatd",
            AgencyStatus.CLEARED,
            "ACKNOWLEDGED",
            in_reply_to=routed["censtatd"],
        )
        cleared = await view_when(running, trader, declaration_id, "CLEARED")
        # An answer after the end changes nothing: CLEARED is terminal.
        await answer(
            producer,
            declaration_id,
            "customs",
            AgencyStatus.REJECTED,
            "REJECTED",
            in_reply_to=routed["customs"],
        )
        # An agency the declaration was not routed to is refused too, as is an answer to no event.
        await answer(
            producer, declaration_id, "tid", AgencyStatus.REJECTED, "REFUSED", in_reply_to=routed["customs"]
        )
        await answer(producer, declaration_id, "tid", AgencyStatus.REJECTED, "REFUSED", in_reply_to="made-up")
        await asyncio.sleep(1.5)
    finally:
        await producer.stop()

    final = (await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)).json()
    assert final["status"] == "CLEARED"
    assert [entry["status"] for entry in final["history"]] == [
        "ACCEPTED",
        "ROUTED",
        "UNDER_REVIEW",
        "CLEARED",
    ]
    assert final == cleared
    assert "tid" not in final["agencies"]
    metrics = (await running.http.get("/metrics")).text
    assert 'tsw_agency_answers_total{outcome="duplicate"}' in metrics
    assert 'tsw_agency_answers_total{outcome="refused"}' in metrics


async def test_a_hold_or_a_rejection_is_final(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("held-trader")
    ids = []
    for document in examples("hk.aci.road", suffix=".json")[:2]:
        accepted = await running.http.post(
            "/v1/declarations",
            content=document.read_bytes(),
            headers={**trader, "Content-Type": "application/json"},
        )
        ids.append(accepted.json()["id"])
    routed = {}
    for declaration_id in ids:
        await view_when(running, trader, declaration_id, "ROUTED")
        routed[declaration_id] = await routed_event_ids(
            running.settings.kafka_bootstrap_servers, declaration_id, ["customs", "logistics"]
        )

    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        held, rejected = ids
        await answer(
            producer, held, "logistics", AgencyStatus.HELD, "HELD", in_reply_to=routed[held]["logistics"]
        )
        await answer(
            producer,
            rejected,
            "customs",
            AgencyStatus.REJECTED,
            "REJECTED",
            in_reply_to=routed[rejected]["customs"],
        )
        await answer(
            producer,
            rejected,
            "logistics",
            AgencyStatus.CLEARED,
            "RELEASED",
            in_reply_to=routed[rejected]["logistics"],
        )
        held_view = await view_when(running, trader, held, "HELD")
        rejected_view = await view_when(running, trader, rejected, "REJECTED")
    finally:
        await producer.stop()

    assert [e["status"] for e in held_view["history"]] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "HELD"]
    assert held_view["history"][-1]["detail"] == "logistics: HELD"
    assert [e["status"] for e in rejected_view["history"]][-1] == "REJECTED"


async def test_an_answer_that_overtakes_the_relays_bookkeeping(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agency answers before the relay recorded the publication: the answer confirms it."""
    workers = running.gateway.messaging
    assert workers is not None
    await workers.relay.stop()  # publish by hand, and "crash" before recording it
    trader = await running.add_client("overtaken-trader")
    valid, _ = wco_samples()
    accepted = (
        await running.http.post(
            "/v1/declarations",
            content=valid[0].read_bytes(),
            headers={**trader, "Content-Type": "application/xml"},
        )
    ).json()

    async def crash(*_args: object) -> None:
        raise RuntimeError("crashed before recording the publication")

    with monkeypatch.context() as patch:
        patch.setattr(workers.relay, "_mark_published", crash)
        with pytest.raises(RuntimeError):
            await workers.relay.publish_batch()
    [routed] = await consume_keys(
        running.settings.kafka_bootstrap_servers, route_topic("customs"), [accepted["id"]]
    )

    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await answer(
            producer,
            accepted["id"],
            "customs",
            AgencyStatus.CLEARED,
            "CLEARED",
            in_reply_to=headers_of(routed)["ce_id"],
        )
    finally:
        await producer.stop()
    cleared = await view_when(running, trader, accepted["id"], "CLEARED")
    assert await workers.relay.publish_batch() == 0  # the answer already confirmed the publication

    final = (await running.http.get(f"/v1/declarations/{accepted['id']}", headers=trader)).json()
    assert [e["status"] for e in cleared["history"]] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "CLEARED"]
    assert final["status"] == "CLEARED"
    assert final["history"] == cleared["history"]


async def test_answers_applied_together_see_the_ones_before_them(backend_gateway: RunningGateway) -> None:
    """One `apply_many` call holding both agencies' answers about one declaration, a redelivery among
    them, and an answer about another declaration: each judged as if applied one by one."""
    from gateway.answers import AnswerService

    running = backend_gateway
    trader = await running.add_client("batched-trader")
    body = examples("hk.tdec", suffix=".json")[0].read_bytes()
    ids = []
    for _ in range(2):
        response = await running.http.post(
            "/v1/declarations", content=body, headers={**trader, "Content-Type": "application/json"}
        )
        ids.append(response.json()["id"])
    for declaration_id in ids:
        await view_when(running, trader, declaration_id, "ROUTED")
    CLEARED = AgencyStatus.CLEARED
    first, second = [
        await routed_event_ids(running.settings.kafka_bootstrap_servers, i, ["customs", "censtatd"])
        for i in ids
    ]

    batch = [
        agency_answer(ids[0], "customs", CLEARED, "CLEARED", in_reply_to=first["customs"]),
        agency_answer(ids[0], "customs", CLEARED, "CLEARED", in_reply_to=first["customs"]),  # redelivered
        agency_answer(ids[1], "censtatd", CLEARED, "ACKNOWLEDGED", in_reply_to=second["censtatd"]),
        agency_answer(ids[0], "censtatd", CLEARED, "ACKNOWLEDGED", in_reply_to=first["censtatd"]),
        # not routed to tid
        agency_answer(ids[0], "tid", AgencyStatus.REJECTED, "REFUSED", in_reply_to=first["customs"]),
    ]
    outcomes = await AnswerService(running.gateway.uow_factory).apply_many(batch)

    assert outcomes == [
        "applied: ROUTED -> UNDER_REVIEW",
        "duplicate",
        "applied: ROUTED -> UNDER_REVIEW",
        "applied: UNDER_REVIEW -> CLEARED",
        f"refused: event {first['customs']} was routed to customs, not tid",
    ]
    done = (await running.http.get(f"/v1/declarations/{ids[0]}", headers=trader)).json()
    assert [e["status"] for e in done["history"]] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "CLEARED"]
    waiting = (await running.http.get(f"/v1/declarations/{ids[1]}", headers=trader)).json()
    assert waiting["status"] == "UNDER_REVIEW"
    assert waiting["agencies"]["censtatd"]["status"] == "CLEARED"
