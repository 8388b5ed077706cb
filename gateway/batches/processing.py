"""Working through one batch job: read its file, accept or refuse each record, a chunk at a time.

Every chunk is ONE transaction: the accepted documents (declarations with their outbox rows, or a
lodgement of consignments with its bulk events), the chunk's results, and the job's resume point
(the position of the chunk's last record). A gateway stopped anywhere resumes after the last
committed chunk, so every record ends accepted or refused exactly once.

- JSON Lines, XML bundles and ZIP archives hold documents of any type: each is validated and signed
  like a single submission (`SubmissionService.prepare`) and routed on its own.
- CSV holds `hk.ecom.lvc` rows: they are grouped into consignments and lodged on the fast path
  (`LodgementService`), one lodgement per chunk; a chunk never splits a consignment.

A file-level error (a bad CSV header, a ZIP bomb, a bundle that stops being well-formed) fails the
job with that error; the records already answered stand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.audit import events as audit_events
from gateway.batches.consignment_stream import stream_consignment_chunks
from gateway.batches.readers import open_reader
from gateway.batches.readers.errors import BatchFileError
from gateway.batches.readers.records import MEDIA_JSON, RawRecord, ReaderLimits
from gateway.documents.packs import Format
from gateway.documents.problems import Problem
from gateway.ecommerce.policy import LvcPolicy
from gateway.errors import (
    DocumentError,
    DocumentInvalid,
    PayloadTooLarge,
    UnknownDocumentType,
    UnsafeDocument,
)
from gateway.lodgements import ConsignmentInput, LodgementService
from gateway.store.batches import BatchJob, JobStatus
from gateway.store.records import Client, NewDeclaration
from gateway.store.uow import UnitOfWorkFactory
from gateway.submission import SubmissionService

__all__ = ["BatchProcessor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Chunk:
    results: list[dict[str, Any]]
    last_position: int
    declarations: list[NewDeclaration]
    consignments: list[ConsignmentInput]


class BatchProcessor:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        submissions: SubmissionService,
        lodgements: LodgementService,
        policy: LvcPolicy,
        limits: ReaderLimits,
        chunk_records: int = 500,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow_factory = uow_factory
        self._submissions = submissions
        self._lodgements = lodgements
        self._policy = policy
        self._limits = limits
        self._chunk_records = chunk_records
        self._on_commit = on_commit

    async def run(self, job: BatchJob) -> None:
        """Run `job` from its resume point to the end (or to a file-level error)."""
        async with self._uow_factory() as uow:
            await uow.batches.start(job.id, at=datetime.now(UTC))
            client = await uow.clients.get(job.client_id)
            await uow.commit()
        if client is None:
            await self._finish(job, JobStatus.FAILED, error="the uploading client no longer exists")
            return
        try:
            await self._pipeline(job, client)
        except BatchFileError as exc:
            await self._finish(job, JobStatus.FAILED, error=f"{exc.code}: {exc}")
            return
        await self._finish(job, JobStatus.COMPLETED)

    async def _pipeline(self, job: BatchJob, client: Client) -> None:
        """Read, check and write the job's records a chunk at a time, in order."""
        seq = job.accepted + job.rejected
        async for chunk in self._chunks(job, client):
            await self._write(job, chunk, client=client, seq=seq)
            seq += len(chunk.results) + len(chunk.consignments)

    async def _chunks(self, job: BatchJob, client: Client) -> AsyncIterator[_Chunk]:
        if job.kind == "csv":
            consignments = stream_consignment_chunks(
                job.spool_path,
                size_bytes=job.bytes_total,
                start_after=job.position,
                limits=self._limits,
                policy=self._policy,
                chunk_size=min(self._chunk_records, self._lodgements.max_consignments),
            )
            async for part in consignments:
                yield _Chunk([], part.last_position, [], part.items)
            return
        # Documents are validated with lxml, whose parsers stay in this thread; chunk by chunk, the
        # API gets a turn in between.
        records = open_reader(job.kind, job.spool_path, limits=self._limits, start_after=job.position)
        with records:
            for chunk in self._document_chunks(records, client):
                yield chunk
                await asyncio.sleep(0)

    def _document_chunks(self, records: Iterator[RawRecord], client: Client) -> Iterator[_Chunk]:
        results: list[dict[str, Any]] = []
        accepted: list[NewDeclaration] = []
        for record in records:
            results.append(self._document_result(record, client, accepted))
            if len(results) >= self._chunk_records:
                yield _Chunk(results, record.position, accepted, [])
                results, accepted = [], []
        if results:
            yield _Chunk(results, results[-1]["position"], accepted, [])

    def _document_result(
        self, record: RawRecord, client: Client, accepted: list[NewDeclaration]
    ) -> dict[str, Any]:
        result: dict[str, Any] = {"position": record.position, "ref": record.ref}
        if record.body is None:
            return {**result, **_refused([record.error] if record.error else [])}
        fmt: Format = "json" if record.media_type == MEDIA_JSON else "xml"
        try:
            declaration = self._submissions.prepare(record.body, fmt, client=client)
        except (DocumentInvalid, UnsafeDocument) as exc:
            return {**result, **_refused(exc.problems)}
        except DocumentError as exc:  # an unknown document type, mostly
            return {**result, **_refused([Problem(code=_code(exc), path="/", message=str(exc))])}
        accepted.append(declaration)
        return {**result, "status": "ACCEPTED", "declaration_id": declaration.id, "errors": None}

    async def _write(self, job: BatchJob, chunk: _Chunk, *, client: Client, seq: int) -> None:
        async with self._uow_factory() as uow:
            results = chunk.results
            if chunk.consignments:
                outcomes, _ = await self._lodgements.write_chunk(
                    uow, chunk.consignments, client=client, digest=job.digest
                )
                results = [
                    {
                        "position": outcome.position,
                        "ref": outcome.reference,
                        "status": outcome.status,
                        "declaration_id": outcome.id,
                        "errors": [p.as_dict() for p in outcome.problems] or None,
                    }
                    for outcome in outcomes
                ]
            if chunk.declarations:
                await uow.declarations.add_many(chunk.declarations)
                await uow.audit.add(audit_events.declarations_accepted(chunk.declarations))
            await uow.batches.advance(job.id, position=chunk.last_position, results=results, next_seq=seq + 1)
            await uow.commit()
        self._on_commit()

    async def fail(self, job: BatchJob, *, error: str) -> None:
        await self._finish(job, JobStatus.FAILED, error=error)

    async def _finish(self, job: BatchJob, status: str, *, error: str | None = None) -> None:
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            await uow.batches.finish(job.id, status=status, at=now, error=error)
            await uow.audit.add(
                audit_events.batch_finished(job.id, client=job.client_id, status=status, error=error, at=now)
            )
            await uow.commit()
        # The results are in the database: the spooled upload has served its purpose.
        await asyncio.to_thread(Path(job.spool_path).unlink, missing_ok=True)
        log.info("batch %s %s%s", job.id, status, f": {error}" if error else "")


def _refused(problems: Iterable[Problem]) -> dict[str, Any]:
    return {"status": "REJECTED", "declaration_id": None, "errors": [p.as_dict() for p in problems]}


def _code(exc: DocumentError) -> str:
    if isinstance(exc, UnknownDocumentType):
        return "document.unknown-type"
    if isinstance(exc, PayloadTooLarge):
        return "document.too-large"
    return "document.refused"
