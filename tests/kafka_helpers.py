"""Reading what the gateway routed: consume a topic from the start until the wanted keys are seen."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, ConsumerRecord


async def consume_keys(
    bootstrap_servers: str,
    topic: str,
    keys: Collection[str],
    *,
    timeout_s: float = 60.0,
    settle_s: float = 1.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on `topic` whose key is in `keys`, reading from the beginning.

    Waits until each key was seen at least once, then keeps reading for `settle_s` more so that any
    duplicate would be caught too.
    """
    wanted = set(keys)
    found: list[ConsumerRecord[bytes, bytes]] = []
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while wanted - {r.key.decode() for r in found if r.key}:
                batch = await consumer.getmany(timeout_ms=500)
                found.extend(
                    r for records in batch.values() for r in records if r.key and r.key.decode() in wanted
                )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle_s
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            found.extend(
                r for records in batch.values() for r in records if r.key and r.key.decode() in wanted
            )
    finally:
        await consumer.stop()
    return found


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


async def routed_event_ids(
    bootstrap_servers: str, declaration_id: str, agencies: Collection[str], *, action: str = "submitted"
) -> dict[str, str]:
    """The `ce_id` of the latest event of `action` routed to each agency for a declaration."""
    from gateway.contracts.events import event_type
    from gateway.contracts.topics import route_topic

    ids: dict[str, str] = {}
    for agency in agencies:
        records = await consume_keys(bootstrap_servers, route_topic(agency), [declaration_id], settle_s=0.2)
        matching = [headers_of(r) for r in records if headers_of(r)["ce_type"] == event_type(action)]
        assert matching, f"no {action} event routed to {agency} for {declaration_id}"
        ids[agency] = matching[-1]["ce_id"]
    return ids
