"""`/v1/declarations`: submit, read one, list the caller's own."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from gateway.api.deps import CurrentClient, GatewayDep, read_body, require_role
from gateway.api.schemas import (
    AgencyStatus,
    DeclarationAccepted,
    DeclarationList,
    DeclarationSummary,
    DeclarationView,
    HistoryItem,
)
from gateway.contracts.statuses import Status
from gateway.errors import InvalidRequest, NotFound
from gateway.store.records import Client, DeclarationRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1/declarations", tags=["declarations"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_SUBMITTERS = ("trader", "forwarder")


@router.post(
    "",
    status_code=202,
    response_model=DeclarationAccepted,
    summary="Submit a declaration (XML or JSON); answers with a signed receipt",
    responses={
        code: {"description": text, **_PROBLEM}
        for code, text in {
            400: "Malformed or unsafe document (DOCTYPE, entities, broken XML/JSON)",
            401: "Missing or unknown API key",
            403: "The role may not submit",
            409: "Idempotency-Key reused with a different body",
            413: "Body over the size limit",
            415: "Neither application/xml nor application/json",
            422: "Document invalid: every problem with code, path and message",
            503: "Database unavailable; retry later",
        }.items()
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/json": {"schema": {}},
            },
        }
    },
)
async def submit_declaration(
    request: Request,
    response: Response,
    gateway: GatewayDep,
    client: Annotated[Client, Depends(require_role(*_SUBMITTERS))],
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> DeclarationAccepted:
    body = await read_body(request, gateway.settings.max_body_bytes)
    accepted = await gateway.submissions.submit(
        body=body,
        content_type=request.headers.get("content-type"),
        client=client,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"/v1/declarations/{accepted.id}"
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return DeclarationAccepted(
        id=accepted.id, status=accepted.status, document_type=accepted.document_type, receipt=accepted.receipt
    )


@router.get(
    "/{declaration_id}",
    response_model=DeclarationView,
    summary="One declaration with its per-agency status and history (only the caller's own)",
    responses={401: _PROBLEM, 404: _PROBLEM},
)
async def get_declaration(declaration_id: str, gateway: GatewayDep, client: CurrentClient) -> DeclarationView:
    async with gateway.uow_factory() as uow:
        record = await uow.declarations.get(declaration_id, trader=client.id)
    if record is None:
        raise NotFound("no such declaration")
    return _view(record)


@router.get(
    "",
    response_model=DeclarationList,
    summary="The caller's declarations, newest first",
    responses={401: _PROBLEM, 422: _PROBLEM},
)
async def list_declarations(
    gateway: GatewayDep,
    client: CurrentClient,
    status: Status | None = None,
    document_type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeclarationList:
    async with gateway.uow_factory() as uow:
        records = await uow.declarations.page(
            trader=client.id,
            limit=limit,
            status=status.value if status else None,
            document_type=document_type,
            after=_decode_cursor(cursor) if cursor else None,
        )
    next_cursor = _encode_cursor(records[-1]) if len(records) == limit else None
    return DeclarationList(
        items=[
            DeclarationSummary(
                id=r.id,
                status=r.status,
                document_type=r.document_type,
                received_at=r.received_at,
                updated_at=r.updated_at,
            )
            for r in records
        ],
        next_cursor=next_cursor,
    )


def _view(record: DeclarationRecord) -> DeclarationView:
    return DeclarationView(
        id=record.id,
        status=record.status,
        document_type=record.document_type,
        digest=record.digest,
        received_at=record.received_at,
        updated_at=record.updated_at,
        receipt=record.receipt,
        agencies={
            agency: AgencyStatus(status=s.status, reference=s.reference, reason=s.reason, at=s.at)
            for agency, s in record.agencies.items()
        },
        history=[HistoryItem(status=h.status, at=h.at, detail=h.detail) for h in record.history],
    )


def _encode_cursor(record: DeclarationRecord) -> str:
    raw = f"{record.received_at.isoformat()}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, declaration_id = raw.partition("|")
        return datetime.fromisoformat(at), declaration_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("malformed cursor") from exc
