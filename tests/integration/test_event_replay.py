"""`Last-Event-ID`: a client that reconnects is sent every change it missed, however many, a page of
reads at a time, each once and in order, before the live ones."""

from __future__ import annotations

import asyncio

from gateway.notifications import StatusFeed
from gateway.store.status_changes import read_status_changes
from tests.conftest import RunningGateway
from tests.examples import examples
from tests.integration.test_forwarders import client_id


async def test_a_reconnecting_client_is_sent_every_missed_change_in_pages(running: RunningGateway) -> None:
    trader = await running.add_client("replay-trader")
    other = await running.add_client("replay-other")
    trader_id = await client_id(running, "replay-trader")
    body = examples("hk.aci.road", suffix=".json")[0].read_bytes()
    for caller in [trader, other] * 6:
        answer = await running.http.post(
            "/v1/declarations", content=body, headers={**caller, "Content-Type": "application/json"}
        )
        assert answer.status_code == 202, answer.text
    async with running.gateway.uow_factory() as uow:
        everything = await read_status_changes(uow.connection, after=0, limit=1_000)
    mine = [change for change in everything if change.trader == trader_id]
    assert len(mine) >= 6

    feed = StatusFeed(running.gateway.uow_factory, replay_page=4)
    since = mine[0].id  # Last-Event-ID: the first change; every later one is missed
    stream = feed.changes(trader_id, after=since, heartbeat_s=0.5)
    replayed = []
    try:
        async with asyncio.timeout(30):
            async for change in stream:
                if change is None:  # a heartbeat: nothing more to replay, nothing live
                    break
                replayed.append(change)
    finally:
        await stream.aclose()
        await feed.stop()
    expected = [change.id for change in mine if change.id > since]
    later = [change.id for change in replayed]
    # Changes may still be landing (ROUTED): the replay holds at least those missed by the time
    # of the read above, in order, each once, and only the trader's.
    assert later[: len(expected)] == expected, (later, expected)
    assert later == sorted(set(later))
    assert {change.trader for change in replayed} == {trader_id}
    assert len(expected) > 4, "more than one page missed"
