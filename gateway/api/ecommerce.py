"""`/v1/ecommerce/consignments`: the fast path for low-value e-commerce consignments (`hk.ecom.lvc`).

The body is a JSON array of rows (one per line item; the keys are the CSV columns) or the same rows
as CSV with a header. Rows sharing a `consignment_ref` (adjacent) form one consignment. The answer
lists every consignment: accepted with its id, or refused with every problem located (JSON: the
row's array index; CSV: the row's line). `202` when at least one was accepted; `422`
(problem+json, with the same `results`) when none was.
"""

from __future__ import annotations

import io
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from gateway.api.deps import GatewayDep, Submitter, rate_limited, read_body
from gateway.api.origin import OnBehalfOf, SignatureHeader, origin_of
from gateway.api.problems import problem
from gateway.api.schemas import ProblemDetails, ProblemItem
from gateway.batches.readers.csv_rows import read_csv
from gateway.batches.readers.records import ReaderLimits
from gateway.documents.receipts import body_digest
from gateway.ecommerce.columns import COLUMNS
from gateway.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from gateway.intake import Assembled, from_csv_records, from_json_rows
from gateway.lodgements import ConsignmentOutcome, Lodged

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/ecommerce", tags=["e-commerce fast path"], dependencies=[Depends(rate_limited("bulk"))]
)


class ConsignmentAnswer(BaseModel):
    consignment_ref: str | None
    position: int = Field(description="Array index (JSON) or line (CSV) of the consignment's first row.")
    status: str = Field(description="ACCEPTED or REJECTED")
    id: str | None = Field(default=None, description="The consignment's id: GET /v1/declarations/{id}.")
    lodgement_id: str | None = None
    replayed: bool = Field(default=False, description="The same consignment was lodged before.")
    errors: list[ProblemItem] = Field(default_factory=list)


class Lodgement(BaseModel):
    id: str
    consignments: int
    receipt: str = Field(description="Compact JWS: digest of the request body, consignment count and digest.")


class LodgementAnswer(BaseModel):
    accepted: int
    rejected: int
    lodgements: list[Lodgement]
    results: list[ConsignmentAnswer]


class ConsignmentsRefused(ProblemDetails):
    """A 422: no consignment was accepted (then with the answer for each one, as a 202 has it), or the
    body could not be read as rows at all (a CSV without its header: `errors` only)."""

    accepted: int | None = None
    rejected: int | None = None
    lodgements: list[Lodgement] | None = None
    results: list[ConsignmentAnswer] | None = None


@router.post(
    "/consignments",
    status_code=202,
    response_model=LodgementAnswer,
    summary="Lodge low-value e-commerce consignments (JSON array of rows, or CSV); an answer per consignment",
    responses={
        400: {"description": "Not a JSON array"},
        401: {"description": "Missing or unknown API key"},
        403: {"description": "The role may not lodge"},
        413: {"description": "Body or row count over the limit"},
        415: {"description": "Neither application/json nor text/csv"},
        422: {
            "description": "No consignment accepted (problem+json with every error), or an unreadable CSV",
            "model": ConsignmentsRefused,
        },
        429: {"description": "Over the client's rate limit; see Retry-After"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def lodge_consignments(
    request: Request,
    gateway: GatewayDep,
    client: Submitter,
    on_behalf_of: OnBehalfOf,
    signature: SignatureHeader = None,
) -> Any:
    settings = gateway.settings
    body = await read_body(request, settings.ecommerce_max_body_bytes)
    origin = await origin_of(gateway, client, signature=signature, body=body, on_behalf_of=on_behalf_of)
    assembled = _assembled(body, request.headers.get("content-type"), gateway=gateway)
    lodged = await gateway.lodgements.lodge(
        [item for item, _ in assembled], client=client, received_digest=body_digest(body), origin=origin
    )
    answer = _answer(lodged)
    if lodged.accepted == 0:
        return problem(
            422,
            "consignments-refused",
            "No consignment was accepted",
            f"{lodged.rejected} consignment(s) refused",
            errors=[p for outcome in lodged.outcomes for p in outcome.problems],
            **answer.model_dump(mode="json"),
        )
    return Response(
        content=orjson.dumps(answer.model_dump(mode="json")), status_code=202, media_type="application/json"
    )


def _assembled(body: bytes, content_type: str | None, *, gateway: GatewayDep) -> list[Assembled]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    settings = gateway.settings
    if media == "application/json":
        try:
            rows = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the body is not JSON: {exc}") from exc
        if not isinstance(rows, list):
            raise InvalidRequest("the body must be a JSON array of rows")
        _check_count(len(rows), settings.ecommerce_max_rows)
        return list(from_json_rows(rows, policy=gateway.lvc_policy))
    if media == "text/csv":
        # A CSV that cannot be read as a whole (its header) raises BatchFileError: a 422 problem.
        records = list(read_csv(io.BytesIO(body), columns=COLUMNS, limits=ReaderLimits()))
        _check_count(len(records), settings.ecommerce_max_rows)
        return list(from_csv_records(records, policy=gateway.lvc_policy))
    raise UnsupportedMediaType("send application/json (an array of rows) or text/csv")


def _check_count(count: int, limit: int) -> None:
    if count > limit:
        raise PayloadTooLarge(f"{count} rows is over the limit of {limit} per request; use /v1/batches")


def _answer(lodged: Lodged) -> LodgementAnswer:
    return LodgementAnswer(
        accepted=lodged.accepted,
        rejected=lodged.rejected,
        lodgements=[Lodgement(id=i, receipt=r, consignments=n) for i, r, n in lodged.lodgements],
        results=[_result(outcome) for outcome in lodged.outcomes],
    )


def _result(outcome: ConsignmentOutcome) -> ConsignmentAnswer:
    return ConsignmentAnswer(
        consignment_ref=outcome.reference,
        position=outcome.position,
        status=outcome.status,
        id=outcome.id,
        lodgement_id=outcome.lodgement_id,
        replayed=outcome.replayed,
        errors=[ProblemItem(**p.as_dict()) for p in outcome.problems],
    )
