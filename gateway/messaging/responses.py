"""The response consumer: agency answers from `tsw.responses`, applied in order, offsets committed after.

Each fetched batch is applied in order, the single answers of a partition together in one transaction
(`AnswerService.apply_many`: one write lock and one commit for the lot, which keeps the gateway's
other writers from queueing behind a transaction per answer), a bulk answer about many consignments
on its own (`apply_bulk`), and only then
committed, so a crash re-reads at most one batch, whose answers the inbox recognises. A record that
cannot be parsed is logged with its reason and skipped.

If the database is unavailable the fetched batch is held and applied again after a back-off
(doubling up to `max_backoff_s`) until it is stored: the answers a failed transaction held are
applied then, those a committed one held are recognised by the inbox, and the offsets are committed
only once every answer of the batch is durably applied. The consumer keeps its group membership
meanwhile (aiokafka heartbeats on its own); an outage longer than `max.poll.interval.ms` costs a
rejoin and a re-read from the last committed offset, nothing more. Kafka errors, and any other
error, drop the consumer and recreate it after a back-off: it never exits while its process runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

from gateway.answers import AnswerService
from gateway.contracts.bulk import BULK_RESPONSE_EVENT_TYPE, BulkResponse
from gateway.contracts.events import decode_headers
from gateway.contracts.responses import AgencyResponse
from gateway.contracts.topics import RESPONSES_TOPIC
from gateway.errors import ServiceUnavailable
from gateway.messaging.closing import stop_within
from gateway.messaging.relay import TopicCreator
from gateway.metrics import Metrics
from gateway.store.uow import unavailable_reason

__all__ = ["ResponseConsumer"]

log = logging.getLogger(__name__)

ConsumerFactory = Callable[[], AIOKafkaConsumer]

_ANSWERS_PER_TRANSACTION = 50


class ResponseConsumer:
    def __init__(
        self,
        *,
        answers: AnswerService,
        consumer_factory: ConsumerFactory,
        ensure_topics: TopicCreator,
        metrics: Metrics,
        max_backoff_s: float = 5.0,
        stop_timeout_s: float = 5.0,
        on_applied: Callable[[], None] = lambda: None,
    ) -> None:
        self._answers = answers
        self._on_applied = on_applied
        self._consumer_factory = consumer_factory
        self._ensure_topics = ensure_topics
        self._metrics = metrics
        self._max_backoff_s = max_backoff_s
        self._stop_timeout_s = stop_timeout_s
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set once the consumer has its partitions

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="response-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            # aiokafka lets a cancelled `getmany` finish a group join first, which can take a session
            # timeout; shutting down must not wait for that.
            done, _ = await asyncio.wait({task}, timeout=self._stop_timeout_s)
            if not done:
                log.warning("response consumer did not stop within %.0fs; leaving it", self._stop_timeout_s)

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            consumer = self._consumer_factory()
            try:
                await self._ensure_topics([RESPONSES_TOPIC])
                await consumer.start()
                backoff = 0.1
                await self._consume(consumer)
            except (KafkaError, OSError, ServiceUnavailable) as exc:
                log.warning("response consumer: %s; retrying in %.1fs", exc, backoff)
            except Exception:  # a bug must not stop answers for good: logged, retried
                log.exception("response consumer: unexpected error; retrying in %.1fs", backoff)
            finally:
                await stop_within(consumer.stop, what="response consumer")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            if consumer.assignment():
                self.ready.set()
            if not batch:
                continue
            # Every partition's answers together (one declaration's are all in one partition, in order).
            await self._apply_until_stored([record for records in batch.values() for record in records])
            self._on_applied()
            await consumer.commit()

    async def _apply_until_stored(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply `records`, again and again while the database is unavailable; offsets wait."""
        backoff = 0.1
        while True:
            try:
                await self._apply_all(records)
                return
            except ServiceUnavailable as exc:
                log.warning(
                    "response consumer: database unavailable (%s); %d answers held, retrying in %.1fs",
                    unavailable_reason(exc),
                    len(records),
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def _apply_all(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a fetched batch in order: runs of single answers in one transaction each, a bulk
        answer on its own."""
        singles: list[tuple[str, AgencyResponse]] = []
        for record in records:
            parsed = self._parse(record)
            if parsed is None:
                continue
            event_id, answer = parsed
            if isinstance(answer, AgencyResponse):
                singles.append((event_id, answer))
                continue
            await self._apply_singles(singles)
            singles = []
            self._count(await self._answers.apply_bulk(event_id, answer))
        await self._apply_singles(singles)

    async def _apply_singles(self, singles: list[tuple[str, AgencyResponse]]) -> None:
        # At most `_ANSWERS_PER_TRANSACTION` at a time: the write lock is never held for long.
        for start in range(0, len(singles), _ANSWERS_PER_TRANSACTION):
            for outcome in await self._answers.apply_many(singles[start : start + _ANSWERS_PER_TRANSACTION]):
                self._count(outcome)

    def _count(self, outcome: str) -> None:
        self._metrics.answers.labels(outcome.split(":", 1)[0]).inc()

    def _parse(
        self, record: ConsumerRecord[bytes, bytes]
    ) -> tuple[str, AgencyResponse | BulkResponse] | None:
        try:
            headers = decode_headers(record.headers)
            if headers.type == BULK_RESPONSE_EVENT_TYPE:
                return headers.id, BulkResponse.from_json(record.value or b"")
            return headers.id, AgencyResponse.from_json(record.value or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            self._metrics.answers.labels("malformed").inc()
            log.error(
                "skipping malformed answer at %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return None
