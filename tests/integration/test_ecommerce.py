"""The e-commerce fast path: consignments answered one by one, lodged, routed in signed bulk events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer

from gateway.contracts.bulk import (
    BULK_EVENT_TYPE,
    BULK_RESPONSE_EVENT_TYPE,
    CONSIGNMENT_COUNT_HEADER,
    BulkAnswer,
    BulkResponse,
    bulk_response_event_id,
    parse_bulk_value,
)
from gateway.contracts.events import EventHeaders, encode_headers, rfc3339
from gateway.contracts.responses import AgencyStatus
from gateway.contracts.topics import RESPONSES_TOPIC, route_topic
from gateway.documents.receipts import verify_receipt
from gateway.documents.signing import verify_detached
from gateway.ecommerce.generate import FileFormat, encode, generate_consignments
from tests.conftest import RunningGateway
from tests.integration.test_response_loop import responses_ready, view_when
from tests.kafka_helpers import consume_keys, headers_of

URL = "/v1/ecommerce/consignments"


def rows_of(count: int, *, invalid_rate: float, seed: int) -> tuple[list[dict[str, str]], int]:
    """JSON rows of `count` generated consignments, and how many of them are invalid."""
    generated = list(generate_consignments(count, invalid_rate=invalid_rate, seed=seed))
    rows = [row for item in generated for row in item.rows]
    return rows, sum(1 for item in generated if item.defect is not None)


async def test_consignments_are_answered_lodged_and_routed_in_bulk(running: RunningGateway) -> None:
    trader = await running.add_client("ecom-platform")
    rows, invalid = rows_of(300, invalid_rate=0.2, seed=7)
    body = orjson.dumps(rows)
    answer = await running.http.post(
        URL, content=body, headers={**trader, "Content-Type": "application/json"}
    )
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert (result["accepted"], result["rejected"]) == (300 - invalid, invalid)
    assert len(result["results"]) == 300
    for item in result["results"]:
        if item["status"] == "REJECTED":
            assert item["errors"] and all(e["path"].startswith("/") for e in item["errors"])
            assert item["id"] is None
    jwks = running.gateway.keys.jwks()
    [lodgement] = result["lodgements"]
    claims = verify_receipt(lodgement["receipt"], jwks, body=body)
    assert claims["consignments"] == 300 - invalid == lodgement["consignments"]

    accepted = {item["id"] for item in result["results"] if item["status"] == "ACCEPTED"}
    for agency in ("customs", "logistics"):
        [record] = await consume_keys(
            running.settings.kafka_bootstrap_servers, route_topic(agency), [lodgement["id"]]
        )
        headers = headers_of(record)
        assert headers["ce_type"] == BULK_EVENT_TYPE
        assert headers[CONSIGNMENT_COUNT_HEADER] == str(len(accepted))
        verify_detached(headers["tsw-signature"], record.value or b"", jwks)
        bulk_id, document_type, consignments = parse_bulk_value(record.value or b"")
        assert (bulk_id, document_type) == (lodgement["id"], "hk.ecom.lvc")
        assert {declaration_id for declaration_id, _ in consignments} == accepted

    some_id = next(iter(accepted))
    view = await view_when(running, trader, some_id, "ROUTED")
    assert view["document_type"] == "hk.ecom.lvc"
    assert view["lodgement_id"] == lodgement["id"]
    assert view["receipt"] == lodgement["receipt"]
    assert set(view["agencies"]) == {"customs", "logistics"}

    # The same upload again: every accepted consignment answers with its first id; nothing is routed twice.
    again = (
        await running.http.post(URL, content=body, headers={**trader, "Content-Type": "application/json"})
    ).json()
    assert again["lodgements"] == []
    assert {item["id"] for item in again["results"] if item["status"] == "ACCEPTED"} == accepted
    assert all(item["replayed"] for item in again["results"] if item["status"] == "ACCEPTED")


async def test_a_bulk_answer_decides_every_consignment(running: RunningGateway) -> None:
    trader = await running.add_client("ecom-bulk-answer")
    rows, _ = rows_of(50, invalid_rate=0.0, seed=8)
    result = (
        await running.http.post(
            URL, content=orjson.dumps(rows), headers={**trader, "Content-Type": "application/json"}
        )
    ).json()
    [lodgement] = result["lodgements"]
    ids = [item["id"] for item in result["results"]]
    events = {}
    for agency in ("customs", "logistics"):
        [record] = await consume_keys(
            running.settings.kafka_bootstrap_servers, route_topic(agency), [lodgement["id"]]
        )
        events[agency] = headers_of(record)["ce_id"]
    await view_when(running, trader, ids[0], "ROUTED")

    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        held = ids[0]
        customs = [
            BulkAnswer(i, AgencyStatus.HELD if i == held else AgencyStatus.CLEARED, "CLEARED") for i in ids
        ]
        logistics = [BulkAnswer(i, AgencyStatus.CLEARED, "RELEASED") for i in ids]
        for agency, answers in (("customs", customs), ("logistics", logistics), ("customs", customs)):
            await publish_bulk(producer, lodgement["id"], agency, events[agency], answers)
        cleared = await view_when(running, trader, ids[-1], "CLEARED")
        held_view = await view_when(running, trader, held, "HELD")
    finally:
        await producer.stop()
    assert [h["status"] for h in cleared["history"]] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "CLEARED"]
    assert cleared["agencies"]["customs"]["status"] == "CLEARED"
    assert held_view["agencies"]["customs"]["status"] == "HELD"
    # The repeated customs answer: it may still be on its way when the statuses above are final.
    async with asyncio.timeout(30):
        while True:
            if 'tsw_agency_answers_total{outcome="duplicate"}' in (await running.http.get("/metrics")).text:
                break
            await asyncio.sleep(0.1)


async def publish_bulk(
    producer: AIOKafkaProducer, bulk_id: str, agency: str, in_reply_to: str, answers: list[BulkAnswer]
) -> None:
    response = BulkResponse(
        bulk_id=bulk_id,
        agency=agency,
        in_reply_to=in_reply_to,
        decided_at=rfc3339(datetime.now(UTC)),
        answers=tuple(answers),
    )
    headers = EventHeaders(
        id=bulk_response_event_id(in_reply_to),
        source=f"urn:tsw:adapter:{agency}",
        type=BULK_RESPONSE_EVENT_TYPE,
        subject=bulk_id,
        time=response.decided_at,
        content_type="application/json",
    )
    await producer.send_and_wait(
        RESPONSES_TOPIC, response.to_json(), key=bulk_id.encode(), headers=encode_headers(headers)
    )


async def test_csv_and_refusals(running: RunningGateway) -> None:
    trader = await running.add_client("ecom-csv")
    generated = list(generate_consignments(40, invalid_rate=0.25, seed=9))
    body = b"".join(encode(generated, FileFormat.CSV))
    answer = await running.http.post(URL, content=body, headers={**trader, "Content-Type": "text/csv"})
    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    expected = [item.defect.code if item.defect else None for item in generated]
    found = [item["errors"][0]["code"] if item["errors"] else None for item in results]
    assert [code is None for code in found] == [code is None for code in expected]
    assert all(
        code in {e["code"] for e in r["errors"]} for code, r in zip(expected, results, strict=True) if code
    )
    assert results[0]["position"] == 2  # CSV positions are lines: the header is line 1

    over = [dict(row, value="99999") for row in generated[0].rows]
    refused = await running.http.post(URL, json=over, headers=trader)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    [error] = [e for e in refused.json()["errors"] if e["code"] == "lvc.threshold"]
    assert "hk.tdec" in error["message"]

    assert (
        await running.http.post(URL, content=b"{}", headers={**trader, "Content-Type": "application/json"})
    ).status_code == 400
    assert (
        await running.http.post(URL, content=b"x", headers={**trader, "Content-Type": "text/plain"})
    ).status_code == 415
    bad_header = await running.http.post(
        URL, content=b"a,b\n1,2\n", headers={**trader, "Content-Type": "text/csv"}
    )
    assert bad_header.status_code == 422
    assert bad_header.json()["errors"][0]["code"] == "batch.csv.header"
    await asyncio.sleep(0)
