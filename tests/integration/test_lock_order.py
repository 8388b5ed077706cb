"""On PostgreSQL, the relay recording a publication and the response consumer applying an answer to
the same declaration take their row locks in one order (the declarations, in id order, then the
outbox rows), so neither waits on the other in a cycle. The relay used to update the outbox first:
the two deadlocked, and PostgreSQL broke the tie only after its one-second `deadlock_timeout`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.localkafka import LocalKafka
from gateway.messaging.relay import OutboxRelay
from tests.conftest import RunningGateway, fresh_postgres_database, gateway_settings, start_gateway
from tests.examples import examples


@pytest.fixture
async def pg_gateway(tmp_path: Path, kafka: LocalKafka, postgres_url: str) -> AsyncIterator[RunningGateway]:
    async with (
        fresh_postgres_database(postgres_url) as url,
        start_gateway(gateway_settings(tmp_path, kafka, database_url=url)) as running,
    ):
        yield running


async def test_the_relay_and_an_answer_lock_in_the_same_order(
    pg_gateway: RunningGateway,
) -> None:
    running = pg_gateway
    workers = running.gateway.messaging
    assert workers is not None
    relay: OutboxRelay = workers.relay
    await relay.stop()  # this test publishes by hand
    trader = await running.add_client("lock-order-trader")
    accepted = await running.http.post(
        "/v1/declarations",
        content=examples("hk.aci.road", suffix=".json")[0].read_bytes(),
        headers={**trader, "Content-Type": "application/json"},
    )
    assert accepted.status_code == 202, accepted.text
    declaration_id = accepted.json()["id"]
    async with running.gateway.uow_factory() as uow:
        [event_id, *_] = [event.headers["ce_id"] for event in await uow.outbox.pending(10)]

    async with running.gateway.uow_factory() as consumer:  # as the response consumer's round does
        await consumer.answers.states_many([declaration_id])  # the declaration, locked
        publishing = asyncio.create_task(relay.publish_batch())  # sends, then records: waits on it
        await asyncio.sleep(0.5)
        assert not publishing.done(), "the relay recorded a publication under the consumer's lock"
        started = time.monotonic()
        await consumer.answers.confirm_published_many([event_id], at=datetime.now(UTC))
        waited = time.monotonic() - started
        await consumer.commit()
    async with asyncio.timeout(30):
        published = await publishing

    assert waited < 0.5, f"the answer waited {waited:.2f} s for the relay's lock on the outbox row"
    assert published >= 1
    view = (await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)).json()
    assert view["status"] == "ROUTED"
