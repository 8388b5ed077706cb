"""What reached the agencies: every `tsw.route.<agency>` topic read from the beginning, judged against
the declarations a client read a 202 for.

Definitions (the figures `tsw chaos` prints):

- **routed**: an accepted declaration found on the topic of *every* agency its document type routes
  to. Lost is the complement: an accepted declaration missing from *at least one* of them (an agency
  that never hears of a declaration is a loss even if the others did).
- **duplicated**: an accepted declaration that some agency would receive twice even though its adapter
  drops repeated event ids (`adapters.dedupe`): one agency's topic holds it under more than one
  `ce_id` for the same event type. This is what "routed under two different event ids" means.
- **republished**: records that repeat an event id already on that topic (the relay died, or lost its
  producer, after Kafka had written a batch but before the relay recorded it, and sent the batch
  again under the same ids). Raw duplicates on the topic, dropped by every adapter; reported, not a
  failure.
- **delivered**: what adapters deduplicating by `ce_id` hand their agencies: one per distinct
  (agency, `ce_id`).
- **unclaimed**: declarations on the topics that no 202 named: submissions whose answer the client
  never read (in doubt), or, beyond those, a second declaration made for one submission (an
  Idempotency-Key that did not hold), which `gateway.chaos.tally` counts as duplicated.

Before judging, `wait_drained` waits (bounded) until the gateway reports an empty outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from gateway.chaos.topology import route_partitions
from gateway.contracts.agencies import AGENCIES
from gateway.contracts.topics import route_topic

__all__ = ["LedgerFigures", "RoutedRecord", "judge", "outbox_backlog", "read_routed", "wait_drained"]

_BACKLOG_METRIC = b"tsw_outbox_backlog "


@dataclass(frozen=True, slots=True)
class RoutedRecord:
    agency: str
    declaration_id: str  # the record key (= ce_subject)
    event_id: str  # ce_id
    event_type: str  # ce_type


@dataclass
class LedgerFigures:
    records: int = 0
    routed: int = 0
    lost: list[str] = field(default_factory=list)  # accepted ids missing from a target agency's topic
    duplicated: list[str] = field(default_factory=list)  # accepted ids under >1 ce_id on one topic
    republished: int = 0
    delivered: int = 0
    unclaimed: int = 0


def judge(routes: Mapping[str, Collection[str]], records: Iterable[RoutedRecord]) -> LedgerFigures:
    """The figures for the accepted declarations `routes` (id -> target agencies) given `records`."""
    figures = LedgerFigures()
    copies: Counter[tuple[str, str]] = Counter()  # (agency, ce_id) -> records
    event_ids: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (agency, id, type) -> ce_ids
    seen_at: dict[str, set[str]] = defaultdict(set)  # declaration id -> agencies it reached
    for record in records:
        figures.records += 1
        copies[(record.agency, record.event_id)] += 1
        event_ids[(record.agency, record.declaration_id, record.event_type)].add(record.event_id)
        seen_at[record.declaration_id].add(record.agency)
    figures.delivered = len(copies)
    figures.republished = figures.records - figures.delivered
    renamed = {declaration for (_, declaration, _), ids in event_ids.items() if len(ids) > 1}
    for declaration_id, agencies in routes.items():
        if set(agencies) <= seen_at.get(declaration_id, set()):
            figures.routed += 1
        else:
            figures.lost.append(declaration_id)
        if declaration_id in renamed:
            figures.duplicated.append(declaration_id)
    figures.unclaimed = len(seen_at.keys() - routes.keys())
    return figures


async def read_routed(
    bootstrap_servers: str, *, agencies: Collection[str] = AGENCIES, timeout_s: float = 120.0
) -> list[RoutedRecord]:
    """Every record now on the agencies' route topics, from the beginning to the current end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="tsw-chaos-ledger",
    )
    records: list[RoutedRecord] = []
    async with asyncio.timeout(timeout_s):
        await consumer.start()
        try:
            topics = {route_topic(agency): agency for agency in sorted(agencies)}
            partitions = await route_partitions(bootstrap_servers, topics)
            if partitions:
                await _read_to_end(consumer, partitions, topics, records)
        finally:
            await consumer.stop()
    return records


async def _read_to_end(
    consumer: AIOKafkaConsumer,
    partitions: Sequence[TopicPartition],
    topics: Mapping[str, str],
    records: list[RoutedRecord],
) -> None:
    consumer.assign(list(partitions))
    ends = await consumer.end_offsets(list(partitions))
    await consumer.seek_to_beginning(*partitions)
    remaining = {tp for tp in partitions if ends[tp] > 0}
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
        for tp, messages in batch.items():
            records.extend(_routed(topics[tp.topic], message.key, message.headers) for message in messages)
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)


def _routed(agency: str, key: bytes | None, headers: Sequence[tuple[str, bytes]]) -> RoutedRecord:
    values = {name: value.decode() for name, value in headers}
    return RoutedRecord(
        agency=agency,
        declaration_id=(key or b"").decode(),
        event_id=values.get("ce_id", ""),
        event_type=values.get("ce_type", ""),
    )


async def wait_drained(url: str, *, timeout_s: float, settle_s: float = 0.5) -> float | None:
    """Wait until `url`'s `/metrics` reports an empty outbox twice, `settle_s` apart; returns the
    seconds waited, or None when it did not within `timeout_s` (the gateway down meanwhile counts as
    not yet)."""
    started = time.monotonic()
    zero_since: float | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s), httpx.AsyncClient(base_url=url, timeout=5) as http:
            while True:
                backlog = await outbox_backlog(http)
                now = time.monotonic()
                if backlog != 0:
                    zero_since = None
                elif zero_since is None:
                    zero_since = now
                elif now - zero_since >= settle_s:
                    return now - started
                await asyncio.sleep(0.1)
    return None


async def outbox_backlog(http: httpx.AsyncClient) -> int | None:
    """The outbox rows not yet published, as the gateway at `http`'s base URL reports them (`/metrics`);
    None when it does not answer."""
    try:
        answer = await http.get("/metrics")
    except httpx.HTTPError:
        return None
    for line in answer.content.splitlines():
        if line.startswith(_BACKLOG_METRIC):
            return int(float(line[len(_BACKLOG_METRIC) :]))
    return None
