"""Group commit for accepted submissions.

Each accepted submission must be durable before its 202 goes out. Committing each on its own costs
one transaction (and one fsync) per request; instead, requests hand their rows to `SubmissionWriter`,
whose single task commits everything queued since the previous commit in one transaction. Under
light load a batch is one submission and nothing waits; under heavy load batches grow and the
per-submission cost falls. If a batch fails on a constraint (an `Idempotency-Key` race), its
submissions are retried one by one so that each gets its own answer.

A batch that fails because the database is unavailable is answered 503 and nothing of it is stored
(one transaction). One case needs care: the connection lost while the COMMIT was in flight
(a PostgreSQL server stopped or restarted at that moment), when the server may have applied it
without saying so. The writer then reads the batch back as soon as the database answers again, for
at most `outcome_check_s`: found, the submissions are accepted (202) after all; not found, they are
refused (503); still unreachable, they are refused with a 503 saying the outcome is unknown, and
only an `Idempotency-Key` retry can then tell a client which it was (it replays the stored answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from gateway.audit import events as audit_events
from gateway.errors import CommitOutcomeUnknown, Conflict, GatewayError, ServiceUnavailable
from gateway.store.records import NewDeclaration
from gateway.store.uow import UnitOfWorkFactory, unavailable_reason

__all__ = ["DuplicateSubmission", "SubmissionWriter"]

log = logging.getLogger(__name__)

_Item = tuple[NewDeclaration, asyncio.Future[None]]


class DuplicateSubmission(Conflict):
    """The row conflicts with one already stored (same trader and Idempotency-Key)."""


class SubmissionWriter:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        max_batch: int = 500,
        on_commit: Callable[[], None] = lambda: None,
        outcome_check_s: float = 10.0,
        outcome_poll_s: float = 0.25,
    ) -> None:
        self._uow_factory = uow_factory
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._outcome_check_s = outcome_check_s
        self._outcome_poll_s = outcome_poll_s
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="submission-writer")

    async def stop(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(ServiceUnavailable("gateway shutting down"))

    async def write(self, declaration: NewDeclaration) -> None:
        """Return once `declaration` is committed; raise `DuplicateSubmission` or `ServiceUnavailable`."""
        if self._task is None:
            raise ServiceUnavailable("submission writer not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((declaration, future))
        await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except asyncio.CancelledError:
                # Stopped mid-commit: the transaction rolled back, so nobody may be told 202.
                _settle(batch, ServiceUnavailable("gateway shutting down"))
                raise

    async def _commit(self, batch: list[_Item]) -> None:
        try:
            await self._insert([declaration for declaration, _ in batch])
        except IntegrityError:
            if len(batch) > 1:
                for item in batch:
                    await self._commit([item])
                return
            _settle(batch, DuplicateSubmission("conflicts with a stored submission"))
        except CommitOutcomeUnknown:
            await self._settle_lost_commit(batch)
        except GatewayError as exc:
            log.warning(
                "submission batch of %d not stored: %s (%s)",
                len(batch),
                exc,
                unavailable_reason(exc),
            )
            _settle(batch, exc)
        except Exception:
            log.exception("submission batch of %d failed", len(batch))
            _settle(batch, ServiceUnavailable("database error"))
        else:
            _settle(batch, None)
            self._on_commit()

    async def _settle_lost_commit(self, batch: list[_Item]) -> None:
        """The COMMIT's answer was lost with its connection: answer what the database says once it
        answers again (one transaction, so the first submission stands for the whole batch)."""
        first = batch[0][0].id
        deadline = time.monotonic() + self._outcome_check_s
        while True:
            try:
                async with self._uow_factory() as uow:
                    stored = bool(await uow.declarations.stored([first]))
                break
            except ServiceUnavailable:
                if time.monotonic() >= deadline:
                    log.warning("submission batch of %d: commit outcome unknown (database away)", len(batch))
                    _settle(batch, ServiceUnavailable(_OUTCOME_UNKNOWN))
                    return
                await asyncio.sleep(self._outcome_poll_s)
        log.warning(
            "submission batch of %d: the commit's answer was lost; it %s",
            len(batch),
            "was applied" if stored else "was not applied",
        )
        if stored:
            _settle(batch, None)
            self._on_commit()
        else:
            _settle(batch, ServiceUnavailable("database unavailable; the submission was not stored"))

    async def _insert(self, batch: list[NewDeclaration]) -> None:
        async with self._uow_factory() as uow:
            await uow.declarations.add_many(batch)
            await uow.audit.add(audit_events.declarations_accepted(batch))
            await uow.commit()


_OUTCOME_UNKNOWN = (
    "database unavailable while committing: the submission may have been stored; "
    "retry with the same Idempotency-Key to find out"
)


def _settle(batch: list[_Item], error: BaseException | None) -> None:
    for _, future in batch:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
