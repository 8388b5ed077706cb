"""`/v1/batches`: upload a file of many records into a job, follow its progress, read its results."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from gateway.api.deps import GatewayDep, Submitter, rate_limited
from gateway.api.origin import no_origin_on_batches
from gateway.store.batches import BatchJob, BatchResult

__all__ = ["router"]

router = APIRouter(prefix="/v1/batches", tags=["batches"], dependencies=[Depends(rate_limited("bulk"))])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_CSV_COLUMNS = ("position", "ref", "status", "declaration_id", "errors")


class BatchView(BaseModel):
    id: str
    status: str = Field(description="queued, running, completed or failed")
    kind: str = Field(description="jsonl, csv, bundle or zip")
    filename: str | None
    bytes: int
    total: int | None = Field(description="Records answered, once the job has ended.")
    accepted: int
    rejected: int
    pending: int | None = Field(description="Records not yet answered, when known.")
    position: int = Field(description="Line (JSON Lines, CSV) or entry (bundle, ZIP) reached so far.")
    positions_estimate: int | None = Field(description="Lines or entries in the file, estimated at upload.")
    error: str | None = Field(description="Why a failed job stopped (records answered before stand).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@router.post(
    "",
    status_code=202,
    response_model=BatchView,
    summary="Upload a batch file (JSON Lines, CSV of hk.ecom.lvc rows, XML bundle or ZIP); a job at once",
    dependencies=[Depends(no_origin_on_batches)],  # neither TSW-Signature nor TSW-On-Behalf-Of, yet
    responses={
        200: {"description": "The same file was uploaded before: its existing job", "model": BatchView},
        401: _PROBLEM,
        403: _PROBLEM,
        413: _PROBLEM,
        415: {"description": "Not a supported batch format", **_PROBLEM},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/xml": {"schema": {"type": "string"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upload_batch(
    request: Request,
    response: Response,
    gateway: GatewayDep,
    client: Submitter,
    x_filename: Annotated[str | None, Header(max_length=255)] = None,
) -> BatchView:
    job, created = await gateway.batches.upload(
        request.stream(), client=client, content_type=request.headers.get("content-type"), filename=x_filename
    )
    response.headers["Location"] = f"/v1/batches/{job.id}"
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return _view(job)


@router.get(
    "/{batch_id}",
    response_model=BatchView,
    summary="A batch job's progress (only the uploader's own)",
    responses={401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM},
)
async def get_batch(batch_id: str, gateway: GatewayDep, client: Submitter) -> BatchView:
    return _view(await gateway.batches.get(batch_id, client=client))


@router.get(
    "/{batch_id}/results",
    summary="Per-record results so far, in file order: JSON Lines (default) or CSV, by Accept",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
        401: _PROBLEM,
        403: _PROBLEM,
        404: _PROBLEM,
    },
)
async def get_results(
    batch_id: str,
    request: Request,
    gateway: GatewayDep,
    client: Submitter,
    rejected_only: bool = False,
) -> StreamingResponse:
    await gateway.batches.get(batch_id, client=client)  # 404 before the stream starts
    results = gateway.batches.results(batch_id, client=client, rejected_only=rejected_only)
    if "text/csv" in request.headers.get("accept", ""):
        return StreamingResponse(_csv(results), media_type="text/csv; charset=utf-8")
    return StreamingResponse(_json_lines(results), media_type="application/x-ndjson")


async def _json_lines(results: AsyncIterator[BatchResult]) -> AsyncIterator[bytes]:
    async for result in results:
        yield orjson.dumps(_result(result)) + b"\n"


async def _csv(results: AsyncIterator[BatchResult]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    async for result in results:
        row = _result(result)
        errors = "; ".join(f"{e['path']} {e['code']}: {e['message']}" for e in row["errors"] or [])
        writer.writerow(
            [row["position"], row["ref"] or "", row["status"], row["declaration_id"] or "", errors]
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _result(result: BatchResult) -> dict[str, Any]:
    return {
        "position": result.position,
        "ref": result.ref,
        "status": result.status,
        "declaration_id": result.declaration_id,
        "errors": result.errors,
    }


def _view(job: BatchJob) -> BatchView:
    total = job.total
    return BatchView(
        id=job.id,
        status=job.status,
        kind=job.kind,
        filename=job.filename,
        bytes=job.bytes_total,
        total=total,
        accepted=job.accepted,
        rejected=job.rejected,
        pending=None if total is None else total - job.accepted - job.rejected,
        position=job.position,
        positions_estimate=job.positions_estimate,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
