"""How the route topics sit on a cluster: replicas and leaders per partition, `min.insync.replicas`,
and how many records they hold (their summed end offsets), read with the admin API.

The cluster scenario uses it to check the durability it relies on (every partition on three nodes,
two of them in sync before a write counts), to name what a killed node led, and to see that routing
went on while the node was down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from gateway.contracts.agencies import AGENCIES
from gateway.contracts.topics import route_topic

__all__ = ["RouteTopology", "appended_records", "route_offsets", "route_partitions", "route_topology"]

_TIMEOUT_S = 30.0


@dataclass
class RouteTopology:
    partitions: int = 0
    min_replicas: int = 0  # the fewest replicas any route partition has
    min_insync_replicas: dict[str, int] = field(default_factory=dict)  # topic -> min.insync.replicas
    leaders: dict[int, int] = field(default_factory=dict)  # node id -> route partitions it leads

    def durable(self, *, replicas: int, min_insync: int) -> bool:
        return (
            self.partitions > 0
            and self.min_replicas >= replicas
            and bool(self.min_insync_replicas)
            and all(value >= min_insync for value in self.min_insync_replicas.values())
        )


def _route_topics(agencies: Collection[str]) -> list[str]:
    return [route_topic(agency) for agency in sorted(agencies)]


async def route_topology(bootstrap_servers: str, *, agencies: Collection[str] = AGENCIES) -> RouteTopology:
    topics = _route_topics(agencies)
    topology = RouteTopology()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="tsw-chaos-topology")
    async with asyncio.timeout(_TIMEOUT_S):
        await admin.start()
        try:
            for topic in await admin.describe_topics(topics):
                _count_partitions(topology, topic)
            resources = [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
            for response in await admin.describe_configs(resources):
                _read_min_insync(topology, response.to_object())
        finally:
            await admin.close()
    return topology


def _count_partitions(topology: RouteTopology, topic: dict[str, Any]) -> None:
    for partition in topic["partitions"]:
        replicas = len(partition["replicas"])
        topology.min_replicas = replicas if not topology.partitions else min(topology.min_replicas, replicas)
        topology.partitions += 1
        leader = int(partition["leader"])
        topology.leaders[leader] = topology.leaders.get(leader, 0) + 1


def _read_min_insync(topology: RouteTopology, response: dict[str, Any]) -> None:
    for resource in response["resources"]:
        for entry in resource["config_entries"]:
            if entry["config_names"] == "min.insync.replicas":
                topology.min_insync_replicas[resource["resource_name"]] = int(entry["config_value"])


async def appended_records(bootstrap_servers: str, *, agencies: Collection[str] = AGENCIES) -> int | None:
    """The records on the route topics so far (summed end offsets); None when the cluster cannot say."""
    try:
        async with asyncio.timeout(_TIMEOUT_S), route_offsets(bootstrap_servers, agencies=agencies) as count:
            return await count()
    except (KafkaError, OSError, TimeoutError):
        return None


@contextlib.asynccontextmanager
async def route_offsets(
    bootstrap_servers: str, *, agencies: Collection[str] = AGENCIES
) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """A function summing the route topics' end offsets, on one connection (a few ms per call), for
    watching records arrive. Entering waits (wrap it in a timeout) until the broker answers and
    every route topic is there, so it may be entered while a broker is still starting."""
    topics = _route_topics(agencies)
    consumer = await _started_consumer(bootstrap_servers)
    try:
        partitions = await route_partitions(bootstrap_servers, topics)
        while {tp.topic for tp in partitions} != set(topics):
            await asyncio.sleep(0.1)
            partitions = await route_partitions(bootstrap_servers, topics)

        async def count() -> int:
            ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
            return sum(ends.values())

        yield count
    finally:
        await consumer.stop()


async def _started_consumer(bootstrap_servers: str) -> AIOKafkaConsumer:
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id="tsw-chaos-offsets")
        try:
            await consumer.start()
        except (KafkaError, OSError):
            await consumer.stop()
            await asyncio.sleep(0.1)
            continue
        return consumer


async def route_partitions(bootstrap_servers: str, topics: Collection[str]) -> list[TopicPartition]:
    """The partitions of those of `topics` that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="tsw-chaos-partitions")
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], int(partition["partition"]))
        for topic in described
        if topic["error_code"] == 0
        for partition in sorted(topic["partitions"], key=lambda p: int(p["partition"]))
    ]
