"""`/v1/declarations`: submit, read one, list the caller's own, amend, cancel, read versions.

Traders and forwarders submit, amend and cancel, and read what they lodged; an agency reads (only)
the declarations routed to it; any other declaration answers 404.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import ValidationError

from gateway.api.deps import GatewayDep, Reader, Submitter, rate_limited, read_body
from gateway.api.origin import OnBehalfOf, SignatureHeader, origin_of
from gateway.api.schemas import (
    AgencyStatus,
    AmendmentAccepted,
    CancellationAccepted,
    CancellationRequest,
    DeclarationAccepted,
    DeclarationList,
    DeclarationSummary,
    DeclarationView,
    HistoryItem,
    SignedByView,
    VersionItem,
)
from gateway.contracts.statuses import Status
from gateway.documents.problems import Problem
from gateway.errors import DocumentInvalid, InvalidRequest, NotFound, UnsupportedMediaType
from gateway.store.records import Client, DeclarationRecord
from gateway.store.uow import UnitOfWork

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/declarations", tags=["declarations"], dependencies=[Depends(rate_limited("api"))]
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _problems(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses`: each status with its description, answered as problem+json."""
    return {code: {"description": text, **_PROBLEM} for code, text in descriptions.items()}


_DOCUMENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            # The exact bytes: the receipt's digest is over them (and a string would be an element's text).
            "application/xml": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {}},
        },
    }
}


@router.post(
    "",
    status_code=202,
    response_model=DeclarationAccepted,
    summary="Submit a declaration (XML or JSON); answers with a signed receipt",
    responses=_problems(
        {
            400: "Malformed or unsafe document (DOCTYPE, entities, broken XML/JSON)",
            401: "Missing or unknown API key",
            403: "The role may not submit",
            409: "Idempotency-Key reused with a different body",
            413: "Body over the size limit",
            415: "Neither application/xml nor application/json",
            422: "Document invalid: every problem with code, path and message",
            503: "Database unavailable; retry later",
        }
    ),
    openapi_extra=_DOCUMENT_BODY,
)
async def submit_declaration(
    request: Request,
    response: Response,
    gateway: GatewayDep,
    client: Submitter,
    on_behalf_of: OnBehalfOf,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    signature: SignatureHeader = None,
) -> DeclarationAccepted:
    body = await read_body(request, gateway.settings.max_body_bytes)
    origin = await origin_of(gateway, client, signature=signature, body=body, on_behalf_of=on_behalf_of)
    accepted = await gateway.submissions.submit(
        body=body,
        content_type=request.headers.get("content-type"),
        client=client,
        idempotency_key=idempotency_key,
        origin=origin,
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
    summary="One declaration with its per-agency status and history (the caller's own, or routed to it)",
    responses={401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM},
)
async def get_declaration(declaration_id: str, gateway: GatewayDep, client: Reader) -> DeclarationView:
    async with gateway.uow_factory() as uow:
        record = await _visible(uow, declaration_id, client)
    if record is None:
        raise NotFound("no such declaration")
    return _view(record)


@router.get(
    "",
    response_model=DeclarationList,
    summary="The caller's declarations (an agency's: those routed to it), newest first",
    responses={
        400: {"description": "Malformed cursor", **_PROBLEM},
        401: _PROBLEM,
        403: _PROBLEM,
        422: _PROBLEM,
    },
)
async def list_declarations(
    gateway: GatewayDep,
    client: Reader,
    status: Status | None = None,
    document_type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeclarationList:
    async with gateway.uow_factory() as uow:
        trader, agency = _scope(client)
        records = await uow.declarations.page(
            trader=trader,
            agency=agency,
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


@router.post(
    "/{declaration_id}/amendments",
    status_code=202,
    response_model=AmendmentAccepted,
    summary="Amend a declaration still under decision: a new version of the document, of the same type",
    responses=_problems(
        {
            400: "Malformed or unsafe document",
            401: "Missing or unknown API key",
            403: "The role may not amend",
            404: "No such declaration of the caller's",
            409: "The declaration has a final status, or the Idempotency-Key was used with another body",
            413: "Body over the size limit",
            415: "Neither application/xml nor application/json",
            422: "Document invalid, or of another type than the declaration",
            503: "Database unavailable; retry later",
        }
    ),
    openapi_extra=_DOCUMENT_BODY,
)
async def amend_declaration(
    declaration_id: str,
    request: Request,
    response: Response,
    gateway: GatewayDep,
    client: Submitter,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    signature: SignatureHeader = None,
) -> AmendmentAccepted:
    await _require_visible(gateway, declaration_id, client)  # 404 before anything about the body
    body = await read_body(request, gateway.settings.max_body_bytes)
    origin = await origin_of(gateway, client, signature=signature, body=body)
    amended = await gateway.changes.amend(
        declaration_id,
        body=body,
        content_type=request.headers.get("content-type"),
        client=client,
        idempotency_key=idempotency_key,
        signed_by=origin.signed_by,
    )
    response.headers["Location"] = f"/v1/declarations/{amended.id}"
    if amended.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return AmendmentAccepted(
        id=amended.id,
        version=amended.version,
        status=amended.status,
        document_type=amended.document_type,
        receipt=amended.receipt,
    )


@router.post(
    "/{declaration_id}/cancellation",
    status_code=202,
    response_model=CancellationAccepted,
    summary="Cancel a declaration still under decision; every target agency is told",
    responses=_problems(
        {
            400: "Malformed JSON body",
            401: "Missing or unknown API key",
            403: "The role may not cancel",
            404: "No such declaration of the caller's",
            409: "The declaration already has a final status (cleared, held, rejected or cancelled)",
            415: "A body that is not application/json",
            422: "Invalid body (e.g. a reason over 500 characters)",
        }
    ),
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": CancellationRequest.model_json_schema()}},
        }
    },
)
async def cancel_declaration(
    declaration_id: str,
    request: Request,
    response: Response,
    gateway: GatewayDep,
    client: Submitter,
    signature: SignatureHeader = None,
) -> CancellationAccepted:
    await _require_visible(gateway, declaration_id, client)
    body = await read_body(request, gateway.settings.max_body_bytes)
    origin = await origin_of(gateway, client, signature=signature, body=body)
    reason = _cancellation_reason(body, request.headers.get("content-type"))
    cancelled = await gateway.changes.cancel(
        declaration_id, body=body, reason=reason, client=client, signed_by=origin.signed_by
    )
    response.headers["Location"] = f"/v1/declarations/{cancelled.id}"
    return CancellationAccepted(
        id=cancelled.id, version=cancelled.version, status=cancelled.status, receipt=cancelled.receipt
    )


