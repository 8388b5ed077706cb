"""Request dependencies: the gateway instance, the authenticated client, the size-limited body."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from gateway.bootstrap import Gateway
from gateway.errors import AuthError, Forbidden, PayloadTooLarge
from gateway.store.records import Client

__all__ = ["CurrentClient", "GatewayDep", "read_body", "require_role"]


async def get_gateway(request: Request) -> Gateway:  # async: a sync dependency costs a thread hop
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def current_client(request: Request, gateway: GatewayDep) -> Client:
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("send an API key as `Authorization: Bearer <key>`")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be `Bearer <key>`")
    return await gateway.clients.authenticate(token.strip())


CurrentClient = Annotated[Client, Depends(current_client)]


def require_role(*roles: str) -> Callable[[Client], Coroutine[Any, Any, Client]]:
    async def check(client: CurrentClient) -> Client:
        if client.role not in roles:
            raise Forbidden(f"role {client.role!r} may not do this (needs one of: {', '.join(roles)})")
        return client

    return check


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
