"""The response consumer: agency answers from `tsw.responses`, applied in order, offsets committed after.

Each batch is applied record by record (`AnswerService.apply`, or `apply_bulk` for a bulk answer about
many consignments; one transaction each) and only then
committed, so a crash re-reads at most one batch, whose answers the inbox recognises. A record that
cannot be parsed is logged with its reason and skipped. If the database is down, the consumer is
dropped and recreated after a back-off, re-reading from the last committed offset.
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

__all__ = ["ResponseConsumer"]

log = logging.getLogger(__name__)

ConsumerFactory = Callable[[], AIOKafkaConsumer]


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
    ) -> None:
        self._answers = answers
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
            finally:
                await stop_within(consumer.stop, what="response consumer")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            if consumer.assignment():
                self.ready.set()
            for records in batch.values():
                for record in records:
                    await self._handle(record)
            if batch:
                await consumer.commit()

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            headers = decode_headers(record.headers)
            if headers.type == BULK_RESPONSE_EVENT_TYPE:
                bulk = BulkResponse.from_json(record.value or b"")
            else:
                answer = AgencyResponse.from_json(record.value or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            self._metrics.answers.labels("malformed").inc()
            log.error(
                "skipping malformed answer at %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )
            return
        if headers.type == BULK_RESPONSE_EVENT_TYPE:
            outcome = await self._answers.apply_bulk(headers.id, bulk)
        else:
            outcome = await self._answers.apply(headers.id, answer)
        self._metrics.answers.labels(outcome.split(":", 1)[0]).inc()
