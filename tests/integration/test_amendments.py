"""Amendments and cancellations: routed as signed events, answered like any document, 409 when final."""

from __future__ import annotations

import asyncio

import orjson
from aiokafka import AIOKafkaProducer

from gateway.contracts.events import event_type
from gateway.contracts.responses import AgencyStatus
from gateway.contracts.topics import route_topic
from gateway.documents.receipts import verify_receipt
from gateway.documents.signing import verify_detached
from tests.conftest import RunningGateway
from tests.examples import examples
from tests.integration.test_response_loop import answer, responses_ready, view_when
from tests.kafka_helpers import consume_keys, headers_of, routed_event_ids

TDEC = "hk.tdec"  # routed to customs and censtatd
JSON = {"Content-Type": "application/json"}


def tdec(name: str) -> bytes:
    [path] = [p for p in examples(TDEC, suffix=".json") if p.name == name]
    return path.read_bytes()


async def submit(running: RunningGateway, trader: dict[str, str], body: bytes) -> str:
    accepted = await running.http.post("/v1/declarations", content=body, headers={**trader, **JSON})
    assert accepted.status_code == 202, accepted.text
    declaration_id: str = accepted.json()["id"]
    return declaration_id


async def events_of(
    running: RunningGateway, declaration_id: str, agency: str, action: str
) -> list[dict[str, str]]:
    """Headers (and value, under "value") of every `action` event routed to `agency` for the declaration."""
    async with asyncio.timeout(30):
        while True:
            records = await consume_keys(
                running.settings.kafka_bootstrap_servers, route_topic(agency), [declaration_id], settle_s=0.3
            )
            found = [
                {**headers_of(r), "value": r.value.decode()}
                for r in records
                if headers_of(r)["ce_type"] == event_type(action)
            ]
            if found:
                return found
            await asyncio.sleep(0.2)


