"""Batch upload jobs and their per-record results. Never commits; the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.fast_insert import insert_many
from gateway.store.tables import batch_jobs, batch_results

__all__ = ["BatchJob", "BatchRepository", "BatchResult", "JobStatus"]


class JobStatus:
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class BatchJob:
    id: str
    client_id: str
    digest: str
    kind: str
    filename: str | None
    spool_path: str
    bytes_total: int
    status: str
    total: int | None
    accepted: int
    rejected: int
    position: int
    positions_estimate: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class BatchResult:
    seq: int
    position: int
    ref: str | None
    status: str
    declaration_id: str | None
    errors: list[dict[str, str]] | None


class BatchRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, job: BatchJob) -> None:
        await self._connection.execute(insert(batch_jobs).values(**_fields(job)))

    async def get(self, job_id: str, *, client_id: str | None = None) -> BatchJob | None:
        query = select(batch_jobs).where(batch_jobs.c.id == job_id)
        if client_id is not None:
            query = query.where(batch_jobs.c.client_id == client_id)
        row = (await self._connection.execute(query)).mappings().first()
        return BatchJob(**row) if row else None

    async def by_digest(self, client_id: str, digest: str) -> BatchJob | None:
        query = select(batch_jobs).where(batch_jobs.c.client_id == client_id, batch_jobs.c.digest == digest)
        row = (await self._connection.execute(query)).mappings().first()
        return BatchJob(**row) if row else None

    async def runnable(self) -> list[BatchJob]:
        """Jobs to run, oldest first: those a stopped gateway left running, then the queued ones."""
        query = (
            select(batch_jobs)
            .where(batch_jobs.c.status.in_([JobStatus.RUNNING, JobStatus.QUEUED]))
            .order_by(batch_jobs.c.status.desc(), batch_jobs.c.created_at)
        )
        return [BatchJob(**row) for row in (await self._connection.execute(query)).mappings()]

    async def start(self, job_id: str, *, at: datetime) -> None:
        await self._connection.execute(
            update(batch_jobs)
            .where(batch_jobs.c.id == job_id, batch_jobs.c.status == JobStatus.QUEUED)
            .values(status=JobStatus.RUNNING, started_at=at)
        )

    async def advance(
        self, job_id: str, *, position: int, results: Sequence[dict[str, Any]], next_seq: int
    ) -> None:
        """Record the results of one chunk and move the job's resume point past it."""
        accepted = sum(1 for result in results if result["status"] == "ACCEPTED")
        await insert_many(
            self._connection,
            batch_results,
            [{"job_id": job_id, "seq": next_seq + index, **result} for index, result in enumerate(results)],
        )
        await self._connection.execute(
            update(batch_jobs)
            .where(batch_jobs.c.id == job_id)
            .values(
                position=position,
                accepted=batch_jobs.c.accepted + accepted,
                rejected=batch_jobs.c.rejected + (len(results) - accepted),
            )
        )

    async def finish(self, job_id: str, *, status: str, at: datetime, error: str | None = None) -> None:
        """Close the job; its total becomes the number of records it answered."""
        await self._connection.execute(
            update(batch_jobs)
            .where(batch_jobs.c.id == job_id)
            .values(
                status=status,
                finished_at=at,
                error=error,
                total=batch_jobs.c.accepted + batch_jobs.c.rejected,
            )
        )

    async def results(
        self, job_id: str, *, after_seq: int, limit: int, rejected_only: bool = False
    ) -> list[BatchResult]:
        query = select(
            batch_results.c.seq,
            batch_results.c.position,
            batch_results.c.ref,
            batch_results.c.status,
            batch_results.c.declaration_id,
            batch_results.c.errors,
        ).where(batch_results.c.job_id == job_id, batch_results.c.seq > after_seq)
        if rejected_only:
            query = query.where(batch_results.c.status == "REJECTED")
        query = query.order_by(batch_results.c.seq).limit(limit)
        return [BatchResult(**row) for row in (await self._connection.execute(query)).mappings()]


def _fields(job: BatchJob) -> dict[str, Any]:
    return {name: getattr(job, name) for name in BatchJob.__dataclass_fields__}
