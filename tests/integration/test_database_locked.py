"""SQLite's write lock held by another process for longer than the busy timeout: writes answer 503
with Retry-After (reads go on), nothing is half-written, the background workers wait and catch up,
and the same gateway serves again once the lock is gone."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from gateway.chaos.integrity import check_integrity
from gateway.chaos.sqlite_lock import WriteLockHolder
from gateway.contracts.responses import AgencyStatus
from gateway.contracts.topics import RESPONSES_TOPIC, route_topic
from gateway.localkafka import LocalKafka
from tests.conftest import RunningGateway, gateway_settings, start_gateway
from tests.examples import content_type, examples
from tests.integration.test_response_loop import answer as publish_answer
from tests.kafka_helpers import consume_keys, headers_of, routed_event_ids
from tests.route_sweep import sweep, sweep_ids

_BUSY_TIMEOUT_MS = 400
_WORKERS = ("outbox-relay", "response-consumer", "webhook-dispatcher", "audit-chainer")


@pytest.fixture
async def locked_gateway(tmp_path: Path, kafka: LocalKafka) -> AsyncIterator[RunningGateway]:
    settings = gateway_settings(tmp_path, kafka, database_timeout_ms=_BUSY_TIMEOUT_MS)
    async with start_gateway(settings) as running:
        yield running


def _lock(running: RunningGateway) -> WriteLockHolder:
    return WriteLockHolder(running.settings.data_dir / "tsw.db")


def _documents(pack: str, suffix: str = "") -> list[tuple[bytes, str]]:
    return [(path.read_bytes(), content_type(path)) for path in examples(pack, suffix=suffix)]


async def _submit(
    running: RunningGateway, trader: dict[str, str], document: tuple[bytes, str], key: str
) -> tuple[int, dict[str, Any]]:
    """POST a declaration; the status and the JSON body, with the answer's headers under `_headers`."""
    body, media_type = document
    answer = await running.http.post(
        "/v1/declarations",
        content=body,
        headers={**trader, "Content-Type": media_type, "Idempotency-Key": key},
    )
    return answer.status_code, answer.json() | {"_headers": dict(answer.headers)}


async def _status(running: RunningGateway, trader: dict[str, str], declaration_id: str) -> str:
    return str(
        (await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)).json()["status"]
    )


async def _until_status(
    running: RunningGateway, trader: dict[str, str], ids: list[str], wanted: str, *, timeout_s: float = 60
) -> None:
    async with asyncio.timeout(timeout_s):
        for declaration_id in ids:
            while await _status(running, trader, declaration_id) != wanted:  # noqa: ASYNC110 - polling HTTP
                await asyncio.sleep(0.05)


def _workers_alive() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks() if not task.done()} & set(_WORKERS)


