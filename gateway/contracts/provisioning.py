"""Creating the gateway's topics where they are missing: shared by the gateway and the agency adapters.

Topics are created with the partitions and replication factor given, and `max.message.bytes` large
enough for a whole routed document (the broker's default of 1 MB is not).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

__all__ = ["ensure_topics"]

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int,
    request_timeout_ms: int,
    max_message_bytes: int,
    close_timeout_s: float = 5.0,
) -> None:
    """Create the topics that do not exist yet (raises `KafkaError` when the broker cannot be reached)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=request_timeout_ms)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in topics if name not in existing]
        if not missing:
            return
        config = {"max.message.bytes": str(max_message_bytes)}
        new = [
            NewTopic(
                name, num_partitions=partitions, replication_factor=replication_factor, topic_configs=config
            )
            for name in missing
        ]
        response = await admin.create_topics(new)
        for topic, code, *rest in getattr(response, "topic_errors", ()):
            if code not in (0, TopicAlreadyExistsError.errno):
                raise KafkaError(f"cannot create topic {topic}: error {code} {rest[0] if rest else ''}")
        log.info("created topics %s", ", ".join(missing))
    finally:
        # aiokafka's close can hang when the client was interrupted while starting.
        with contextlib.suppress(TimeoutError, KafkaError, OSError):
            async with asyncio.timeout(close_timeout_s):
                await admin.close()
