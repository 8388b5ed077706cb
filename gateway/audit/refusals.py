"""Refused access (401 and 403 answers), recorded without slowing the refusal down.

A refusal has no transaction of its own to join, and a flood of bad keys must not become a flood of
database commits: `RefusalRecorder.note` only appends to a list, and a task writes what gathered as
`access.refused` entries (up to `per_entry` refusals each) every `flush_s`, in one transaction. At
most `max_pending` wait; past that, refusals are counted, not kept, and the count goes in the next
entry (`dropped`). A crash loses at most `flush_s` of refusals; `stop()` writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from gateway.audit import events
from gateway.audit.chain import at_text
from gateway.errors import ServiceUnavailable
from gateway.store.uow import UnitOfWorkFactory, unavailable_reason

__all__ = ["RefusalRecorder"]

log = logging.getLogger(__name__)


class RefusalRecorder:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        flush_s: float = 1.0,
        per_entry: int = 500,
        max_pending: int = 10_000,
    ) -> None:
        self._uow_factory = uow_factory
        self._flush_s = flush_s
        self._per_entry = per_entry
        self._max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._dropped = 0
        self._task: asyncio.Task[None] | None = None

    def note(
        self, *, status: int, method: str, path: str, client: str | None, reason: str, remote: str | None
    ) -> None:
        """Remember one refusal. Never pass the credential itself, nor any part of it."""
        if len(self._pending) >= self._max_pending:
            self._dropped += 1
            return
        self._pending.append(
            {
                "at": at_text(datetime.now(UTC)),
                "status": status,
                "method": method,
                "path": path[:300],
                "client": client,
                "reason": reason[:200],
                "remote": remote,
            }
        )

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-refusals")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(ServiceUnavailable):
            await self.flush()

    async def flush(self) -> int:
        """Write what gathered; returns how many refusals were written."""
        if not self._pending and not self._dropped:
            return 0
        taken, self._pending = self._pending, []
        dropped, self._dropped = self._dropped, 0
        chunks = [taken[i : i + self._per_entry] for i in range(0, len(taken), self._per_entry)] or [[]]
        last = len(chunks) - 1
        entries = [
            events.access_refused(chunk, dropped=dropped if i == last else 0)
            for i, chunk in enumerate(chunks)
        ]
        try:
            async with self._uow_factory() as uow:
                await uow.audit.add_many(entries)
                await uow.commit()
        except BaseException:
            self._pending[:0] = taken  # written next time
            self._dropped += dropped
            raise
        return len(taken)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_s)
            try:
                await self.flush()
            except ServiceUnavailable as exc:
                log.warning("audit: refusals not recorded yet (%s); retrying", unavailable_reason(exc))
            except Exception:  # kept for the next flush; the task must live on
                log.exception("audit: recording refusals failed; retrying")
