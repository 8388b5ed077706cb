"""aiokafka wiring for an adapter: its consumer (one group per agency, offsets committed by hand), its
idempotent producer, and creating the topics it writes to.

aiokafka defaults to ``acks=1`` without idempotence and to auto-commit; all three are set explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from adapters.config import AdapterSettings
from gateway.contracts import provisioning

__all__ = ["create_consumer", "create_producer", "ensure_topics"]


def create_consumer(settings: AdapterSettings) -> AIOKafkaConsumer:
    """The consumer of the agency's group; it subscribes to the routed topic once started."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.effective_group_id,
        client_id=f"tsw-adapter-{settings.agency.value}",
        enable_auto_commit=False,
        auto_offset_reset=settings.auto_offset_reset,
        isolation_level="read_committed",
        max_poll_records=settings.max_poll_records,
        max_partition_fetch_bytes=settings.max_message_bytes,
        fetch_max_bytes=max(settings.max_message_bytes, 52_428_800),
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=max(1000, settings.kafka_session_timeout_ms // 3),
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        request_timeout_ms=max(settings.kafka_request_timeout_ms, settings.kafka_session_timeout_ms + 5000),
    )


def create_producer(settings: AdapterSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"tsw-adapter-{settings.agency.value}",
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
        max_request_size=settings.max_message_bytes,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )


async def ensure_topics(settings: AdapterSettings, topics: Iterable[str]) -> None:
    """Create the topics this adapter reads or writes if they are missing (as the gateway does)."""
    await provisioning.ensure_topics(
        settings.kafka_bootstrap_servers,
        topics,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_message_bytes=settings.max_message_bytes,
    )
