"""A status change that PostgreSQL commits late still reaches the trader's event stream and webhooks.

PostgreSQL hands out a history id when the row is inserted; its transaction may commit after
thousands of higher ids are visible. Here the late row's transaction stays open while 3,000 changes
of another trader's declaration commit, and a marker change of the trader's own shows that the
readers have moved past them all, before the late one commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import select

from gateway.localkafka import LocalKafka
from gateway.notifications import StatusChange
from gateway.store.tables import webhook_deliveries
from tests.conftest import RunningGateway, fresh_postgres_database, gateway_settings, start_gateway
from tests.integration.test_response_loop import view_when
from tests.integration.test_webhooks import post_json, submit
from tests.webhook_receiver import WebhookReceiver

LATER = 3000  # changes committed while the late one's transaction is open

INSERT = (
    "INSERT INTO status_history (declaration_id, status, at, detail)"
    " VALUES ($1, 'UNDER_REVIEW', now(), $2) RETURNING id"
)


async def test_a_change_committed_late_reaches_the_stream_and_the_webhooks(
    tmp_path: Path, kafka: LocalKafka, postgres_url: str
) -> None:
    async with (
        WebhookReceiver() as receiver,
        fresh_postgres_database(postgres_url) as url,
        start_gateway(
            gateway_settings(
                tmp_path, kafka, database_url=url, webhook_allow_private_hosts=True, webhook_poll_ms=50
            )
        ) as running,
        _connection(url) as late,
        _connection(url) as others,
    ):
        client, api_key = await running.gateway.clients.add("late-trader", role="trader")
        trader = {"Authorization": f"Bearer {api_key}"}
        hook = await post_json(running, "/v1/webhooks", {"url": receiver.url}, trader)
        assert hook.status_code == 201, hook.text
        mine = await submit(running, trader)
        theirs = await submit(running, await running.add_client("other-trader"))
        await view_when(running, trader, mine, "ROUTED")

        stream: list[StatusChange] = []
        listening = asyncio.create_task(_listen(running, client.id, stream))
        try:
            await asyncio.sleep(0.5)  # the feed is running
            transaction = late.transaction()
            await transaction.start()
            late_id = await late.fetchval(INSERT, mine, "committed late")
            async with others.transaction():
                await others.executemany(INSERT, [(theirs, f"change {n}") for n in range(LATER)])
            marker_id = await others.fetchval(INSERT, mine, "marker")
            await _until(lambda: _streamed(stream, marker_id))
            await _until(lambda: _fanned_out(running, marker_id))
            await transaction.commit()

            await _until(lambda: _streamed(stream, late_id))
            await _until(lambda: _fanned_out(running, late_id))
        finally:
            listening.cancel()

    assert late_id < marker_id - LATER
    ids = [change.id for change in stream]
    assert len(ids) == len(set(ids)), "a change streamed twice"
    assert ids[-2:] == [marker_id, late_id]
    assert [change.detail for change in stream[-2:]] == ["marker", "committed late"]


async def _listen(running: RunningGateway, client_id: str, into: list[StatusChange]) -> None:
    async for change in running.gateway.feed.changes(client_id, after=None, heartbeat_s=0.2):
        if change is not None:
            into.append(change)


async def _streamed(stream: list[StatusChange], history_id: int) -> bool:
    return history_id in [change.id for change in stream]


async def _fanned_out(running: RunningGateway, history_id: int) -> bool:
    """Whether the fan-out made a delivery of this history row."""
    query = select(webhook_deliveries.c.id).where(webhook_deliveries.c.history_id == history_id)
    async with running.gateway.uow_factory() as uow:
        return (await uow.connection.execute(query)).first() is not None


async def _until(condition: Callable[[], Awaitable[bool]], timeout_s: float = 30) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.05)


@asynccontextmanager
async def _connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        yield connection
    finally:
        await connection.close()
