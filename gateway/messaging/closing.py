"""Stopping Kafka clients without hanging: aiokafka's `stop()` can wait forever when the client was
interrupted in the middle of `start()` (e.g. a worker cancelled while it joined its group)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError

__all__ = ["stop_within"]

log = logging.getLogger(__name__)


async def stop_within(stop: Callable[[], Awaitable[object]], *, what: str, timeout_s: float = 5.0) -> None:
    """Await `stop()`, giving up (with a warning) after `timeout_s` or on a client error."""
    try:
        async with asyncio.timeout(timeout_s):
            await stop()
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("%s did not stop cleanly: %r", what, exc)
