"""The background task that works through batch jobs, oldest first, one at a time.

It starts with the gateway, resumes jobs a stopped gateway left running (from their last committed
chunk), and sleeps until an upload queues a new job (`notify`) or `idle_poll_s` passes. One runner per
database is assumed, as for the outbox relay.

While the database is unavailable the job in hand stays `running` (its chunk rolled back) and the
runner tries again every `idle_poll_s`, resuming from the last committed chunk; it never exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.batches.processing import BatchProcessor
from gateway.errors import ServiceUnavailable
from gateway.store.batches import BatchJob
from gateway.store.uow import UnitOfWorkFactory, unavailable_reason

__all__ = ["BatchRunner"]

log = logging.getLogger(__name__)


class BatchRunner:
    def __init__(
        self, *, uow_factory: UnitOfWorkFactory, processor: BatchProcessor, idle_poll_s: float = 2.0
    ) -> None:
        self._uow_factory = uow_factory
        self._processor = processor
        self._idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="batch-runner")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                async with self._uow_factory() as uow:
                    jobs = await uow.batches.runnable()
                for job in jobs:
                    await self._run_one(job)
            except ServiceUnavailable as exc:
                log.warning("batch runner: database unavailable (%s); retrying", unavailable_reason(exc))
            except Exception:  # a bug must not stop every later job: logged, retried
                log.exception("batch runner: unexpected error; retrying")
            if not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_poll_s):
                        await self._wake.wait()

    async def _run_one(self, job: BatchJob) -> None:
        try:
            await self._processor.run(job)
        except ServiceUnavailable:
            raise  # the job stays running and resumes once the database is back
        except Exception:
            # A bug must not retry forever nor stop the jobs behind it: this job fails, visibly.
            log.exception("batch %s failed unexpectedly", job.id)
            await self._processor.fail(job, error="internal error while processing; the error was logged")
