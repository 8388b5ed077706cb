"""Batch jobs as the API sees them: upload a file into a job, read its progress and its results.

An upload is spooled to `TSW_DATA_DIR/batches/` (streamed, hashed, size-limited) and becomes a queued
job at once; `BatchRunner` works through it in the background. The same file uploaded again by the
same client (same SHA-256) answers with the job it already has, and the second copy is deleted.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from gateway.audit import events as audit_events
from gateway.batches.readers import BatchFileError, ReaderLimits, open_reader, sniff_kind
from gateway.batches.spool import Spooled, spool
from gateway.ecommerce.columns import COLUMNS
from gateway.errors import CommitOutcomeUnknown, NotFound, ServiceUnavailable, UnsupportedMediaType
from gateway.store.batches import BatchJob, BatchResult, JobStatus
from gateway.store.records import Client
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["BatchService"]

_RESULTS_PAGE = 1000


class BatchService:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        spool_dir: Path,
        max_upload_bytes: int,
        limits: ReaderLimits,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._limits = limits
        self._uow_factory = uow_factory
        self._spool_dir = spool_dir
        self._max_upload_bytes = max_upload_bytes
        self._on_queued = on_queued

    async def upload(
        self, chunks: AsyncIterator[bytes], *, client: Client, content_type: str | None, filename: str | None
    ) -> tuple[BatchJob, bool]:
        """The job for this file, and whether it is new (False: the same file was uploaded before)."""
        spooled = await spool(chunks, directory=self._spool_dir, limit_bytes=self._max_upload_bytes)
        try:
            kind = sniff_kind(content_type, spooled.head, filename)
        except Exception:
            spooled.path.unlink(missing_ok=True)
            raise
        if kind is None:
            spooled.path.unlink(missing_ok=True)
            raise UnsupportedMediaType(
                "upload JSON Lines (application/x-ndjson), CSV (text/csv), an XML bundle (application/xml) "
                "or a ZIP archive (application/zip)"
            )
        try:  # what can be checked before the first record (a CSV header, a ZIP's directory) is, now
            open_reader(kind, spooled.path, limits=self._limits, csv_columns=COLUMNS).close()
        except BatchFileError:
            spooled.path.unlink(missing_ok=True)
            raise
        try:
            return await self._enqueue(spooled, client=client, kind=kind, filename=filename)
        except CommitOutcomeUnknown:
            raise  # the job may be stored: its file must stay
        except ServiceUnavailable:
            spooled.path.unlink(missing_ok=True)  # no job refers to it: nothing half-written stays
            raise

    async def _enqueue(
        self, spooled: Spooled, *, client: Client, kind: str, filename: str | None
    ) -> tuple[BatchJob, bool]:
        async with self._uow_factory() as uow:
            earlier = await uow.batches.by_digest(client.id, spooled.digest)
            if earlier is None:
                job = _new_job(spooled, client=client, kind=kind, filename=filename)
                await uow.batches.add(job)
                await uow.audit.add(
                    audit_events.batch_created(
                        job.id, client=client.id, digest=job.digest, kind=job.kind, at=job.created_at
                    )
                )
                with contextlib.suppress(IntegrityError):  # the same file, concurrently: fall through
                    await uow.commit()
                    self._on_queued()
                    return job, True
        spooled.path.unlink(missing_ok=True)
        async with self._uow_factory() as uow:
            existing = earlier or await uow.batches.by_digest(client.id, spooled.digest)
        assert existing is not None
        return existing, False

    async def get(self, job_id: str, *, client: Client) -> BatchJob:
        async with self._uow_factory() as uow:
            job = await uow.batches.get(job_id, client_id=client.id)
        if job is None:
            raise NotFound("no such batch")
        return job

    async def results(
        self, job_id: str, *, client: Client, rejected_only: bool = False
    ) -> AsyncIterator[BatchResult]:
        """Every result recorded so far, in file order, read a page at a time."""
        await self.get(job_id, client=client)
        after = 0
        while True:
            async with self._uow_factory() as uow:
                page = await uow.batches.results(
                    job_id, after_seq=after, limit=_RESULTS_PAGE, rejected_only=rejected_only
                )
            for result in page:
                yield result
            if len(page) < _RESULTS_PAGE:
                return
            after = page[-1].seq


def _new_job(spooled: Spooled, *, client: Client, kind: str, filename: str | None) -> BatchJob:
    # How many records (lines, rows) the reader will go through, for progress: an estimate (a CSV
    # field may span lines; blank JSON lines are skipped). The count of results is exact at the end.
    estimate = {"jsonl": spooled.lines, "csv": max(spooled.lines - 1, 0)}.get(kind)
    return BatchJob(
        id=str(uuid.uuid4()),
        client_id=client.id,
        digest=spooled.digest,
        kind=kind,
        filename=(filename or None) and filename[-255:],
        spool_path=str(spooled.path),
        bytes_total=spooled.size,
        status=JobStatus.QUEUED,
        total=None,
        accepted=0,
        rejected=0,
        position=0,
        positions_estimate=estimate,
        error=None,
        created_at=datetime.now(UTC),
        started_at=None,
        finished_at=None,
    )
