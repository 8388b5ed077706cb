"""A bulk event of e-commerce consignments through the real broker, a real adapter and the real customs
simulator: one signed record in, one HTTP call, one bulk answer with every consignment out.

The gateway's side is played by the test (as in `test_adapter_kafka`): it signs the bulk value with an
ephemeral key whose JWKS the adapter reads from a file, and produces the record to `tsw.route.customs`.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from adapters.handler import HandleResult
from gateway.contracts.bulk import (
    BULK_EVENT_TYPE,
    BULK_RESPONSE_EVENT_TYPE,
    CONSIGNMENT_COUNT_HEADER,
    BulkResponse,
    bulk_response_event_id,
    bulk_value,
)
from gateway.contracts.events import EventHeaders, encode_headers, rfc3339
from gateway.contracts.topics import RESPONSES_TOPIC, route_topic
from gateway.localkafka import LocalKafka
from simulators.app import create_app
from simulators.config import SimulatorSettings
from tests.conftest import free_port
from tests.integration.test_adapter_kafka import (
    Gateway,
    Served,
    adapter_settings,
    committed_offsets,
    eventually,
    running_adapter,
)
from tests.kafka_helpers import consume_keys, headers_of

pytestmark = pytest.mark.kafka

CONSIGNMENTS = 500


@pytest.fixture
async def gateway(kafka: LocalKafka, tmp_path: Path) -> AsyncIterator[Gateway]:
    side = Gateway(kafka.bootstrap_servers, tmp_path)
    await side.start()
    try:
        yield side
    finally:
        await side.stop()


def consignment(index: int) -> bytes:
    """An `hk.ecom.lvc` consignment: every 50th from a sanctioned origin, every 9th over customs'
    green-lane limit (HK$2,000), the rest low-value parcels; numbers as strings and as numbers."""
    origin = "KP" if index % 50 == 0 else "CN"
    value = 2600 if index % 9 == 0 else 80 + index % 700
    document = {
        "documentType": "hk.ecom.lvc",
        "consignment_ref": f"PARCEL-{index:06d}",
        "platform": "ShopNow",
        "order_ref": f"ORD-{index:08d}",
        "tracking_no": f"SN{index:09d}HK",
        "seller_name": "Shenzhen Bright Gadgets Co",
        "seller_country": "CN",
        "buyer_name": f"Buyer {index}",
        "buyer_id_ref": f"HKID-REF-{index:06x}",
        "consignee_address": f"Flat {index % 40}A, 12 Nathan Road, Kowloon",
        "destination_country": "HK",
        "transport_mode": "road" if index % 2 else "post",
        "currency": "HKD",
        "items": [
            {
                "description": "Bluetooth earphones",
                "hs_code": "85183000",
                "quantity": 1,
                "unit": "H87",
                "value": f"{value}.00" if index % 3 else value,
                "gross_weight_kg": "0.25",
                "origin_country": origin,
            }
        ],
    }
    return orjson.dumps(document)


async def route_bulk(gateway: Gateway, agency: str, items: list[tuple[str, bytes]]) -> tuple[str, str]:
    """Produce one signed bulk event, as the gateway's fast path does; `(bulk id, ce_id)`."""
    assert gateway._producer is not None
    bulk_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    value = bulk_value(bulk_id, "hk.ecom.lvc", items)
    headers = EventHeaders(
        id=event_id,
        source="urn:tsw:gateway",
        type=BULK_EVENT_TYPE,
        subject=bulk_id,
        time=rfc3339(datetime.now(UTC)),
        content_type="application/json",
        signature=gateway.keys.sign_detached(value),
        document_type="hk.ecom.lvc",
    )
    count = (CONSIGNMENT_COUNT_HEADER, str(len(items)).encode())
    await gateway._producer.send_and_wait(
        route_topic(agency), value=value, key=bulk_id.encode(), headers=[*encode_headers(headers), count]
    )
    return bulk_id, event_id


