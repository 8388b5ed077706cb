"""Submit through HTTP and find the signed CloudEvent on tsw.route.<agency>, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import orjson

from gateway.contracts.topics import route_topic
from gateway.documents.receipts import body_digest, verify_receipt
from gateway.documents.signing import verify_detached
from tests.conftest import RunningGateway
from tests.examples import content_type, examples
from tests.kafka_helpers import consume_keys, headers_of


async def wait_status(running: RunningGateway, headers: dict[str, str], ids: list[str], status: str) -> None:
    async with asyncio.timeout(60):
        for declaration_id in ids:
            while True:
                answer = await running.http.get(f"/v1/declarations/{declaration_id}", headers=headers)
                if answer.json()["status"] == status:
                    break
                await asyncio.sleep(0.05)


async def test_tdec_xml_is_accepted_signed_stored_and_routed(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("acme-trading")
    document = examples("hk.tdec", suffix=".xml")[0]
    body = document.read_bytes()

    answer = await running.http.post(
        "/v1/declarations", content=body, headers={**trader, "Content-Type": "application/xml"}
    )

    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "ACCEPTED"
    assert accepted["document_type"] == "hk.tdec"
    assert answer.headers["location"] == f"/v1/declarations/{accepted['id']}"
    jwks = (await running.http.get("/.well-known/jwks.json")).json()
    receipt = verify_receipt(accepted["receipt"], jwks, body=body)
    assert receipt["declaration_id"] == accepted["id"]
    assert receipt["digest"] == body_digest(body)
    assert receipt["trader"] == "acme-trading"

    for agency in ("customs", "censtatd"):
        records = await consume_keys(
            running.settings.kafka_bootstrap_servers, route_topic(agency), [accepted["id"]]
        )
        assert len(records) == 1
        record = records[0]
        headers = headers_of(record)
        assert record.value == body
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_subject"] == accepted["id"]
        assert headers["content-type"] == "application/xml"
        for name in ("ce_id", "ce_source", "ce_type", "ce_time"):
            assert headers[name]
        verify_detached(headers["tsw-signature"], record.value, jwks)

    await wait_status(running, trader, [accepted["id"]], "ROUTED")
    view = (await running.http.get(f"/v1/declarations/{accepted['id']}", headers=trader)).json()
    assert [entry["status"] for entry in view["history"]] == ["ACCEPTED", "ROUTED"]
    assert {agency: state["status"] for agency, state in view["agencies"].items()} == {
        "customs": "ROUTED",
        "censtatd": "ROUTED",
    }


async def test_every_shipped_example_is_accepted_in_both_forms(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("forms-trader")
    ids = []
    for pack in ("hk.tdec", "hk.aci.road"):
        for document in examples(pack):
            answer = await running.http.post(
                "/v1/declarations",
                content=document.read_bytes(),
                headers={**trader, "Content-Type": content_type(document)},
            )
            assert answer.status_code == 202, f"{document.name}: {answer.text}"
            assert answer.json()["document_type"] == pack
            ids.append(answer.json()["id"])
    await wait_status(running, trader, ids, "ROUTED")


async def test_idempotency_key_replays_first_answer_and_refuses_other_body(
    backend_gateway: RunningGateway,
) -> None:
    running = backend_gateway
    trader = await running.add_client("idem-trader")
    first, second = examples("hk.tdec", suffix=".json")[:2]
    headers = {**trader, "Content-Type": "application/json", "Idempotency-Key": "order-4711"}

    original = await running.http.post("/v1/declarations", content=first.read_bytes(), headers=headers)
    again = await running.http.post("/v1/declarations", content=first.read_bytes(), headers=headers)
    other = await running.http.post("/v1/declarations", content=second.read_bytes(), headers=headers)

    assert original.status_code == 202
    assert again.status_code == 202
    assert again.json() == original.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    listed = (await running.http.get("/v1/declarations", headers=trader)).json()
    assert [item["id"] for item in listed["items"]] == [original.json()["id"]]


async def test_concurrent_retries_with_one_idempotency_key_store_one_declaration(
    backend_gateway: RunningGateway,
) -> None:
    running = backend_gateway
    trader = await running.add_client("racing-trader")
    body = examples("hk.tdec", suffix=".json")[0].read_bytes()
    headers = {**trader, "Content-Type": "application/json", "Idempotency-Key": "same-key"}

    answers = await asyncio.gather(
        *(running.http.post("/v1/declarations", content=body, headers=headers) for _ in range(8))
    )

    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["id"] for a in answers}) == 1


async def test_a_trader_cannot_read_another_traders_declaration(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    owner = await running.add_client("owner")
    stranger = await running.add_client("stranger")
    body = examples("hk.tdec", suffix=".json")[0].read_bytes()
    accepted = (
        await running.http.post(
            "/v1/declarations", content=body, headers={**owner, "Content-Type": "application/json"}
        )
    ).json()

    theirs = await running.http.get(f"/v1/declarations/{accepted['id']}", headers=stranger)
    unknown = await running.http.get("/v1/declarations/does-not-exist", headers=owner)
    anonymous = await running.http.get(f"/v1/declarations/{accepted['id']}")

    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert accepted["id"] not in theirs.text
    assert unknown.status_code == 404
    assert anonymous.status_code == 401
    assert (await running.http.get("/v1/declarations", headers=stranger)).json()["items"] == []


async def test_list_pages_and_filters(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("lister")
    ids = []
    for document in [*examples("hk.tdec", suffix=".json"), *examples("hk.aci.road", suffix=".json")]:
        answer = await running.http.post(
            "/v1/declarations",
            content=document.read_bytes(),
            headers={**trader, "Content-Type": "application/json"},
        )
        ids.append(answer.json()["id"])

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await running.http.get("/v1/declarations", params=params, headers=trader)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    road = (
        await running.http.get("/v1/declarations", params={"document_type": "hk.aci.road"}, headers=trader)
    ).json()

    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(set(seen))
    assert {item["document_type"] for item in road["items"]} == {"hk.aci.road"}
    assert len(road["items"]) == len(examples("hk.aci.road", suffix=".json"))


async def test_invalid_document_gets_every_problem_located(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("careless-trader")
    document = orjson.loads(examples("hk.tdec", suffix=".json")[0].read_bytes())
    del document["declarant"]
    document["lines"][0]["hsCode"] = "12"

    answer = await running.http.post(
        "/v1/declarations",
        content=orjson.dumps(document),
        headers={**trader, "Content-Type": "application/json"},
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problems = answer.json()["errors"]
    paths = {problem["path"] for problem in problems}
    assert "/declarant" in paths
    assert any(path.startswith("/lines/0/hsCode") for path in paths)
    assert all(set(problem) == {"code", "path", "message"} for problem in problems)
