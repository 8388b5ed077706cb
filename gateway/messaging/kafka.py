"""aiokafka wiring for the gateway: the idempotent producer, the response consumer, a broker probe.

aiokafka defaults to `acks=1` without idempotence; the gateway always asks for both explicitly, so a
retried send never writes a record twice within one producer session.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.contracts.provisioning import ensure_topics
from gateway.contracts.topics import RESPONSES_TOPIC
from gateway.messaging.closing import stop_within

__all__ = ["broker_answers", "create_producer", "create_response_consumer", "ensure_topics"]


def create_producer(
    bootstrap_servers: str, *, request_timeout_ms: int, max_message_bytes: int
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        max_request_size=max_message_bytes,
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=request_timeout_ms,
        client_id="tsw-gateway",
    )


def create_response_consumer(
    bootstrap_servers: str, *, group_id: str, request_timeout_ms: int, auto_offset_reset: str = "earliest"
) -> AIOKafkaConsumer:
    """Agency answers, read by one consumer group shared by every gateway; offsets committed by hand."""
    return AIOKafkaConsumer(
        RESPONSES_TOPIC,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=auto_offset_reset,
        request_timeout_ms=request_timeout_ms,
    )


async def broker_answers(bootstrap_servers: str, *, timeout_ms: int = 2000) -> bool:
    """True when the cluster answers a metadata request."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    try:
        await admin.start()
        await admin.list_topics()
    except (KafkaError, OSError):
        return False
    finally:
        await stop_within(admin.close, what="Kafka probe")
    return True