@router.get(
    "/{declaration_id}/versions",
    response_model=list[VersionItem],
    summary="Every version of a declaration (the submission, then each amendment) with its receipt",
    responses={401: _PROBLEM, 403: _PROBLEM, 404: _PROBLEM},
)
async def list_versions(declaration_id: str, gateway: GatewayDep, client: Reader) -> list[VersionItem]:
    async with gateway.uow_factory() as uow:
        record = await _visible(uow, declaration_id, client)
        versions = await uow.declarations.versions(declaration_id) if record else []
    if record is None:
        raise NotFound("no such declaration")
    return [
        VersionItem(
            version=v.version,
            digest=v.digest,
            received_at=v.received_at,
            receipt=v.receipt,
            signed_by=_signed_by(v.signature_kid, v.signature_alg),
        )
        for v in versions
    ]


@router.get(
    "/{declaration_id}/versions/{version}/document",
    summary="The exact bytes of one version of a declaration, as submitted",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}, "application/json": {}}},
        401: _PROBLEM,
        403: _PROBLEM,
        404: _PROBLEM,
    },
)
async def get_document(
    declaration_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],  # a version column is a 32-bit integer
    gateway: GatewayDep,
    client: Reader,
) -> Response:
    async with gateway.uow_factory() as uow:
        record = await _visible(uow, declaration_id, client)
        found = await uow.declarations.body(declaration_id, version=version) if record else None
    if found is None:
        raise NotFound("no such declaration or version")
    body, content_type = found
    return Response(content=body, media_type=content_type)


def _scope(client: Client) -> tuple[str | None, str | None]:
    """(trader, agency) whose declarations the client may read: an agency's are those routed to it
    (none without an agency), anyone else's its own."""
    if client.role == "agency":
        return None, client.agency or ""
    return client.id, None


async def _visible(uow: UnitOfWork, declaration_id: str, client: Client) -> DeclarationRecord | None:
    trader, agency = _scope(client)
    return await uow.declarations.get(declaration_id, trader=trader, agency=agency)


async def _require_visible(gateway: GatewayDep, declaration_id: str, client: Client) -> None:
    async with gateway.uow_factory() as uow:
        record = await _visible(uow, declaration_id, client)
    if record is None:
        raise NotFound("no such declaration")


def _cancellation_reason(body: bytes, content_type: str | None) -> str | None:
    if not body.strip():
        return None
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("a cancellation body must be application/json")
    try:
        return CancellationRequest.model_validate(orjson.loads(body)).reason
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"malformed JSON: {exc}") from exc
    except ValidationError as exc:
        problems = [
            Problem(code="request.invalid", path="/" + "/".join(map(str, e["loc"])), message=e["msg"])
            for e in exc.errors()
        ]
        raise DocumentInvalid(problems) from exc


def _view(record: DeclarationRecord) -> DeclarationView:
    return DeclarationView(
        id=record.id,
        status=record.status,
        document_type=record.document_type,
        version=record.version,
        reference=record.reference,
        lodgement_id=record.bulk_id,
        submitted_by=record.trader,
        on_behalf_of=record.on_behalf_of,
        signed_by=_signed_by(record.signature_kid, record.signature_alg),
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


def _signed_by(kid: str | None, alg: str | None) -> SignedByView | None:
    return SignedByView(kid=kid, alg=alg) if kid is not None and alg is not None else None


def _encode_cursor(record: DeclarationRecord) -> str:
    raw = f"{record.received_at.isoformat()}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (received_at, id) a cursor names; a forged one is a 400, never a naive or out-of-range time
    (those once reached the database and answered 500)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, declaration_id = raw.partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time has its offset")
        return moment.astimezone(UTC), declaration_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidRequest("malformed cursor") from exc