async def test_an_amendment_is_routed_and_decided_again(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("amending-trader")
    first, second = tdec("export-jewellery-jp-air.json"), tdec("import-wine-fr-air.json")
    declaration_id = await submit(running, trader, first)
    await view_when(running, trader, declaration_id, "ROUTED")
    routed_v1 = await routed_event_ids(
        running.settings.kafka_bootstrap_servers, declaration_id, ["customs", "censtatd"]
    )
    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await answer(
            producer,
            declaration_id,
            "customs",
            AgencyStatus.CLEARED,
            "CLEARED",
            in_reply_to=routed_v1["customs"],
        )
        await view_when(running, trader, declaration_id, "UNDER_REVIEW")

        amended = await running.http.post(
            f"/v1/declarations/{declaration_id}/amendments", content=second, headers={**trader, **JSON}
        )
        assert amended.status_code == 202, amended.text
        assert amended.json()["version"] == 2
        assert amended.json()["status"] == "UNDER_REVIEW"
        claims = verify_receipt(amended.json()["receipt"], running.gateway.keys.jwks(), body=second)
        assert claims["action"] == "amended" and claims["version"] == 2
        assert claims["declaration_id"] == declaration_id

        # Every target agency gets the new version, signed, and decides again.
        for agency in ("customs", "censtatd"):
            [event] = await events_of(running, declaration_id, agency, "amended")
            assert event["value"].encode() == second
            assert event["tsw-declaration-version"] == "2"
            verify_detached(event["tsw-signature"], second, running.gateway.keys.jwks())
        view = (await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)).json()
        assert view["version"] == 2
        assert view["agencies"]["customs"]["status"] in (
            "PENDING",
            "ROUTED",
        )  # its v1 answer no longer counts
        assert view["history"][-1] == {
            **view["history"][-1],
            "status": "UNDER_REVIEW",
            "detail": "amended: version 2",
        }

        # A late answer to version 1 is refused; answers to version 2 clear it.
        await answer(
            producer,
            declaration_id,
            "censtatd",
            AgencyStatus.CLEARED,
            "ACKNOWLEDGED",
            in_reply_to=routed_v1["censtatd"],
        )
        routed_v2 = await routed_event_ids(
            running.settings.kafka_bootstrap_servers,
            declaration_id,
            ["customs", "censtatd"],
            action="amended",
        )
        await asyncio.sleep(1.0)
        still = (await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)).json()
        assert still["status"] == "UNDER_REVIEW"
        assert still["agencies"]["censtatd"]["status"] == "ROUTED"
        await answer(
            producer,
            declaration_id,
            "customs",
            AgencyStatus.CLEARED,
            "CLEARED",
            in_reply_to=routed_v2["customs"],
        )
        await answer(
            producer,
            declaration_id,
            "censtatd",
            AgencyStatus.CLEARED,
            "ACKNOWLEDGED",
            in_reply_to=routed_v2["censtatd"],
        )
        cleared = await view_when(running, trader, declaration_id, "CLEARED")
    finally:
        await producer.stop()
    assert cleared["history"][-1]["detail"].startswith("censtatd: ACKNOWLEDGED")

    versions = (await running.http.get(f"/v1/declarations/{declaration_id}/versions", headers=trader)).json()
    assert [v["version"] for v in versions] == [1, 2]
    for number, body in ((1, first), (2, second)):
        document = await running.http.get(
            f"/v1/declarations/{declaration_id}/versions/{number}/document", headers=trader
        )
        assert document.content == body
        assert document.headers["content-type"].startswith("application/json")
    missing = await running.http.get(f"/v1/declarations/{declaration_id}/versions/3/document", headers=trader)
    assert missing.status_code == 404

    # Final now: no more amendments or cancellations.
    again = await running.http.post(
        f"/v1/declarations/{declaration_id}/amendments", content=second, headers={**trader, **JSON}
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "CLEARED" in again.json()["detail"]
    cancel = await running.http.post(f"/v1/declarations/{declaration_id}/cancellation", headers=trader)
    assert cancel.status_code == 409


async def test_amendment_idempotency_and_refusals(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("careful-trader")
    other = await running.add_client("other-trader")
    declaration_id = await submit(running, trader, tdec("export-jewellery-jp-air.json"))
    url = f"/v1/declarations/{declaration_id}/amendments"
    second, third = tdec("import-wine-fr-air.json"), tdec("reexport-vn-sea-licensed.json")

    keyed = {**trader, **JSON, "Idempotency-Key": "amend-1"}
    first_try = await running.http.post(url, content=second, headers=keyed)
    retry = await running.http.post(url, content=second, headers=keyed)
    assert first_try.status_code == retry.status_code == 202
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["version"] == first_try.json()["version"] == 2
    assert retry.json()["receipt"] == first_try.json()["receipt"]
    reused = await running.http.post(url, content=third, headers=keyed)
    assert reused.status_code == 409

    other_type = examples("hk.aci.road", suffix=".json")[0].read_bytes()
    wrong_type = await running.http.post(url, content=other_type, headers={**trader, **JSON})
    assert wrong_type.status_code == 422
    assert [e["code"] for e in wrong_type.json()["errors"]] == ["amendment.document-type"]
    invalid = examples(TDEC, kind="invalid", suffix=".json")[0].read_bytes()
    refused = await running.http.post(url, content=invalid, headers={**trader, **JSON})
    assert refused.status_code == 422 and refused.json()["errors"]

    assert (await running.http.post(url, content=third, headers={**other, **JSON})).status_code == 404
    nobody = await running.http.post(
        "/v1/declarations/no-such-id/amendments", content=third, headers={**trader, **JSON}
    )
    assert nobody.status_code == 404
    versions = (await running.http.get(f"/v1/declarations/{declaration_id}/versions", headers=trader)).json()
    assert [v["version"] for v in versions] == [1, 2]  # nothing refused left a version behind


async def test_a_cancellation_is_final_and_acknowledged(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("cancelling-trader")
    declaration_id = await submit(running, trader, tdec("export-jewellery-jp-air.json"))
    await view_when(running, trader, declaration_id, "ROUTED")
    submitted = await routed_event_ids(
        running.settings.kafka_bootstrap_servers, declaration_id, ["customs", "censtatd"]
    )
    url = f"/v1/declarations/{declaration_id}/cancellation"

    too_long = await running.http.post(
        url, content=orjson.dumps({"reason": "x" * 501}), headers={**trader, **JSON}
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["path"] == "/reason"
    not_json = await running.http.post(
        url, content=b"reason", headers={**trader, "Content-Type": "text/plain"}
    )
    assert not_json.status_code == 415

    cancelled = await running.http.post(
        url, content=orjson.dumps({"reason": "order withdrawn"}), headers={**trader, **JSON}
    )
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    claims = verify_receipt(cancelled.json()["receipt"], running.gateway.keys.jwks())
    assert claims["action"] == "cancelled" and claims["version"] == 1

    for agency in ("customs", "censtatd"):
        [event] = await events_of(running, declaration_id, agency, "cancelled")
        notice = orjson.loads(event["value"])
        assert notice["declaration_id"] == declaration_id and notice["reason"] == "order withdrawn"
        verify_detached(event["tsw-signature"], event["value"].encode(), running.gateway.keys.jwks())
    acknowledgements = await routed_event_ids(
        running.settings.kafka_bootstrap_servers, declaration_id, ["customs", "censtatd"], action="cancelled"
    )

    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        # An answer to the original submission, after the cancellation, changes nothing.
        await answer(
            producer,
            declaration_id,
            "customs",
            AgencyStatus.REJECTED,
            "REJECTED",
            in_reply_to=submitted["customs"],
        )
        for agency in ("customs", "censtatd"):
            await answer(
                producer,
                declaration_id,
                agency,
                AgencyStatus.CANCELLED,
                "CANCELLATION_ACKNOWLEDGED",
                in_reply_to=acknowledgements[agency],
            )
        async with asyncio.timeout(30):
            while True:
                view = (await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)).json()
                if all(view["agencies"][a]["status"] == "CANCELLED" for a in ("customs", "censtatd")):
                    break
                await asyncio.sleep(0.1)
    finally:
        await producer.stop()
    assert view["status"] == "CANCELLED"
    assert [e["status"] for e in view["history"]] == ["ACCEPTED", "ROUTED", "CANCELLED"]
    assert view["history"][-1]["detail"] == "cancelled by the trader: order withdrawn"

    assert (await running.http.post(url, headers=trader)).status_code == 409
    amend = await running.http.post(
        f"/v1/declarations/{declaration_id}/amendments",
        content=tdec("import-wine-fr-air.json"),
        headers={**trader, **JSON},
    )
    assert amend.status_code == 409
