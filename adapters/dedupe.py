"""The dedupe store: a durable record of every routed event an adapter has decided, by its ``ce_id``.

For each handled event it keeps the exact record the adapter publishes for it (the agency response,
or a dead letter) and whether that record was acknowledged by Kafka. The worker's order per record is

1. decide (translate, deliver to the agency, map its answer) and **record** the outcome here;
2. publish it and wait for Kafka's acknowledgement; **mark** it published here;
3. commit the routed record's offset.

The worker does each step for a whole fetched batch at once (`get_many`, `record_many`,
`mark_published_many`): one transaction, so one fsync, per step and batch rather than per record.

So a redelivered event (the adapter died before 3, or a rebalance moved the partition) is found here:
if it was recorded but not marked, the same record (same bytes, same deterministic response ``ce_id``)
is published again; if marked, nothing is republished. Either way the agency is not called a second
time. Only a crash between the agency's answer and step 1 calls the agency again, with the same
``submission_id``, which the agency treats as the same submission.

SQLite (stdlib `sqlite3`) in WAL mode with ``synchronous=FULL`` (a recorded outcome survives power
loss), used from one dedicated thread so the event loop never blocks on disk. Several adapter
processes may share one file. `prune` drops rows published longer ago than the retention.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar

import orjson

from adapters.errors import StoreUnavailable
from adapters.records import OutgoingRecord

__all__ = ["DedupeStore", "HandledEvent", "Outcome", "OutcomeKind"]

_T = TypeVar("_T")
OutcomeKind = Literal["response", "dead-letter"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handled_events (
    event_id       TEXT PRIMARY KEY,  -- ce_id of the routed event
    declaration_id TEXT NOT NULL,     -- ce_subject: the declaration id, or a bulk event's bulk id
    outcome        TEXT NOT NULL,     -- 'response' | 'dead-letter'
    response_id    TEXT,              -- ce_id of the published response
    topic          TEXT NOT NULL,
    record_key     BLOB,
    record_value   BLOB,
    record_headers TEXT NOT NULL,     -- JSON [[name, base64 value], ...]
    recorded_at    TEXT NOT NULL,
    published_at   TEXT
);
CREATE INDEX IF NOT EXISTS handled_events_published_at ON handled_events (published_at);
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decided outcome to remember: the record published for routed event `event_id`."""

    event_id: str
    declaration_id: str
    outcome: OutcomeKind
    response_id: str | None
    record: OutgoingRecord


@dataclass(frozen=True, slots=True)
class HandledEvent:
    event_id: str
    declaration_id: str
    outcome: OutcomeKind
    response_id: str | None
    record: OutgoingRecord
    published: bool


class DedupeStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dedupe-store")
            try:
                await self._call(self._connect)
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            executor.shutdown(wait=False)

    async def get(self, event_id: str) -> HandledEvent | None:
        return (await self.get_many([event_id])).get(event_id)

    async def get_many(self, event_ids: Sequence[str]) -> dict[str, HandledEvent]:
        """The handled events among `event_ids`, by event id."""
        if not event_ids:
            return {}
        return await self._call(partial(self._get_many, list(event_ids)))

    async def record(
        self,
        event_id: str,
        *,
        declaration_id: str,
        outcome: OutcomeKind,
        response_id: str | None,
        record: OutgoingRecord,
    ) -> None:
        """Remember the decided outcome of `event_id` (a second call for the same id keeps the first)."""
        await self.record_many([Outcome(event_id, declaration_id, outcome, response_id, record)])

    async def record_many(self, outcomes: Sequence[Outcome]) -> None:
        """Remember several decided outcomes in one transaction (as `record` does each)."""
        if not outcomes:
            return
        now = _now()
        rows = [
            (
                o.event_id,
                o.declaration_id,
                o.outcome,
                o.response_id,
                o.record.topic,
                o.record.key,
                o.record.value,
                _encode_headers(o.record.headers),
                now,
            )
            for o in outcomes
        ]
        await self._call(partial(self._execute_many, _INSERT, rows))

    async def mark_published(self, event_id: str) -> None:
        await self.mark_published_many([event_id])

    async def mark_published_many(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            now = _now()
            await self._call(partial(self._execute_many, _MARK, [(now, i) for i in event_ids]))

    async def prune(self, *, older_than: timedelta) -> int:
        """Forget events published before now - `older_than`; returns how many."""
        cutoff = (datetime.now(UTC) - older_than).strftime(_TIME_FORMAT)
        return await self._call(partial(self._execute, _PRUNE, (cutoff,)))

    # ---- on the store's thread

    async def _call(self, operation: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise StoreUnavailable("the dedupe store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, operation)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"dedupe store {self._path}: {exc}") from exc

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.OperationalError("not connected")
        return self._connection

    def _execute(self, sql: str, parameters: tuple[object, ...]) -> int:
        return self._db().execute(sql, parameters).rowcount

    def _execute_many(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(sql, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _get_many(self, event_ids: list[str]) -> dict[str, HandledEvent]:
        found: dict[str, HandledEvent] = {}
        db = self._db()
        for start in range(0, len(event_ids), _IDS_PER_QUERY):
            chunk = event_ids[start : start + _IDS_PER_QUERY]
            query = _SELECT_MANY.format(marks=", ".join("?" * len(chunk)))
            for row in db.execute(query, chunk):
                event_id, declaration_id, outcome, response_id, topic, key, value, headers, published_at = row
                found[event_id] = HandledEvent(
                    event_id=event_id,
                    declaration_id=declaration_id,
                    outcome=outcome,
                    response_id=response_id,
                    record=OutgoingRecord(
                        topic=topic, key=key, value=value, headers=_decode_headers(headers)
                    ),
                    published=published_at is not None,
                )
        return found


_INSERT = (
    "INSERT OR IGNORE INTO handled_events (event_id, declaration_id, outcome, response_id, topic,"
    " record_key, record_value, record_headers, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MARK = "UPDATE handled_events SET published_at = ? WHERE event_id = ? AND published_at IS NULL"
_PRUNE = "DELETE FROM handled_events WHERE published_at IS NOT NULL AND published_at < ?"
_SELECT_MANY = (
    "SELECT event_id, declaration_id, outcome, response_id, topic, record_key, record_value,"
    " record_headers, published_at FROM handled_events WHERE event_id IN ({marks})"
)
#: Below SQLite's default limit of bound parameters per statement.
_IDS_PER_QUERY = 500
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _now() -> str:
    return datetime.now(UTC).strftime(_TIME_FORMAT)


def _encode_headers(headers: tuple[tuple[str, bytes], ...]) -> str:
    return orjson.dumps([[name, base64.b64encode(value).decode("ascii")] for name, value in headers]).decode()


def _decode_headers(raw: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, base64.b64decode(value)) for name, value in orjson.loads(raw))
