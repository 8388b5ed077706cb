"""`/v1/webhooks`: a trader's callback URLs for status changes, and their delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from gateway.api.deps import GatewayDep, Submitter, rate_limited
from gateway.api.webhook_schemas import (
    AttemptView,
    DeliveryList,
    DeliveryView,
    WebhookCreate,
    WebhookList,
    WebhookView,
)
from gateway.errors import InvalidRequest
from gateway.store.webhooks import DeliveryRecord, DeliveryStatus, WebhookSubscription

__all__ = ["router"]

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=[Depends(rate_limited("api"))])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_COMMON: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown API key", **_PROBLEM},
    403: {"description": "The role may not use webhooks", **_PROBLEM},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such webhook, or not the caller's", **_PROBLEM}
}
Subscriber = Submitter
_MAX_ID = 2**63 - 1


@router.post(
    "",
    status_code=201,
    response_model=WebhookView,
    summary="Register a callback URL: every status change of the caller's declarations is POSTed to it",
    description=(
        "Each change is a JSON event `hk.tsw.declaration.status.v1` signed with the gateway key "
        "(`tsw-signature`: detached JWS over the exact body, verifiable with `/.well-known/jwks.json`) "
        "and retried with exponential back-off until the endpoint answers 2xx."
    ),
    responses={
        **_COMMON,
        409: {"description": "Too many active webhooks", **_PROBLEM},
        422: {"description": "Unusable URL: every problem with code, path and message", **_PROBLEM},
    },
)
async def register_webhook(
    body: WebhookCreate, response: Response, gateway: GatewayDep, client: Subscriber
) -> WebhookView:
    subscription = await gateway.webhooks.register(client, url=body.url, description=body.description)
    response.headers["Location"] = f"/v1/webhooks/{subscription.id}"
    return _view(subscription)


@router.get(
    "",
    response_model=WebhookList,
    summary="The caller's webhooks, active and deactivated, newest first",
    responses=_COMMON,
)
async def list_webhooks(gateway: GatewayDep, client: Subscriber) -> WebhookList:
    return WebhookList(items=[_view(item) for item in await gateway.webhooks.subscriptions(client)])


@router.get(
    "/{webhook_id}",
    response_model=WebhookView,
    summary="One of the caller's webhooks",
    responses={**_COMMON, **_NOT_FOUND},
)
async def get_webhook(webhook_id: str, gateway: GatewayDep, client: Subscriber) -> WebhookView:
    return _view(await gateway.webhooks.get(client, webhook_id))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    summary="Deactivate a webhook: nothing more is sent, pending deliveries fail; the log stays",
    responses={**_COMMON, **_NOT_FOUND},
)
async def deactivate_webhook(webhook_id: str, gateway: GatewayDep, client: Subscriber) -> Response:
    await gateway.webhooks.deactivate(client, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    summary="The webhook's delivery log, newest first: each delivery's state and every attempt",
    responses={**_COMMON, **_NOT_FOUND, 400: {"description": "Malformed cursor", **_PROBLEM}},
)
async def list_deliveries(
    webhook_id: str,
    gateway: GatewayDep,
    client: Subscriber,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> DeliveryList:
    before = _decode_cursor(cursor) if cursor is not None else None
    records = await gateway.webhooks.deliveries(client, webhook_id, limit=limit, before=before)
    next_cursor = str(records[-1].id) if len(records) == limit else None
    return DeliveryList(items=[_delivery(record) for record in records], next_cursor=next_cursor)


def _view(subscription: WebhookSubscription) -> WebhookView:
    return WebhookView(
        id=subscription.id,
        url=subscription.url,
        description=subscription.description,
        created_at=subscription.created_at,
        active=subscription.active,
        deactivated_at=subscription.deactivated_at,
    )


def _delivery(record: DeliveryRecord) -> DeliveryView:
    return DeliveryView(
        id=record.id,
        event_id=record.event_id,
        declaration_id=record.declaration_id,
        sequence=record.history_id,
        status=DeliveryStatus(record.status),
        attempts=record.attempts,
        created_at=record.created_at,
        next_attempt_at=record.next_attempt_at,
        last_response_code=record.last_response_code,
        last_error=record.last_error,
        delivered_at=record.delivered_at,
        attempt_log=[
            AttemptView(at=a.at, status_code=a.response_code, error=a.error, duration_ms=a.duration_ms)
            for a in record.attempt_log
        ],
    )


def _decode_cursor(cursor: str) -> int:
    """A delivery id: digits within a 64-bit integer (a larger one once reached the database: 500)."""
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > _MAX_ID:
        raise InvalidRequest("malformed cursor")
    return int(cursor)
