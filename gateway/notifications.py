"""Status changes for traders, as they happen: the feed behind `GET /v1/events` (Server-Sent Events).

Status changes are written by whichever process applies them (the submission writer, the outbox
relay, the response consumer), so the feed reads them back from `status_history`: one poller per
gateway, running only while somebody listens, fans new rows out to each listening client's queue.
Each event carries the history row id as its SSE `id`, so a client that reconnects with
`Last-Event-ID` first gets what it missed, then the live feed, each change once and in order.

PostgreSQL assigns ids at insert and commits in another order, so the poller re-reads a window of
recent ids and skips the ones it has sent already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from gateway.errors import ServiceUnavailable
from gateway.store.tables import declarations, status_history
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["StatusChange", "StatusFeed"]

log = logging.getLogger(__name__)

_REREAD_WINDOW = 1000  # ids below the highest seen that are read again (late PostgreSQL commits)


@dataclass(frozen=True, slots=True)
class StatusChange:
    id: int
    declaration_id: str
    document_type: str
    status: str
    at: datetime
    detail: str | None
    trader: str

    def as_dict(self) -> dict[str, object]:
        return {
            "declaration_id": self.declaration_id,
            "document_type": self.document_type,
            "status": self.status,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "detail": self.detail,
        }


class StatusFeed:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, *, poll_s: float = 0.2, queue_size: int = 10_000
    ) -> None:
        self._uow_factory = uow_factory
        self._poll_s = poll_s
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[StatusChange | None]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._high = 0
        self._sent: set[int] = set()

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
        await self._ensure_running()
        self._subscribers[trader].add(queue)
        last = after or 0
        try:
            if after is not None:
                for missed in await self._read(after=after, trader=trader):
                    last = missed.id
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
                if live.id > last:
                    last = live.id
                    yield live
        finally:
            self._subscribers[trader].discard(queue)
            if not self._subscribers[trader]:
                del self._subscribers[trader]

    async def _ensure_running(self) -> None:
        if self._task is None:
            self._high = await self._max_id()
            self._task = asyncio.create_task(self._run(), name="status-feed")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            if not self._subscribers:
                continue
            try:
                rows = await self._read(after=max(0, self._high - _REREAD_WINDOW))
            except ServiceUnavailable as exc:
                log.warning("status feed: %s", exc)
                continue
            for change in rows:
                if change.id in self._sent:
                    continue
                self._sent.add(change.id)
                self._high = max(self._high, change.id)
                self._publish(change)
            self._sent = {i for i in self._sent if i > self._high - _REREAD_WINDOW}

    def _publish(self, change: StatusChange) -> None:
        for queue in self._subscribers.get(change.trader, ()):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:  # a client that stopped reading: end its stream
                log.warning("status feed: a client of %s fell behind; closing its stream", change.trader)
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    async def _max_id(self) -> int:
        async with self._uow_factory() as uow:
            result = await uow.connection.execute(select(func.max(status_history.c.id)))
            return int(result.scalar_one() or 0)

    async def _read(self, *, after: int, trader: str | None = None, limit: int = 5000) -> list[StatusChange]:
        query = (
            select(
                status_history.c.id,
                status_history.c.declaration_id,
                declarations.c.document_type,
                status_history.c.status,
                status_history.c.at,
                status_history.c.detail,
                declarations.c.trader,
            )
            .join(declarations, declarations.c.id == status_history.c.declaration_id)
            .where(status_history.c.id > after)
            .order_by(status_history.c.id)
            .limit(limit)
        )
        if trader is not None:
            query = query.where(declarations.c.trader == trader)
        async with self._uow_factory() as uow:
            rows = (await uow.connection.execute(query)).all()
        return [
            StatusChange(
                id=row.id,
                declaration_id=row.declaration_id,
                document_type=row.document_type,
                status=row.status,
                at=row.at,
                detail=row.detail,
                trader=row.trader,
            )
            for row in rows
        ]