async def test_a_bulk_of_500_consignments_is_decided_by_customs_in_one_answer(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    simulator = Served(
        create_app(SimulatorSettings(agency="customs", port=port)), port=port, name="sim-customs"
    )
    simulator.start()
    items = [(str(uuid.uuid4()), consignment(index)) for index in range(CONSIGNMENTS)]
    try:
        settings = adapter_settings(kafka, gateway, ("customs", url), tmp_path / "adapter")
        async with running_adapter(settings) as adapter, httpx.AsyncClient(base_url=url, timeout=5) as http:
            # down when the bulk arrives: the one bulk call is retried like a single submission
            answer = await http.put("/v1/faults", json={"down": True, "down_for_s": 2.0})
            assert answer.status_code == 200, answer.text
            started = time.monotonic()
            bulk_id, event_id = await route_bulk(gateway, "customs", items)
            records = await consume_keys(kafka.bootstrap_servers, RESPONSES_TOPIC, [bulk_id], timeout_s=60)
            answered_s = time.monotonic() - started
            await eventually(lambda: adapter.stats.committed == 1, timeout_s=10, what="the commit")
            # and once more with the agency up from the start: how long a bulk takes end to end
            started = time.monotonic()
            again = [(str(uuid.uuid4()), consignment(index)) for index in range(CONSIGNMENTS)]
            second_id, _ = await route_bulk(gateway, "customs", again)
            (second,) = await consume_keys(kafka.bootstrap_servers, RESPONSES_TOPIC, [second_id], settle_s=0)
            second_s = time.monotonic() - started
            await eventually(lambda: adapter.stats.committed == 2, timeout_s=10, what="the second commit")
            assert set((await committed_offsets(settings)).values()) == {0}
            received: dict[str, Any] = (await http.get("/v1/received/bulk")).json()
    finally:
        simulator.stop()

    assert adapter.stats.results[HandleResult.RESPONDED] == 2
    assert len(BulkResponse.from_json(second.value or b"").answers) == CONSIGNMENTS
    (record,) = records  # one bulk answer, published once
    headers = headers_of(record)
    assert headers["ce_id"] == bulk_response_event_id(event_id)
    assert headers["ce_type"] == BULK_RESPONSE_EVENT_TYPE
    assert headers["ce_subject"] == bulk_id
    assert headers["ce_source"] == "urn:tsw:adapter:customs"
    assert headers[CONSIGNMENT_COUNT_HEADER] == str(CONSIGNMENTS)
    assert record.value is not None
    response = BulkResponse.from_json(record.value)
    assert (response.bulk_id, response.agency, response.in_reply_to) == (bulk_id, "customs", event_id)
    assert [answer.declaration_id for answer in response.answers] == [d for d, _ in items]

    lanes = Counter((a.status.value, a.decision, a.detail["lane"]) for a in response.answers)
    rejected = {items[i][0] for i in range(0, CONSIGNMENTS, 50)}
    over_limit = {items[i][0] for i in range(0, CONSIGNMENTS, 9)} - rejected
    assert lanes == {
        ("REJECTED", "REJECTED", "red"): len(rejected),
        ("HELD", "HELD_FOR_DOCUMENTS", "red"): len(over_limit),
        ("CLEARED", "CLEARED", "green"): CONSIGNMENTS - len(rejected) - len(over_limit),
    }
    for each in response.answers:
        assert each.reference is not None and each.reference.startswith("CED")
        assert (each.status == "REJECTED") is (each.declaration_id in rejected)
    # the agency saw one bulk submission, once (the 503s while down were not deliveries)
    assert received["submissions"][event_id] == 1
    assert (received["distinct"], received["total_deliveries"]) == (2, 2)
    assert received["consignments"] == 2 * CONSIGNMENTS
    print(
        f"\n{CONSIGNMENTS} consignments: answered {answered_s:.2f} s after routing with the agency down"
        f" for the first 2 s, {second_s:.3f} s with it up; {dict(lanes)}"
    )
