"""The AsyncAPI document agrees with the wire contracts the code uses."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml

from gateway.contracts import AGENCIES, RESPONSES_TOPIC, route_topic
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
