"""Forwarders lodging for traders through the API, on both databases: authorised, not authorised and
withdrawn; both parties reading what was lodged (and nobody else); listings that merge a trader's own
declarations with those lodged for it; and the admin routes acting on real clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway.config import REPO_ROOT
from gateway.documents.origin import sign_origin
from gateway.documents.receipts import verify_receipt
from gateway.documents.trader_keys import public_jwk
from gateway.localkafka import LocalKafka
from gateway.store.tables import audit_log
from tests.conftest import RunningGateway, free_port, fresh_postgres_database, gateway_settings, start_gateway
from tests.integration.test_ecommerce import rows_of

EXAMPLE = REPO_ROOT / "schemas" / "hk.tdec" / "examples" / "valid" / "import-electronics-cn-sea.xml"
XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json"}


async def client_id(running: RunningGateway, name: str) -> str:
    async with running.gateway.uow_factory() as uow:
        found = await uow.clients.find(name)
    assert found is not None
    return found.id


async def lodge(running: RunningGateway, caller: dict[str, str], trader: str | None, **headers: str) -> Any:
    extra = {"TSW-On-Behalf-Of": trader} if trader is not None else {}
    return await running.http.post(
        "/v1/declarations", content=EXAMPLE.read_bytes(), headers={**caller, **XML, **extra, **headers}
    )


async def test_an_authorised_forwarder_lodges_for_a_trader(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    acme = await running.add_client("acme-trading")
    rival = await running.add_client("rival-trading")
    swift = await running.add_client("swift-forwarding", "forwarder")
    other_forwarder = await running.add_client("slow-forwarding", "forwarder")
    acme_id, swift_id = await client_id(running, "acme-trading"), await client_id(running, "swift-forwarding")
    granted = await running.http.put("/v1/authorisations/swift-forwarding", headers=acme)
    assert granted.status_code == 201, granted.text
    assert granted.json()["forwarder"] == {"id": swift_id, "name": "swift-forwarding"}
    assert (await running.http.put(f"/v1/authorisations/{swift_id}", headers=acme)).status_code == 200

    lodged = await lodge(running, swift, "acme-trading")
    assert lodged.status_code == 202, lodged.text
    jwks = (await running.http.get("/.well-known/jwks.json")).json()
    receipt = verify_receipt(lodged.json()["receipt"], jwks, body=EXAMPLE.read_bytes())
    assert (receipt["trader"], receipt["trader_id"]) == ("swift-forwarding", swift_id)
    assert (receipt["on_behalf_of"], receipt["on_behalf_of_id"]) == ("acme-trading", acme_id)
    by_id = await lodge(running, swift, acme_id)  # the trader's id does as well as its name
    assert by_id.status_code == 202
    location = lodged.headers["location"]
    for reader in (acme, swift):  # both parties read it
        view = await running.http.get(location, headers=reader)
        assert view.status_code == 200
        assert (view.json()["submitted_by"], view.json()["on_behalf_of"]) == (swift_id, acme_id)
        assert (await running.http.get(f"{location}/versions", headers=reader)).status_code == 200
        assert (await running.http.get(f"{location}/versions/1/document", headers=reader)).status_code == 200
    for stranger in (rival, other_forwarder):
        assert (await running.http.get(location, headers=stranger)).status_code == 404
    listed = (await running.http.get("/v1/declarations", headers=acme)).json()["items"]
    assert {item["id"] for item in listed} == {lodged.json()["id"], by_id.json()["id"]}
    assert (await running.http.get("/v1/declarations", headers=rival)).json()["items"] == []
    # The trader reads it, but the forwarder that lodged it changes it.
    amended = await running.http.post(
        f"{location}/amendments", content=EXAMPLE.read_bytes(), headers={**acme, **XML}
    )
    assert amended.status_code == 403, amended.text
    amended = await running.http.post(
        f"{location}/amendments", content=EXAMPLE.read_bytes(), headers={**swift, **XML}
    )
    assert amended.status_code == 202, amended.text
    for party in (acme, swift):
        parties = (await running.http.get("/v1/authorisations", headers=party)).json()["items"]
        assert [(p["forwarder"]["name"], p["trader"]["name"]) for p in parties] == [
            ("swift-forwarding", "acme-trading")
        ]


async def test_lodging_for_a_trader_without_authorisation_is_forbidden(
    backend_gateway: RunningGateway,
) -> None:
    running = backend_gateway
    acme = await running.add_client("acme-trading")
    await running.add_client("rival-trading")
    swift = await running.add_client("swift-forwarding", "forwarder")
    await running.http.put("/v1/authorisations/swift-forwarding", headers=acme)
    for trader in ("rival-trading", "no-such-trader", "swift-forwarding"):
        refused = await lodge(running, swift, trader)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"not authorised to lodge for {trader!r}"
    # A trader does not lodge for another trader, even one that named it.
    assert (await lodge(running, acme, "rival-trading")).status_code == 403
    rows = orjson.dumps(rows_of(2, invalid_rate=0.0, seed=4)[0])
    refused = await running.http.post(
        "/v1/ecommerce/consignments",
        content=rows,
        headers={**swift, **JSON, "TSW-On-Behalf-Of": "rival-trading"},
    )
    assert refused.status_code == 403
    # Without the header a forwarder lodges for itself, as before.
    own = await lodge(running, swift, None, **{"Idempotency-Key": "k-1"})
    assert own.status_code == 202
    # The same key and body again replays, but not as a lodging for a trader.
    assert (await lodge(running, swift, None, **{"Idempotency-Key": "k-1"})).status_code == 202
    assert (await lodge(running, swift, "acme-trading", **{"Idempotency-Key": "k-1"})).status_code == 409
    view = (await running.http.get(own.headers["location"], headers=swift)).json()
    assert view["on_behalf_of"] is None
    assert (await running.http.get(own.headers["location"], headers=acme)).status_code == 404


async def test_a_withdrawn_authorisation_stops_lodging_and_changing(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    acme = await running.add_client("acme-trading")
    swift = await running.add_client("swift-forwarding", "forwarder")
    await running.http.put("/v1/authorisations/swift-forwarding", headers=acme)
    lodged = await lodge(running, swift, "acme-trading")
    assert lodged.status_code == 202
    rows = orjson.dumps(rows_of(2, invalid_rate=0.0, seed=6)[0])
    consignments = await running.http.post(
        "/v1/ecommerce/consignments",
        content=rows,
        headers={**swift, **JSON, "TSW-On-Behalf-Of": "acme-trading"},
    )
    assert consignments.status_code == 202, consignments.text
    consignment = consignments.json()["results"][0]["id"]
    lodgement_receipt = verify_receipt(
        consignments.json()["lodgements"][0]["receipt"],
        (await running.http.get("/.well-known/jwks.json")).json(),
    )
    assert lodgement_receipt["on_behalf_of"] == "acme-trading"
    assert (await running.http.get(f"/v1/declarations/{consignment}", headers=acme)).status_code == 200

    withdrawn = await running.http.delete("/v1/authorisations/swift-forwarding", headers=acme)
    assert withdrawn.status_code == 204
    assert (await running.http.delete("/v1/authorisations/swift-forwarding", headers=acme)).status_code == 404
    assert (await lodge(running, swift, "acme-trading")).status_code == 403
    location = lodged.headers["location"]
    cancel = await running.http.post(f"{location}/cancellation", headers=swift)
    assert cancel.status_code == 403, cancel.text
    for reader in (acme, swift):  # what was lodged stays readable to both
        assert (await running.http.get(location, headers=reader)).status_code == 200
        assert (await running.http.get(f"/v1/declarations/{consignment}", headers=reader)).status_code == 200
    assert (await running.http.get("/v1/authorisations", headers=acme)).json()["items"] == []
    async with running.gateway.engine.connect() as connection:
        kinds = [
            row.kind for row in await connection.execute(select(audit_log.c.kind).order_by(audit_log.c.id))
        ]
    assert kinds.count("forwarder.authorised") == 1 and kinds.count("forwarder.deauthorised") == 1


async def test_a_traders_listing_merges_its_own_and_those_lodged_for_it(
    backend_gateway: RunningGateway,
) -> None:
    running = backend_gateway
    acme = await running.add_client("acme-trading")
    swift = await running.add_client("swift-forwarding", "forwarder")
    await running.http.put("/v1/authorisations/swift-forwarding", headers=acme)
    expected = []
    for index in range(7):
        caller, trader = (swift, "acme-trading") if index % 3 else (acme, None)
        answer = await lodge(running, caller, trader)
        assert answer.status_code == 202
        expected.append(answer.json()["id"])
    await lodge(running, swift, None)  # the forwarder's own: not the trader's
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await running.http.get("/v1/declarations", params=params, headers=acme)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected[::-1]  # newest first, each once
    lodged_for = (await running.http.get("/v1/declarations", params={"limit": "50"}, headers=swift)).json()
    assert len(lodged_for["items"]) == 5  # 4 for the trader, 1 of its own


async def test_admins_manage_authorisations_signing_keys_and_signature_rules(running: RunningGateway) -> None:
    admin = await running.add_client("root", "admin")
    acme = await running.add_client("acme-trading")
    swift = await running.add_client("swift-forwarding", "forwarder")
    swift_id = await client_id(running, "swift-forwarding")
    base = f"/v1/admin/clients/{swift_id}"
    granted = await running.http.put(f"{base}/authorisations/acme-trading", headers=admin)
    assert granted.status_code == 201, granted.text
    assert (await running.http.put(f"{base}/authorisations/acme-trading", headers=admin)).status_code == 200
    assert (await lodge(running, swift, "acme-trading")).status_code == 202
    listed = (await running.http.get(f"{base}/authorisations", headers=admin)).json()["items"]
    assert [item["trader"]["name"] for item in listed] == ["acme-trading"]
    by_name = await running.http.get("/v1/admin/clients/acme-trading/authorisations", headers=admin)
    assert [item["forwarder"]["id"] for item in by_name.json()["items"]] == [swift_id]
    assert (
        await running.http.put(f"{base}/authorisations/swift-forwarding", headers=admin)
    ).status_code == 404
    wrong_way = await running.http.put(
        "/v1/admin/clients/acme-trading/authorisations/acme-trading", headers=admin
    )
    assert wrong_way.status_code == 404  # acme is not a forwarder
    assert (
        await running.http.delete(f"{base}/authorisations/acme-trading", headers=admin)
    ).status_code == 204
    assert (await lodge(running, swift, "acme-trading")).status_code == 403
    assert (
        await running.http.delete(f"{base}/authorisations/acme-trading", headers=admin)
    ).status_code == 404

    key = Ed25519PrivateKey.generate()
    registered = await running.http.post("/v1/signing-keys", json=public_jwk(key), headers=acme)
    kid = registered.json()["kid"]
    keys = await running.http.get("/v1/admin/clients/acme-trading/signing-keys", headers=admin)
    assert [item["kid"] for item in keys.json()["items"]] == [kid]
    revoked = await running.http.delete(f"/v1/admin/clients/acme-trading/signing-keys/{kid}", headers=admin)
    assert revoked.status_code == 204
    body = EXAMPLE.read_bytes()
    refused = await running.http.post(
        "/v1/declarations", content=body, headers={**acme, **XML, "TSW-Signature": sign_origin(body, key)}
    )
    assert refused.status_code == 401 and refused.json()["errors"][0]["code"] == "signature.revoked-key"
    assert (
        await running.http.delete(f"/v1/admin/clients/acme-trading/signing-keys/{kid}x", headers=admin)
    ).status_code == 404
    assert (
        await running.http.put("/v1/admin/clients/root/require-signature", headers=admin)
    ).status_code == 409
    assert (await running.http.put(f"{base}/require-signature", headers=admin)).json()["require_signature"]
    assert (await lodge(running, swift, None)).status_code == 401


@pytest.fixture(params=["sqlite", "postgres"])
async def hooked(
    request: pytest.FixtureRequest, tmp_path: Path, kafka: LocalKafka
) -> AsyncIterator[RunningGateway]:
    """A gateway (each database) that lets webhooks point at 127.0.0.1 and fans out every 50 ms."""
    overrides: dict[str, object] = {"webhook_allow_private_hosts": True, "webhook_poll_ms": 50}
    if request.param == "sqlite":
        async with start_gateway(gateway_settings(tmp_path, kafka, **overrides)) as running:
            yield running
        return
    async with (
        fresh_postgres_database(request.getfixturevalue("postgres_url")) as url,
        start_gateway(gateway_settings(tmp_path, kafka, database_url=url, **overrides)) as running,
    ):
        yield running


async def test_the_trader_is_told_of_what_was_lodged_for_it(hooked: RunningGateway) -> None:
    running = hooked
    acme = await running.add_client("acme-trading")
    swift = await running.add_client("swift-forwarding", "forwarder")
    acme_id = await client_id(running, "acme-trading")
    await running.http.put("/v1/authorisations/swift-forwarding", headers=acme)
    hook = await running.http.post(
        "/v1/webhooks", json={"url": f"http://127.0.0.1:{free_port()}/"}, headers=acme
    )
    assert hook.status_code == 201, hook.text
    live = running.gateway.feed.changes(acme_id, after=None, heartbeat_s=0.5)
    first = asyncio.ensure_future(anext(live))
    await asyncio.sleep(0.3)  # subscribed before the change happens
    lodged = (await lodge(running, swift, "acme-trading")).json()["id"]
    async with asyncio.timeout(30):
        change = await first
        while change is None or change.declaration_id != lodged:
            change = await anext(live)
    assert (change.status, change.trader, change.on_behalf_of) == (
        "ACCEPTED",
        await client_id(running, "swift-forwarding"),
        acme_id,
    )
    await live.aclose()
    replayed = running.gateway.feed.changes(acme_id, after=0, heartbeat_s=0.5)  # Last-Event-ID 0
    async with asyncio.timeout(30):
        missed = await anext(replayed)
    await replayed.aclose()
    assert missed is not None and missed.declaration_id == lodged
    async with asyncio.timeout(30):
        while True:
            deliveries = await running.http.get(f"/v1/webhooks/{hook.json()['id']}/deliveries", headers=acme)
            items = deliveries.json()["items"]
            if items:
                break
            await asyncio.sleep(0.1)
    assert {item["declaration_id"] for item in items} == {lodged}
