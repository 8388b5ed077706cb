"""`GET /v1/events` on a served gateway: every status change of the caller's declarations, once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from gateway.contracts.responses import AgencyStatus
from gateway.localkafka import LocalKafka
from tests.e2e.conftest import tsw
from tests.examples import examples
from tests.integration.test_response_loop import answer
from tests.kafka_helpers import routed_event_ids


async def read_events(lines: AsyncIterator[str], count: int) -> list[tuple[int, dict[str, object]]]:
    events: list[tuple[int, dict[str, object]]] = []
    event_id, data = None, None
    async with asyncio.timeout(60):
        async for line in lines:
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                data = orjson.loads(line[6:])
            elif line == "" and event_id is not None and data is not None:
                events.append((event_id, data))
                event_id, data = None, None
                if len(events) == count:
                    return events
    return events


async def test_status_changes_stream_once_and_in_order(
    served: tuple[str, dict[str, str]], kafka: LocalKafka
) -> None:
    url, env = served
    api_key = tsw("clients", "add", "sse-trader", env=env).stdout.strip().splitlines()[-1]
    other_key = tsw("clients", "add", "sse-other", env=env).stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {api_key}"}
    body = examples("hk.aci.road", suffix=".json")[0].read_bytes()

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        async with http.stream("GET", "/v1/events", headers=auth) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            await asyncio.sleep(0.5)  # the feed is listening
            await http.post(
                "/v1/declarations",
                content=body,
                headers={**{"Authorization": f"Bearer {other_key}"}, "Content-Type": "application/json"},
            )
            accepted = (
                await http.post(
                    "/v1/declarations", content=body, headers={**auth, "Content-Type": "application/json"}
                )
            ).json()
            declaration_id = accepted["id"]
            first = await read_events(lines, 2)
            producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
            await producer.start()
            try:
                routed = await routed_event_ids(
                    kafka.bootstrap_servers, declaration_id, ["customs", "logistics"]
                )
                for agency, decision in [
                    ("customs", "CLEARED"),
                    ("customs", "CLEARED"),
                    ("logistics", "RELEASED"),
                ]:
                    await answer(
                        producer,
                        declaration_id,
                        agency,
                        AgencyStatus.CLEARED,
                        decision,
                        in_reply_to=routed[agency],
                    )
            finally:
                await producer.stop()
            rest = await read_events(lines, 2)

        events = first + rest
        assert [e["status"] for _, e in events] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "CLEARED"]
        assert {e["declaration_id"] for _, e in events} == {declaration_id}
        ids = [i for i, _ in events]
        assert ids == sorted(ids) and len(set(ids)) == 4

        resume = {**auth, "Last-Event-ID": str(ids[1])}
        async with http.stream("GET", "/v1/events", headers=resume) as again:
            replayed = await read_events(again.aiter_lines(), 2)
        assert replayed == events[2:]
