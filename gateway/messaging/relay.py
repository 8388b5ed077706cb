"""The outbox relay: publishes committed outbox rows to Kafka, then marks them published.

Rows are read in id order, sent with the idempotent producer, and only after Kafka acknowledged every
record of a batch are they marked published and their declarations moved to ROUTED (when every target
agency has its event). A crash between the acknowledgement and that commit republishes the same
records with the same `ce_id`, which consumers deduplicate; nothing is ever lost or renamed.

While Kafka is unreachable the relay backs off (doubling up to `max_backoff_s`) and keeps the rows;
the backlog drains when the broker returns. `notify()` wakes it as soon as a submission commits;
`on_routed` is called after each commit that moved declarations to ROUTED (the status feed's cue).

While the database is unavailable it backs off the same way. A batch Kafka acknowledged but the
database could not record is kept in memory and recorded first when the database returns, before
anything else is read: a database outage alone never sends a record twice (only a crash in that
window does, under the same `ce_id`). Any other error is logged and retried: the relay never exits
while its process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from gateway.contracts.agencies import AGENCIES
from gateway.contracts.topics import RESPONSES_TOPIC, route_topic
from gateway.errors import ServiceUnavailable
from gateway.messaging.closing import stop_within
from gateway.metrics import Metrics
from gateway.store.repository import PendingEvent
from gateway.store.uow import UnitOfWorkFactory, unavailable_reason

__all__ = ["OutboxRelay"]

log = logging.getLogger(__name__)

ProducerFactory = Callable[[], AIOKafkaProducer]
TopicCreator = Callable[[Sequence[str]], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        producer_factory: ProducerFactory,
        ensure_topics: TopicCreator,
        metrics: Metrics,
        batch_size: int = 500,
        idle_poll_s: float = 0.2,
        max_backoff_s: float = 5.0,
        on_routed: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._on_routed = on_routed
        self._producer_factory = producer_factory
        self._ensure_topics = ensure_topics
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._unrecorded: list[PendingEvent] = []  # acknowledged by Kafka, not yet marked published

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_producer()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                published = await self.publish_batch()
            except (TimeoutError, KafkaError, OSError) as exc:
                self._metrics.relay_failures.inc()
                log.warning("outbox relay: Kafka unavailable (%s); retrying in %.1fs", exc, backoff)
                await self._drop_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            except ServiceUnavailable as exc:
                reason = unavailable_reason(exc)
                log.warning("outbox relay: database unavailable (%s); retrying in %.1fs", reason, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            except Exception:  # a bug must not stop routing for good: logged, retried
                log.exception("outbox relay: unexpected error; retrying in %.1fs", backoff)
                await self._drop_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            backoff = 0.1
            if published == 0:  # caught up (a batch may be short of batch_size on its byte budget)
                await self._idle()

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._idle_poll_s):
                await self._wake.wait()

    async def publish_batch(self) -> int:
        """Publish one batch of pending events; returns how many were published."""
        if self._unrecorded:  # sent before the database failed: record those, send nothing again
            await self._mark_published(self._unrecorded)
            recorded, self._unrecorded = len(self._unrecorded), []
            return recorded
        async with self._uow_factory() as uow:
            pending = await uow.outbox.pending(self._batch_size)
        if not pending:
            return 0
        producer = await self._producer_ready()
        try:
            await self._send_all(producer, pending)
        except (TimeoutError, KafkaError, OSError) as exc:
            await self._record_failure(pending, exc)
            raise
        try:
            await self._mark_published(pending)
        except ServiceUnavailable:
            self._unrecorded = pending  # recorded first once the database answers again
            raise
        return len(pending)

    async def _send_all(self, producer: AIOKafkaProducer, pending: list[PendingEvent]) -> None:
        futures = [
            await producer.send(
                event.topic,
                value=event.body,
                key=event.key.encode(),
                headers=[(name, value.encode()) for name, value in event.headers.items()],
            )
            for event in pending
        ]
        await asyncio.gather(*futures)
        for event in pending:
            self._metrics.events_published.labels(event.topic).inc()

    async def _mark_published(self, pending: list[PendingEvent]) -> None:
        now = datetime.now(UTC)
        singles = sorted({event.declaration_id for event in pending if event.declaration_id})
        bulks = sorted({event.bulk_id for event in pending if event.bulk_id})
        async with self._uow_factory() as uow:
            await uow.declarations.lock_for_routing(singles, bulks)  # before the outbox: no deadlock
            await uow.outbox.mark_published([event.outbox_id for event in pending], at=now)
            if singles:
                await uow.declarations.mark_routed(singles, at=now)
            if bulks:
                await uow.declarations.mark_bulk_routed(bulks, at=now)
            await uow.commit()
        self._on_routed()

    async def _record_failure(self, pending: list[PendingEvent], exc: BaseException) -> None:
        with contextlib.suppress(ServiceUnavailable):
            async with self._uow_factory() as uow:
                await uow.outbox.record_failure([event.outbox_id for event in pending], error=repr(exc))
                await uow.commit()

    async def _producer_ready(self) -> AIOKafkaProducer:
        if self._producer is None:
            await self._ensure_topics(
                [*(route_topic(agency) for agency in sorted(AGENCIES)), RESPONSES_TOPIC]
            )
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:
                await stop_within(producer.stop, what="outbox relay producer")
                raise
            self._producer = producer
            log.info("outbox relay connected to Kafka")
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await stop_within(producer.stop, what="outbox relay producer")
