"""`/v1/authorisations`: which forwarders may lodge for which traders, as the parties see it.

A trader authorises a forwarder (`PUT /v1/authorisations/{forwarder}`) and withdraws it (`DELETE`);
both parties list the authorisations they are in. Admins manage any pair under `/v1/admin/clients`.
A forwarder then lodges for the trader with `TSW-On-Behalf-Of` (see `gateway.api.origin`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel

from gateway.api.deps import GatewayDep, Submitter, rate_limited, require_role
from gateway.store.authorisations import Authorisation
from gateway.store.records import Client

__all__ = ["AuthorisationList", "AuthorisationView", "ClientRef", "authorisation_view", "router"]

router = APIRouter(
    prefix="/v1/authorisations", tags=["authorisations"], dependencies=[Depends(rate_limited("api"))]
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
Trader = Annotated[Client, Depends(require_role("trader"))]
ForwarderPath = Annotated[str, Path(max_length=200, description="The forwarder's client name or id.")]


class ClientRef(BaseModel):
    id: str
    name: str


class AuthorisationView(BaseModel):
    forwarder: ClientRef
    trader: ClientRef
    created_at: datetime


class AuthorisationList(BaseModel):
    items: list[AuthorisationView]


@router.get(
    "",
    response_model=AuthorisationList,
    summary="The authorisations you are a party to: a trader's forwarders, a forwarder's traders",
)
async def list_authorisations(gateway: GatewayDep, client: Submitter) -> AuthorisationList:
    items = await gateway.forwarders.involving(client.id)
    return AuthorisationList(items=[authorisation_view(item) for item in items])


@router.put(
    "/{forwarder}",
    response_model=AuthorisationView,
    summary="Traders: let a forwarder lodge for you (201 when new, 200 when it already could)",
    responses={
        201: {"description": "Authorised", "model": AuthorisationView},
        404: {"description": "No such forwarder", **_PROBLEM},
    },
)
async def authorise(
    forwarder: ForwarderPath, response: Response, gateway: GatewayDep, client: Trader
) -> AuthorisationView:
    authorisation, created = await gateway.forwarders.authorise(forwarder, client.id, actor=client.id)
    response.status_code = 201 if created else 200
    return authorisation_view(authorisation)


@router.delete(
    "/{forwarder}",
    status_code=204,
    summary="Traders: withdraw a forwarder's authorisation; it can no longer lodge for you",
    responses={404: {"description": "No such forwarder, or not authorised by you", **_PROBLEM}},
)
async def deauthorise(forwarder: ForwarderPath, gateway: GatewayDep, client: Trader) -> Response:
    await gateway.forwarders.deauthorise(forwarder, client.id, actor=client.id)
    return Response(status_code=204)


def authorisation_view(item: Authorisation) -> AuthorisationView:
    return AuthorisationView(
        forwarder=ClientRef(id=item.forwarder_id, name=item.forwarder_name),
        trader=ClientRef(id=item.trader_id, name=item.trader_name),
        created_at=item.created_at,
    )