async def test_writes_answer_503_with_retry_after_while_locked_and_nothing_is_half_written(
    locked_gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    running = locked_gateway
    trader = await running.add_client("locked-out-trader")
    admin = await running.add_client("locked-out-admin", role="admin")
    documents = _documents("hk.tdec")
    status, first = await _submit(running, trader, documents[0], "before")
    assert status == 202
    await _until_status(running, trader, [first["id"]], "ROUTED")

    lock = _lock(running)
    await asyncio.to_thread(lock.acquire)
    try:
        keys = [f"during-{i}" for i in range(3)]
        for key, document in zip(keys, documents, strict=False):
            started = time.monotonic()
            status, problem = await _submit(running, trader, document, key)
            assert status == 503, problem
            assert problem["_headers"]["content-type"] == "application/problem+json"
            assert int(problem["_headers"]["retry-after"]) > 0
            assert problem["type"].endswith("/service-unavailable")
            # Answered once the busy timeout ran out, long before the 30 s request deadline.
            assert time.monotonic() - started < 10 * _BUSY_TIMEOUT_MS / 1000 + 5
        client = await running.http.post(
            "/v1/admin/clients", json={"name": "new", "role": "trader"}, headers=admin
        )
        assert client.status_code == 503
        assert "retry-after" in client.headers
        cancel = await running.http.post(f"/v1/declarations/{first['id']}/cancellation", headers=trader)
        assert cancel.status_code == 503
        assert "retry-after" in cancel.headers
        # The trader reads "database unavailable"; the operator's log says why.
        assert f"POST /v1/declarations/{first['id']}/cancellation: 503 database unavailable" in caplog.text
        assert "(database is locked)" in caplog.text
        # Readers are not blocked in WAL mode: the trader still sees what it has.
        assert await _status(running, trader, first["id"]) == "ROUTED"
        await asyncio.sleep(2 * _BUSY_TIMEOUT_MS / 1000)  # the workers fail and back off meanwhile
        assert _workers_alive() == set(_WORKERS)
    finally:
        await asyncio.to_thread(lock.release)

    # The same gateway serves again at once; the refused submissions were never stored, so the
    # same Idempotency-Keys are fresh submissions now, not replays.
    accepted = [first["id"]]
    for key, document in zip(keys, documents, strict=False):
        status, answer = await _submit(running, trader, document, key)
        assert status == 202, answer
        assert answer["_headers"].get("idempotent-replayed") != "true"
        accepted.append(answer["id"])
    await _until_status(running, trader, accepted, "ROUTED")
    assert _workers_alive() == set(_WORKERS)

    assert running.gateway.messaging is not None and running.gateway.messaging.audit is not None
    await running.gateway.messaging.audit.run_once(force_checkpoint=True)
    integrity = await check_integrity(running.gateway.uow_factory, jwks=running.gateway.keys.jwks())
    assert integrity.declarations == len(accepted), integrity.summary()
    assert integrity.whole, integrity.summary()
    assert integrity.unpublished == 0


async def test_every_route_answers_while_sqlite_is_locked(tmp_path: Path, kafka: LocalKafka) -> None:
    """Each route of the OpenAPI document under the lock: writers a 503 with Retry-After once the busy
    timeout ran out, readers their usual answer; never a 500, never a hang."""
    settings = gateway_settings(
        tmp_path,
        kafka,
        database_timeout_ms=_BUSY_TIMEOUT_MS,
        api_key_cache_s=600,
        webhook_allow_private_hosts=True,
    )
    async with start_gateway(settings) as running:
        trader = await running.add_client("swept-trader")
        admin = await running.add_client("swept-admin", role="admin")
        ids = await sweep_ids(running, trader, admin)
        lock = _lock(running)
        await asyncio.to_thread(lock.acquire)
        try:
            answers = await sweep(running, ids=ids, trader=trader, admin=admin)
        finally:
            await asyncio.to_thread(lock.release)
    faults = [fault for answer in answers if (fault := answer.fault()) is not None]
    assert faults == []
    statuses = {(answer.method, answer.path): answer.status for answer in answers}
    assert statuses[("GET", f"/v1/declarations/{ids['declaration_id']}")] == 200  # reads go on
    assert statuses[("DELETE", f"/v1/webhooks/{ids['webhook_id']}")] == 503  # writes wait, then 503
    assert statuses[("POST", f"/v1/admin/clients/{ids['client_id']}/revoke")] == 503


async def test_the_relay_records_what_it_sent_once_the_lock_is_gone_and_sends_nothing_twice(
    locked_gateway: RunningGateway,
) -> None:
    running = locked_gateway
    assert running.gateway.messaging is not None
    relay = running.gateway.messaging.relay
    await relay.stop()  # let submissions pile up in the outbox
    trader = await running.add_client("relay-trader")
    ids = []
    for document in _documents("hk.aci.road"):
        status, answer = await _submit(running, trader, document, str(uuid.uuid4()))
        assert status == 202
        ids.append(answer["id"])

    lock = _lock(running)
    await asyncio.to_thread(lock.acquire)
    try:
        await relay.start()  # reads the outbox, publishes, then cannot record it: keeps it
        await asyncio.sleep(3 * _BUSY_TIMEOUT_MS / 1000 + 1)
        assert {await _status(running, trader, i) for i in ids} == {"ACCEPTED"}
        assert "outbox-relay" in _workers_alive()
    finally:
        await asyncio.to_thread(lock.release)
    await _until_status(running, trader, ids, "ROUTED", timeout_s=30)

    for agency in ("customs", "logistics"):
        records = await consume_keys(
            running.settings.kafka_bootstrap_servers, route_topic(agency), ids, settle_s=1.5
        )
        event_ids = Counter(headers_of(record)["ce_id"] for record in records)
        assert len(event_ids) == len(ids), agency
        assert max(event_ids.values()) == 1, f"sent twice on {agency}: {event_ids.most_common(2)}"


async def test_the_response_consumer_holds_answers_and_their_offsets_until_the_lock_is_gone(
    locked_gateway: RunningGateway,
) -> None:
    running = locked_gateway
    assert running.gateway.messaging is not None
    trader = await running.add_client("answered-while-locked")
    document = _documents("hk.tdec", suffix=".json")[0]
    status, answer = await _submit(running, trader, document, "answered")
    assert status == 202
    declaration_id = answer["id"]
    await _until_status(running, trader, [declaration_id], "ROUTED")
    routed = await routed_event_ids(running.settings.kafka_bootstrap_servers, declaration_id, ["customs"])
    async with asyncio.timeout(60):
        await running.gateway.messaging.responses.ready.wait()

    lock = _lock(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    await asyncio.to_thread(lock.acquire)
    try:
        sent = await publish_answer(
            producer,
            declaration_id,
            "customs",
            AgencyStatus.CLEARED,
            "CLEARED",
            in_reply_to=routed["customs"],
        )
        partition, offset = sent.partition, sent.offset
        await asyncio.sleep(3 * _BUSY_TIMEOUT_MS / 1000 + 1.5)
        assert await _status(running, trader, declaration_id) == "ROUTED"  # not applied...
        assert (await _committed(running)).get(partition, 0) <= offset  # ...so not committed past
        assert "response-consumer" in _workers_alive()
    finally:
        await asyncio.to_thread(lock.release)
        await producer.stop()
    await _until_status(running, trader, [declaration_id], "UNDER_REVIEW", timeout_s=30)
    async with asyncio.timeout(30):
        while (await _committed(running)).get(partition, 0) <= offset:  # noqa: ASYNC110 - polling Kafka
            await asyncio.sleep(0.1)


async def _committed(running: RunningGateway) -> dict[int, int]:
    """The response consumer group's committed offset on each partition of tsw.responses."""
    admin = AIOKafkaAdminClient(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(running.settings.response_group_id)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == RESPONSES_TOPIC}
