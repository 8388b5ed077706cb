"""Credentials and abuse limits through the API: expiry, revocation and rotation (with its grace), an
agency reading only what was routed to it, per-client rate limits, and no secret in the logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from gateway.clients import ClientService
from gateway.config import REPO_ROOT
from gateway.localkafka import LocalKafka
from gateway.logs import DRIVER_LOGGERS, quiet_drivers
from tests.conftest import RunningGateway, gateway_settings, start_gateway
from tests.integration.test_ecommerce import rows_of

EXAMPLE = REPO_ROOT / "schemas" / "hk.tdec" / "examples" / "valid" / "import-electronics-cn-sea.xml"


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


async def submit(running: RunningGateway, headers: dict[str, str]) -> str:
    answer = await running.http.post(
        "/v1/declarations",
        content=EXAMPLE.read_bytes(),
        headers={**headers, "Content-Type": "application/xml"},
    )
    assert answer.status_code == 202, answer.text
    identifier: str = answer.json()["id"]
    return identifier


@pytest.fixture
async def quick(tmp_path: Path, kafka: LocalKafka) -> AsyncIterator[RunningGateway]:
    """A gateway whose API-key cache lasts 0.2 s and whose clients may send 5 requests, then 1/s."""
    settings = gateway_settings(
        tmp_path, kafka, api_key_cache_s=0.2, rate_limit_per_s=1.0, rate_limit_burst=5
    )
    async with start_gateway(settings) as running:
        yield running


async def test_rotation_keeps_the_old_key_for_its_grace_then_refuses_it(running: RunningGateway) -> None:
    clients = running.gateway.clients
    _, old_key = await clients.add("rotating", role="trader")
    assert (await running.http.get("/v1/declarations", headers=bearer(old_key))).status_code == 200
    _, new_key = await clients.rotate("rotating", grace=timedelta(seconds=1))
    for key in (old_key, new_key):  # no downtime: both work during the grace period
        assert (await running.http.get("/v1/declarations", headers=bearer(key))).status_code == 200
    await asyncio.sleep(1.1)
    refused = await running.http.get("/v1/declarations", headers=bearer(old_key))
    assert refused.status_code == 401
    assert refused.json()["detail"] == "API key rotated out: use the new key"
    assert (await running.http.get("/v1/declarations", headers=bearer(new_key))).status_code == 200
    _, newest = await clients.rotate("rotating", grace=timedelta(hours=1))
    assert (await running.http.get("/v1/declarations", headers=bearer(newest))).status_code == 200
    assert (await running.http.get("/v1/declarations", headers=bearer(new_key))).status_code == 200


async def test_expiry_is_checked_on_every_request_cached_or_not(running: RunningGateway) -> None:
    _, api_key = await running.gateway.clients.add(
        "short-lived", role="trader", expires_at=datetime.now(UTC) + timedelta(seconds=0.5)
    )
    assert (await running.http.get("/v1/declarations", headers=bearer(api_key))).status_code == 200
    await asyncio.sleep(0.6)
    answer = await running.http.get("/v1/declarations", headers=bearer(api_key))
    assert answer.status_code == 401
    assert answer.json()["detail"] == "API key expired"


async def test_a_revocation_by_another_process_applies_within_the_cache_time(quick: RunningGateway) -> None:
    _, api_key = await quick.gateway.clients.add("revoked-elsewhere", role="trader")
    assert (await quick.http.get("/v1/declarations", headers=bearer(api_key))).status_code == 200
    await ClientService(quick.gateway.uow_factory).revoke("revoked-elsewhere")  # as `tsw clients revoke`
    await asyncio.sleep(0.25)
    answer = await quick.http.get("/v1/declarations", headers=bearer(api_key))
    assert answer.status_code == 401
    assert answer.json()["detail"] == "API key revoked"


async def test_an_agency_reads_only_what_was_routed_to_it(running: RunningGateway) -> None:
    trader = await running.add_client("lodging-trader")
    declaration_id = await submit(running, trader)  # hk.tdec: customs and censtatd
    rows, _ = rows_of(2, invalid_rate=0.0, seed=3)  # hk.ecom.lvc: customs and logistics
    lodged = await running.http.post(
        "/v1/ecommerce/consignments",
        content=orjson.dumps(rows),
        headers={**trader, "Content-Type": "application/json"},
    )
    consignment_id = lodged.json()["results"][0]["id"]
    readers = {}
    for agency in ("customs", "censtatd", "logistics", "tid"):
        _, api_key = await running.gateway.clients.add(f"{agency}-officer", role="agency", agency=agency)
        readers[agency] = bearer(api_key)

    def status_of(agency: str, identifier: str) -> object:
        return running.http.get(f"/v1/declarations/{identifier}", headers=readers[agency])

    seen = {
        agency: (
            (await status_of(agency, declaration_id)).status_code,
            (await status_of(agency, consignment_id)).status_code,
        )
        for agency in readers
    }
    assert seen == {"customs": (200, 200), "censtatd": (200, 404), "logistics": (404, 200), "tid": (404, 404)}
    listed = await running.http.get("/v1/declarations", headers=readers["logistics"])
    assert {item["id"] for item in listed.json()["items"]} == {r["id"] for r in lodged.json()["results"]}
    document = await running.http.get(
        f"/v1/declarations/{declaration_id}/versions/1/document", headers=readers["censtatd"]
    )
    assert document.content == EXAMPLE.read_bytes()
    refused = await running.http.post(
        "/v1/declarations",
        content=EXAMPLE.read_bytes(),
        headers={**readers["customs"], "Content-Type": "application/xml"},
    )
    assert refused.status_code == 403


async def test_a_client_over_its_rate_is_answered_429_with_retry_after(quick: RunningGateway) -> None:
    trader = await quick.add_client("eager")
    other = await quick.add_client("patient")
    codes = [(await quick.http.get("/v1/declarations", headers=trader)).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    refused = await quick.http.get("/v1/declarations", headers=trader)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert (await quick.http.get("/v1/declarations", headers=other)).status_code == 200
    assert (await quick.http.get("/healthz")).status_code == 200  # unauthenticated routes: not per client


async def test_keys_and_buyer_references_never_reach_the_logs(
    running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger at DEBUG, but the drivers as the gateway sets them:
    levels = {name: logging.getLogger(name).level for name in DRIVER_LOGGERS}
    quiet_drivers()  # aiosqlite and aiokafka would log statement parameters and record values
    try:
        await _submit_lodge_and_create_clients(running, caplog)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def _submit_lodge_and_create_clients(running: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    admin = await running.add_client("log-admin", "admin")
    created = await running.http.post(
        "/v1/admin/clients", json={"name": "log-trader", "role": "trader"}, headers=admin
    )
    api_key = created.json()["api_key"]
    await submit(running, bearer(api_key))
    rows, _ = rows_of(5, invalid_rate=0.0, seed=11)
    lodged = await running.http.post(
        "/v1/ecommerce/consignments",
        content=orjson.dumps(rows),
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert lodged.status_code == 202
    rotated = await running.http.post("/v1/admin/clients/log-trader/rotate-key", headers=admin)
    await asyncio.sleep(0.5)  # the relay publishes the routed events meanwhile
    secrets = [api_key, rotated.json()["api_key"], admin["Authorization"].split()[1]]
    buyer_refs = {row["buyer_id_ref"] for row in rows if row.get("buyer_id_ref")}
    assert buyer_refs and caplog.records
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records
    )
    for value in [*secrets, *buyer_refs]:
        assert [r.name for r in caplog.records if value in f"{r.getMessage()} {r.args!r}"] == []
        assert value not in logged
