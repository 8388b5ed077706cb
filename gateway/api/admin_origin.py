"""`/v1/admin/clients/{client_id}/...`: what an admin manages of a client's origin checks.

- `require-signature` (`PUT` to require, `DELETE` to stop): every submission of the client must carry
  a valid `TSW-Signature`;
- `signing-keys`: list the client's keys, revoke one (`DELETE`);
- `authorisations`: the pairs the client is in; for a forwarder, authorise (`PUT .../{trader}`) or
  withdraw (`DELETE .../{trader}`) lodging for a trader.

Role `admin` only; an unknown client answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from gateway.api.admin import ClientView
from gateway.api.authorisations import AuthorisationList, AuthorisationView, authorisation_view
from gateway.api.deps import Admin, GatewayDep, rate_limited
from gateway.api.signing_keys import KeyPath, SigningKeyList, key_view
from gateway.errors import NotFound
from gateway.store.records import Client

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/admin/clients/{client_id}", tags=["admin"], dependencies=[Depends(rate_limited("api"))]
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such client", **_PROBLEM}}
ClientPath = Annotated[str, Path(max_length=200, description="The client's id or name.")]
TraderPath = Annotated[str, Path(max_length=200, description="The trader's client id or name.")]


@router.put(
    "/require-signature",
    response_model=ClientView,
    summary="Refuse the client's unsigned submissions from now on",
    responses={**_NOT_FOUND, 409: {"description": "The client submits nothing (agency, admin)", **_PROBLEM}},
)
async def require_signature(client_id: ClientPath, gateway: GatewayDep, admin: Admin) -> ClientView:
    return _view(await gateway.clients.require_signature(client_id, required=True, actor=admin.id))


@router.delete(
    "/require-signature",
    response_model=ClientView,
    summary="Accept the client's unsigned submissions again",
    responses=_NOT_FOUND,
)
async def stop_requiring_signature(client_id: ClientPath, gateway: GatewayDep, admin: Admin) -> ClientView:
    return _view(await gateway.clients.require_signature(client_id, required=False, actor=admin.id))


@router.get(
    "/signing-keys",
    response_model=SigningKeyList,
    summary="The client's signing keys, revoked ones included",
    responses=_NOT_FOUND,
)
async def list_client_keys(client_id: ClientPath, gateway: GatewayDep, _admin: Admin) -> SigningKeyList:
    client = await _client(gateway, client_id)
    return SigningKeyList(items=[key_view(key) for key in await gateway.signing_keys.of_client(client.id)])


@router.delete(
    "/signing-keys/{kid}",
    status_code=204,
    summary="Revoke one of the client's signing keys (e.g. reported compromised)",
    responses={404: {"description": "No such client, or no such key of it", **_PROBLEM}},
)
async def revoke_client_key(
    client_id: ClientPath, kid: KeyPath, gateway: GatewayDep, admin: Admin
) -> Response:
    client = await _client(gateway, client_id)
    await gateway.signing_keys.revoke(client.id, kid, actor=admin.id)
    return Response(status_code=204)


@router.get(
    "/authorisations",
    response_model=AuthorisationList,
    summary="The authorisations the client is a party to (as forwarder or as trader)",
    responses=_NOT_FOUND,
)
async def list_client_authorisations(
    client_id: ClientPath, gateway: GatewayDep, _admin: Admin
) -> AuthorisationList:
    client = await _client(gateway, client_id)
    items = await gateway.forwarders.involving(client.id)
    return AuthorisationList(items=[authorisation_view(item) for item in items])


@router.put(
    "/authorisations/{trader}",
    response_model=AuthorisationView,
    summary="Let the client (a forwarder) lodge for a trader (201 when new, 200 when it already could)",
    responses={
        201: {"description": "Authorised", "model": AuthorisationView},
        404: {"description": "No such forwarder, or no such trader", **_PROBLEM},
    },
)
async def authorise_forwarder(
    client_id: ClientPath, trader: TraderPath, response: Response, gateway: GatewayDep, admin: Admin
) -> AuthorisationView:
    authorisation, created = await gateway.forwarders.authorise(client_id, trader, actor=admin.id)
    response.status_code = 201 if created else 200
    return authorisation_view(authorisation)


@router.delete(
    "/authorisations/{trader}",
    status_code=204,
    summary="Withdraw the client's (a forwarder's) authorisation to lodge for a trader",
    responses={404: {"description": "No such forwarder, trader or authorisation", **_PROBLEM}},
)
async def deauthorise_forwarder(
    client_id: ClientPath, trader: TraderPath, gateway: GatewayDep, admin: Admin
) -> Response:
    await gateway.forwarders.deauthorise(client_id, trader, actor=admin.id)
    return Response(status_code=204)


async def _client(gateway: GatewayDep, ref: str) -> Client:
    async with gateway.uow_factory() as uow:
        client = await uow.clients.find(ref)
    if client is None:
        raise NotFound(f"no client {ref[:200]!r}")
    return client


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
