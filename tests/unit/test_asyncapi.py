"""The AsyncAPI document agrees with the wire contracts the code uses."""

from __future__ import annotations

from dataclasses import MISSING, fields
from importlib.resources import files
from typing import Any

import orjson
import yaml

from gateway.contracts import AGENCIES, RESPONSES_TOPIC, route_topic
from gateway.contracts.bulk import (
    BULK_EVENT_TYPE,
    BULK_RESPONSE_EVENT_TYPE,
    CONSIGNMENT_COUNT_HEADER,
    BulkAnswer,
    BulkResponse,
    bulk_value,
)
from gateway.contracts.events import SIGNATURE_HEADER, VERSION_HEADER, EventHeaders, event_type
from gateway.contracts.responses import RESPONSE_EVENT_TYPE, AgencyStatus


def document() -> dict[str, Any]:
    loaded = yaml.safe_load(files("gateway.contracts").joinpath("asyncapi.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_every_topic_is_described() -> None:
    addresses = {channel["address"] for channel in document()["channels"].values()}
    assert {route_topic(agency) for agency in AGENCIES} | {RESPONSES_TOPIC, "tsw.dlq.{agency}"} == addresses


def test_headers_match_what_the_gateway_writes() -> None:
    schemas = document()["components"]["schemas"]
    written = EventHeaders(id="i", source="s", type="t", subject="d", time="x", content_type="c").as_dict()
    assert set(schemas["cloudEventHeaders"]["required"]) == set(written)
    routed = schemas["routedHeaders"]["allOf"][1]
    assert SIGNATURE_HEADER in routed["required"]
    assert {event_type(a) for a in ("submitted", "amended", "cancelled")} == set(
        routed["properties"]["ce_type"]["enum"]
    )
    assert VERSION_HEADER in routed["properties"]
    assert schemas["answerHeaders"]["allOf"][1]["properties"]["ce_type"]["const"] == RESPONSE_EVENT_TYPE


def test_answer_statuses_match_the_contract() -> None:
    answer = document()["components"]["schemas"]["agencyAnswer"]
    # Every status an agency may answer: all but the two the gateway derives from its own outbox.
    assert set(answer["properties"]["status"]["enum"]) == set(AgencyStatus) - {
        AgencyStatus.PENDING,
        AgencyStatus.ROUTED,
    }
    assert set(answer["properties"]["agency"]["enum"]) == AGENCIES


def test_bulk_events_are_described_on_the_fast_paths_channels() -> None:
    channels = {channel["address"]: channel for channel in document()["channels"].values()}
    refs = {
        address: {message["$ref"] for message in channel["messages"].values()}
        for address, channel in channels.items()
    }
    for agency in ("customs", "logistics"):
        assert "#/components/messages/routedBulk" in refs[route_topic(agency)]
    assert "#/components/messages/bulkAnswer" in refs[RESPONSES_TOPIC]
    assert "#/components/messages/bulkDeadLetter" in refs["tsw.dlq.{agency}"]


def test_bulk_headers_match_the_contract() -> None:
    schemas = document()["components"]["schemas"]
    routed = schemas["routedBulkHeaders"]["allOf"][1]
    assert routed["properties"]["ce_type"]["const"] == BULK_EVENT_TYPE
    assert {SIGNATURE_HEADER, CONSIGNMENT_COUNT_HEADER, "tsw-document-type"} <= set(routed["required"])
    answer = schemas["bulkAnswerHeaders"]["allOf"][1]
    assert answer["properties"]["ce_type"]["const"] == BULK_RESPONSE_EVENT_TYPE
    assert CONSIGNMENT_COUNT_HEADER in answer["properties"]


def test_the_bulk_payloads_match_the_contract() -> None:
    schemas = document()["components"]["schemas"]
    routed = schemas["routedBulk"]
    value = orjson.loads(bulk_value("b", "hk.ecom.lvc", [("d", b'{"documentType": "hk.ecom.lvc"}')]))
    assert set(routed["required"]) == set(routed["properties"]) == set(value)
    assert routed["properties"]["document_type"]["const"] == value["document_type"]
    item = routed["properties"]["consignments"]["items"]
    assert set(item["required"]) == set(item["properties"]) == set(value["consignments"][0])

    answer = schemas["bulkAnswer"]
    assert set(answer["required"]) == set(answer["properties"]) == {f.name for f in fields(BulkResponse)}
    assert set(answer["properties"]["agency"]["enum"]) == AGENCIES
    consignment = schemas["consignmentAnswer"]
    assert set(consignment["properties"]) == {f.name for f in fields(BulkAnswer)}
    required = {f.name for f in fields(BulkAnswer) if f.default is MISSING and f.default_factory is MISSING}
    assert set(consignment["required"]) == required
    single = schemas["agencyAnswer"]["properties"]["status"]["enum"]
    assert consignment["properties"]["status"]["enum"] == single
