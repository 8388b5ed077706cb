"""`/v1/admin`: API clients (create, list, revoke, rotate a key) and the gateway's signing keys.

Role `admin` only. A new or rotated API key is in the answer once; only prefixes are shown after.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from gateway.api.deps import Admin, GatewayDep, rate_limited
from gateway.audit.events import key_rotated
from gateway.clients import MAX_EXPIRY_DAYS
from gateway.documents.problems import Problem
from gateway.errors import UnprocessableRequest
from gateway.store.records import Client, ClientCredentials

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(rate_limited("api"))])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_COMMON: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown, expired or revoked API key", **_PROBLEM},
    403: {"description": "Not an admin", **_PROBLEM},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such client", **_PROBLEM}}


class ClientCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(description="trader, forwarder, agency or admin")
    agency: str | None = Field(default=None, description="For role agency: customs, tid, censtatd, logistics")
    # Bounded: a datetime cannot reach past the year 9999 (a larger value once answered 500).
    expires_in_days: float | None = Field(default=None, gt=0, le=MAX_EXPIRY_DAYS)
    require_signature: bool = Field(default=False, description="Refuse its unsigned submissions.")


class ClientView(BaseModel):
    id: str
    name: str
    role: str
    agency: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    require_signature: bool = False
    key_prefix: str | None = None
    key_created_at: datetime | None = None
    previous_key_prefix: str | None = None
    previous_key_expires_at: datetime | None = None


class ClientWithKey(ClientView):
    api_key: str = Field(description="Shown this once: store it now.")


class SigningKey(BaseModel):
    kid: str
    created_at: str
    retired_at: str | None


class SigningKeys(BaseModel):
    active: str = Field(description="The kid this process signs with.")
    keys: list[SigningKey]


@router.get("/clients", response_model=list[ClientView], summary="Every API client", responses=_COMMON)
async def list_clients(gateway: GatewayDep, _admin: Admin) -> list[ClientView]:
    return [_credentials_view(item) for item in await gateway.clients.credentials()]


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientWithKey,
    summary="Create an API client; its key is in this answer only",
    responses={**_COMMON, 409: {"description": "The name is taken", **_PROBLEM}, 422: _PROBLEM},
)
async def create_client(
    body: ClientCreate, response: Response, gateway: GatewayDep, _admin: Admin
) -> ClientWithKey:
    expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    try:
        client, api_key = await gateway.clients.add(
            body.name,
            role=body.role,
            agency=body.agency,
            expires_at=expires_at,
            require_signature=body.require_signature,
        )
    except ValueError as exc:
        raise UnprocessableRequest([Problem(code="request.invalid", path="/role", message=str(exc))]) from exc
    response.headers["Location"] = f"/v1/admin/clients/{client.id}"
    return ClientWithKey(**_view(client).model_dump(), api_key=api_key)


@router.post(
    "/clients/{client_id}/revoke",
    response_model=ClientView,
    summary="Revoke a client: every key of it is refused from now on",
    responses={**_COMMON, **_NOT_FOUND},
)
async def revoke_client(client_id: str, gateway: GatewayDep, _admin: Admin) -> ClientView:
    return _view(await gateway.clients.revoke(client_id))


@router.post(
    "/clients/{client_id}/rotate-key",
    response_model=ClientWithKey,
    summary="A new API key; the current one stays valid for `grace_hours`, then is refused",
    responses={**_COMMON, **_NOT_FOUND, 409: {"description": "The client is revoked", **_PROBLEM}},
)
async def rotate_client_key(
    client_id: str,
    gateway: GatewayDep,
    _admin: Admin,
    grace_hours: Annotated[float, Query(ge=0, le=24 * 30)] = 24.0,
) -> ClientWithKey:
    client, api_key = await gateway.clients.rotate(client_id, grace=timedelta(hours=grace_hours))
    return ClientWithKey(**_view(client).model_dump(), api_key=api_key)


@router.get(
    "/keys",
    response_model=SigningKeys,
    summary="The gateway's signing keys: the active one and the retired ones still published",
    responses=_COMMON,
)
async def list_signing_keys(gateway: GatewayDep, _admin: Admin) -> SigningKeys:
    return _signing_keys(gateway)


@router.post(
    "/keys/rotate",
    response_model=SigningKeys,
    summary="Make a new active signing key on disk; running processes sign with it once restarted",
    responses=_COMMON,
)
async def rotate_signing_key(gateway: GatewayDep, _admin: Admin) -> SigningKeys:
    previous = gateway.keys.active_kid
    # The database first: when it is away the answer is a 503 and no key is made without its audit
    # entry (only a database lost in the moment between the two can leave one unrecorded).
    async with gateway.uow_factory() as uow:
        await uow.ping()
        kid = await asyncio.to_thread(gateway.keys.rotate)  # files written and fsynced: off the event loop
        await uow.audit.add(key_rotated(kid, previous=previous, actor=_admin.id))
        await uow.commit()
    return _signing_keys(gateway)


def _signing_keys(gateway: GatewayDep) -> SigningKeys:
    keys = gateway.keys
    infos = keys.infos
    if keys.keys_dir is not None:  # what is on disk now, a rotation by another process included
        infos = type(keys).load(keys.keys_dir).infos
    return SigningKeys(
        active=keys.active_kid,
        keys=[SigningKey(kid=i.kid, created_at=i.created_at, retired_at=i.retired_at) for i in infos],
    )


def _view(client: Client) -> ClientView:
    return ClientView(
        id=client.id,
        name=client.name,
        role=client.role,
        agency=client.agency,
        created_at=client.created_at,
        expires_at=client.expires_at,
        revoked_at=client.revoked_at,
        require_signature=client.require_signature,
    )


def _credentials_view(item: ClientCredentials) -> ClientView:
    return _view(item.client).model_copy(
        update={
            "key_prefix": item.key_prefix,
            "key_created_at": item.key_created_at,
            "previous_key_prefix": item.previous_key_prefix,
            "previous_key_expires_at": item.previous_key_expires_at,
        }
    )
