"""The routed-topic consumer: batches in partition order, commits by hand, and staying in the group
while one record takes long (a back-end that is down).

aiokafka leaves the group when `getmany` is not called for ``max_poll_interval_ms``. While the worker
waits between retries it calls `keepalive`: every assigned partition is paused and `getmany` is polled
with no wait, which returns nothing for paused partitions. Should a rebalance hand over a new, unpaused
partition meanwhile and records come back, the consumer seeks back to the first of them so none is
skipped. `resume` lifts the pause once the record is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

__all__ = ["Batch", "RoutedConsumer"]

log = logging.getLogger(__name__)

Batch = list[tuple[TopicPartition, list[ConsumerRecord[bytes, bytes]]]]


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, on_assigned: Callable[[frozenset[TopicPartition]], None]) -> None:
        self._on_assigned = on_assigned

    def on_partitions_revoked(self, revoked: frozenset[TopicPartition]) -> None:
        if revoked:
            log.info("partitions revoked: %s", sorted(revoked))

    def on_partitions_assigned(self, assigned: frozenset[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(assigned))
        self._on_assigned(assigned)


class RoutedConsumer:
    """`consumer` (created without topics) subscribed to `topic`; `on_assigned` hears every assignment."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        *,
        on_assigned: Callable[[frozenset[TopicPartition]], None] = lambda assigned: None,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._listener = _Rebalances(on_assigned)
        self._paused: set[TopicPartition] = set()

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.subscribe([self._topic], listener=self._listener)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def batch(self, *, timeout_ms: int, max_records: int) -> Batch:
        """The next records, grouped by partition, each partition's in offset order."""
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [(tp, records) for tp, records in fetched.items() if records]

    def owns(self, tp: TopicPartition) -> bool:
        """Whether `tp` is still assigned to this consumer (a rebalance may have moved it)."""
        return tp in self._consumer.assignment()

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> bool:
        """Commit each partition's `offsets` (the next one to read); False if a partition is no longer
        ours (then none is committed)."""
        try:
            await self._consumer.commit(dict(offsets))
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("cannot commit %s, a partition moved to another member: %s", dict(offsets), exc)
            return False
        return True

    async def keepalive(self) -> None:
        """Poll without consuming, so a long wait does not count as a stuck consumer."""
        assigned = self._consumer.assignment()
        fresh = assigned - self._paused
        if fresh:
            self._consumer.pause(*fresh)
            self._paused |= fresh
        fetched = await self._consumer.getmany(timeout_ms=0)
        for tp, records in fetched.items():
            if records:  # a partition assigned since the pause: read these again later
                self._consumer.seek(tp, records[0].offset)
                self._consumer.pause(tp)
                self._paused.add(tp)

    def resume(self) -> None:
        if self._paused:
            assigned = self._consumer.assignment()
            self._consumer.resume(*(tp for tp in self._paused if tp in assigned))
            self._paused.clear()
