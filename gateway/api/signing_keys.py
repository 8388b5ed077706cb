"""`/v1/signing-keys`: the public keys a trader or forwarder signs its submissions with.

A key is a public JWK (Ed25519 `OKP` or P-256 `EC`, see `gateway.documents.trader_keys`); its `kid`
is the one given, or the key's RFC 7638 thumbprint. Submissions then carry `TSW-Signature` (see
`gateway.api.origin`). A revoked key stays listed, with `revoked_at`, and verifies nothing after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response
from pydantic import BaseModel, Field

from gateway.api.deps import GatewayDep, Submitter, rate_limited
from gateway.errors import NotFound
from gateway.store.signing_keys import StoredSigningKey

__all__ = ["KeyPath", "SigningKeyList", "SigningKeyView", "key_view", "router"]

router = APIRouter(
    prefix="/v1/signing-keys", tags=["signing keys"], dependencies=[Depends(rate_limited("api"))]
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such key of yours", **_PROBLEM}}

KeyPath = Annotated[str, Path(max_length=100, description="The key's kid.")]
_JWK_EXAMPLE = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}


class SigningKeyView(BaseModel):
    kid: str
    thumbprint: str = Field(description="RFC 7638 SHA-256 thumbprint of the key (base64url).")
    jwk: dict[str, Any] = Field(description="The public JWK as stored: public members, kid, use, alg.")
    created_at: datetime
    revoked_at: datetime | None = None


class SigningKeyList(BaseModel):
    items: list[SigningKeyView]


@router.post(
    "",
    status_code=201,
    response_model=SigningKeyView,
    summary="Register a public key (JWK: Ed25519 or P-256) to sign submissions with",
    description=(
        "Send the public JWK only (a private key is refused). `kid` is yours to choose (URL-safe, "
        "at most 100 characters) or, left out, the key's RFC 7638 thumbprint. Then sign each "
        "submission's exact body and send the detached JWS as `TSW-Signature`."
    ),
    responses={
        409: {"description": "You already have this kid or this key (revoked ones too)", **_PROBLEM},
        422: {"description": "Not a usable public key: every problem with its code", **_PROBLEM},
    },
)
async def register_key(
    response: Response,
    gateway: GatewayDep,
    client: Submitter,
    jwk: Annotated[dict[str, Any], Body(examples=[_JWK_EXAMPLE])],
) -> SigningKeyView:
    stored = await gateway.signing_keys.register(client, jwk, actor=client.id)
    response.headers["Location"] = f"/v1/signing-keys/{stored.kid}"
    return key_view(stored)


@router.get("", response_model=SigningKeyList, summary="Your signing keys, revoked ones included")
async def list_keys(gateway: GatewayDep, client: Submitter) -> SigningKeyList:
    return SigningKeyList(items=[key_view(key) for key in await gateway.signing_keys.of_client(client.id)])


@router.get("/{kid}", response_model=SigningKeyView, summary="One of your signing keys", responses=_NOT_FOUND)
async def get_key(kid: KeyPath, gateway: GatewayDep, client: Submitter) -> SigningKeyView:
    for key in await gateway.signing_keys.of_client(client.id):
        if key.kid == kid:
            return key_view(key)
    raise NotFound(f"no signing key {kid!r}")


@router.delete(
    "/{kid}",
    status_code=204,
    summary="Revoke one of your keys: signatures made with it are refused from now on",
    responses=_NOT_FOUND,
)
async def revoke_key(kid: KeyPath, gateway: GatewayDep, client: Submitter) -> Response:
    await gateway.signing_keys.revoke(client.id, kid, actor=client.id)
    return Response(status_code=204)


def key_view(key: StoredSigningKey) -> SigningKeyView:
    return SigningKeyView(
        kid=key.kid,
        thumbprint=key.thumbprint,
        jwk=key.jwk,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )
