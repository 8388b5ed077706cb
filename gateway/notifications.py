"""Status changes for traders, as they happen: the feed behind `GET /v1/events` (Server-Sent Events).

Status changes are written by whichever process applies them (the submission writer, the outbox
relay, the response consumer), so the feed reads them back from `status_history`: one poller per
gateway, running only while somebody listens, fans new rows out to each listening client's queue.
Each event carries the history row id as its SSE `id`, so a client that reconnects with
`Last-Event-ID` first gets what it missed, then the live feed, each change once and in order.

PostgreSQL assigns ids at insert and commits in another order, so there the poller also asks again
for the ids it stepped over, until they turn up or a minute has passed
(`gateway.store.history_cursor`); such a change reaches the stream after the changes with higher
ids that committed before it (each declaration's own changes stay in order: each is written after
the one before it committed). SQLite has one writer at a time, so its ids become visible in order
(`late_commits=False`). The poller runs only while somebody listens; when the last listener
leaves it stops, and the next one starts it again at the latest change.

The poller reads only the ids above the highest it has seen (and those it stepped over), a short
index range: when `notify()` says that changes were committed (the gateway's own commits, and the
messaging process's through `gateway.doorbell`), at most every `min_gap_s` (5 ms), and otherwise
every `poll_s` (25 ms; 250 ms where every writer rings). On this project's 2-core machine, polling
every 200 ms without notifications cost a trader ~100 ms of the 202 -> CLEARED median, and a
`min_gap_s` of 20 ms rather than 5 about 10 ms of it at 200 declarations/s (`tsw bench clearance`,
"CLEARED recorded -> on the stream").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Collection

from sqlalchemy import or_

from gateway.errors import ServiceUnavailable
from gateway.store.history_cursor import HistoryCursor
from gateway.store.status_changes import StatusChange, history_ids_above, max_history_id, read_status_changes
from gateway.store.tables import declarations
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["StatusChange", "StatusFeed"]

log = logging.getLogger(__name__)

#: How many ids below the latest a starting poller checks for transactions still open.
LOOKBACK = 10_000


class StatusFeed:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        poll_s: float = 0.025,
        min_gap_s: float = 0.005,
        late_commits: bool = True,
        patience_s: float = 60.0,
        queue_size: int = 10_000,
        replay_page: int = 5_000,
    ) -> None:
        self._uow_factory = uow_factory
        self._replay_page = replay_page
        self._poll_s = poll_s
        self._min_gap_s = min_gap_s
        self._patience_s = patience_s if late_commits else 0.0
        self._changed = asyncio.Event()
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[StatusChange | None]]] = defaultdict(set)
        self._starting = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._cursor = HistoryCursor(0, patience_s=0)

    def notify(self) -> None:
        """Status changes were committed: read them now rather than at the next poll."""
        self._changed.set()

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(None)

    async def changes(
        self, trader: str, *, after: int | None, heartbeat_s: float = 15.0
    ) -> AsyncIterator[StatusChange | None]:
        """The trader's status changes: those after history id `after` (if given), then live ones.

        Yields None after `heartbeat_s` without a change, so that a stream can send a keep-alive.
        """
        queue: asyncio.Queue[StatusChange | None] = asyncio.Queue(self._queue_size)
        await self.ensure_running()
        self._subscribers[trader].add(queue)
        live_above = self._cursor.low  # the feed publishes no id at or below this one again
        replayed: set[int] = set()  # those the live queue may bring again
        try:
            if after is not None:
                async for missed in self._missed(trader, after=after):
                    if missed.id > live_above:
                        replayed.add(missed.id)
                    yield missed
            while True:
                try:
                    async with asyncio.timeout(heartbeat_s):
                        live = await queue.get()
                except TimeoutError:
                    yield None
                    continue
                if live is None:
                    return
                if live.id not in replayed:  # queued while the missed ones were read
                    yield live
        finally:
            self._subscribers[trader].discard(queue)
            if not self._subscribers[trader]:
                del self._subscribers[trader]

    async def _missed(self, trader: str, *, after: int) -> AsyncIterator[StatusChange]:
        """Every change of the trader's after `after`, read a page at a time. Meanwhile live changes
        queue up; a client too slow to take both falls behind, its stream ends, and it resumes from
        the last id it read."""
        while True:
            page = await self._read(after=after, trader=trader, limit=self._replay_page)
            for change in page:
                yield change
            if len(page) < self._replay_page:
                return
            after = page[-1].id

    async def ensure_running(self) -> None:
        """Start the poller if it is not running (reading where the feed begins). Raises
        `ServiceUnavailable` when the database is away: a stream calls it before it starts, so that
        its client is answered 503 rather than sent a stream that breaks at once."""
        async with self._starting:
            if self._task is None:
                self._cursor = await self._latest()
                self._task = asyncio.create_task(self._run(), name="status-feed")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._min_gap_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._changed.wait()
            self._changed.clear()
            if not self._subscribers:  # nobody listens: the next listener starts afresh
                self._task = None
                return
            try:
                rows = await self._read(after=self._cursor.high, also=self._cursor.gaps())
            except ServiceUnavailable as exc:
                log.warning("status feed: %s", exc)
                continue
            for change in self._cursor.take(rows):
                self._publish(change)

    def _publish(self, change: StatusChange) -> None:
        for party in change.parties:
            for queue in self._subscribers.get(party, ()):
                try:
                    queue.put_nowait(change)
                except asyncio.QueueFull:  # a client that stopped reading: end its stream
                    log.warning("status feed: a client of %s fell behind; closing its stream", party)
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                    queue.put_nowait(None)

    async def _latest(self) -> HistoryCursor:
        """A cursor at the latest change, which awaits the ids below it still uncommitted."""
        async with self._uow_factory() as uow:
            high = await max_history_id(uow.connection)
            if not self._patience_s:
                return HistoryCursor(high, patience_s=0)
            present = await history_ids_above(uow.connection, high - LOOKBACK)
        return HistoryCursor.at_latest(high, present=present, lookback=LOOKBACK, patience_s=self._patience_s)

    async def _read(
        self, *, after: int, also: Collection[int] = (), trader: str | None = None, limit: int = 5_000
    ) -> list[StatusChange]:
        where = (
            [or_(declarations.c.trader == trader, declarations.c.on_behalf_of == trader)]
            if trader is not None
            else []
        )
        async with self._uow_factory() as uow:
            return await read_status_changes(uow.connection, after=after, also=also, where=where, limit=limit)
