"""Request dependencies: the gateway instance, the authenticated client, its role and rate limit, the
size-limited body.

Every authenticated router declares `dependencies=[Depends(rate_limited(...))]` (authentication, then
the client's rate limit) and every route the roles it admits (`require_role`, or the aliases below).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.bootstrap import Gateway
from gateway.errors import AuthError, Forbidden, PayloadTooLarge
from gateway.store.records import Client

__all__ = [
    "Admin",
    "CurrentClient",
    "GatewayDep",
    "Reader",
    "Submitter",
    "rate_limited",
    "read_body",
    "require_role",
]


async def get_gateway(request: Request) -> Gateway:  # async: a sync dependency costs a thread hop
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


#: Declares the bearer scheme in the OpenAPI document (every route that authenticates names it); the
#: header is still read and refused below, so that a refusal is a 401 problem, never FastAPI's own 403.
_bearer = HTTPBearer(
    scheme_name="ApiKey",
    bearerFormat="API key",
    description="An API key (`tsw clients add`, `POST /v1/admin/clients`): `Authorization: Bearer <key>`.",
    auto_error=False,
)


async def current_client(
    request: Request,
    gateway: GatewayDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Client:
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("send an API key as `Authorization: Bearer <key>`")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be `Bearer <key>`")
    client = await gateway.clients.authenticate(token.strip())
    request.state.client_id = client.id  # for the audit of a refusal (403) that follows
    return client


CurrentClient = Annotated[Client, Depends(current_client)]


def require_role(*roles: str) -> Callable[[Client], Coroutine[Any, Any, Client]]:
    async def check(client: CurrentClient) -> Client:
        if client.role not in roles:
            raise Forbidden(f"role {client.role!r} may not do this (needs one of: {', '.join(roles)})")
        return client

    return check


def rate_limited(route_class: str) -> Callable[[Request, Client], Coroutine[Any, Any, None]]:
    """Authenticate, then take one of the client's tokens for `route_class` (`api` or `bulk`): 429."""

    async def check(request: Request, client: CurrentClient) -> None:
        gateway: Gateway = request.app.state.gateway
        gateway.rate_limits.take(route_class, client.id)

    return check


#: Traders (their own documents) and forwarders (what they lodged): submit, amend, cancel, read.
Submitter = Annotated[Client, Depends(require_role("trader", "forwarder"))]
#: Submitters, and agencies reading the documents routed to them.
Reader = Annotated[Client, Depends(require_role("trader", "forwarder", "agency"))]
#: Clients and keys.
Admin = Annotated[Client, Depends(require_role("admin"))]


async def read_body(request: Request, limit_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit_bytes` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise PayloadTooLarge(f"body is over the {limit_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
