"""Where a submission comes from, beyond the API key: the `TSW-Signature` and `TSW-On-Behalf-Of`
request headers of the routes that take documents (submit, amend, cancel, lodge consignments).

- `TSW-Signature`: a detached compact JWS (RFC 7515 appendix F, `<header>..<signature>`) over the
  exact request body, made with one of the caller's registered keys (`POST /v1/signing-keys`); see
  `gateway.documents.origin`. A bad one is refused with `401` (`signature-refused`, with a stable
  `errors[0].code`); so is a missing one from a client that must sign.
- `TSW-On-Behalf-Of`: the trader (its client name or id) a forwarder lodges for; `403` unless the
  forwarder is authorised for that trader (`gateway.forwarders`).

Batch uploads (`POST /v1/batches`) take neither yet, and say so rather than ignore them
(`no_origin_on_batches`): an EdDSA signature over a file of up to 4 GiB cannot be checked while it
streams (PureEdDSA hashes the whole message twice), and a job would have to carry the trader to every
record it lodges. So a signature or a trader named there is refused, and a client that must sign
lodges through the routes above instead of uploading (else the requirement could be walked around).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.api.deps import CurrentClient, GatewayDep
from gateway.bootstrap import Gateway
from gateway.documents.origin import HEADER
from gateway.errors import InvalidRequest, SignatureRefused
from gateway.store.records import Client, Origin

__all__ = ["ON_BEHALF_OF_HEADER", "OnBehalfOf", "SignatureHeader", "no_origin_on_batches", "origin_of"]

ON_BEHALF_OF_HEADER = "TSW-On-Behalf-Of"
_PLAIN = Origin()

SignatureHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="Detached JWS (`<header>..<signature>`, RFC 7515 appendix F; alg EdDSA or ES256, "
        "`kid` of one of your keys) over the exact request body. Required from clients that must sign; "
        "a bad one is a 401 `signature-refused` problem.",
    ),
]


async def _on_behalf_of(
    gateway: GatewayDep,
    client: CurrentClient,
    trader: Annotated[
        str | None,
        Header(
            alias=ON_BEHALF_OF_HEADER,
            description="Forwarders: the trader (client name or id) this is lodged for; 403 unless "
            "authorised for it. The declaration records both, and both read it.",
        ),
    ] = None,
) -> Client | None:
    if trader is None:
        return None
    return await gateway.forwarders.lodging_for(client, trader.strip())


#: The trader a forwarder lodges for (None: the caller lodges for itself).
OnBehalfOf = Annotated[Client | None, Depends(_on_behalf_of)]


async def origin_of(
    gateway: Gateway,
    client: Client,
    *,
    signature: str | None,
    body: bytes,
    on_behalf_of: Client | None = None,
) -> Origin:
    """The request's verified origin; raises `SignatureRefused` for a signature that is bad, or
    missing from a client that must sign. Nothing to check costs nothing."""
    if signature is None and on_behalf_of is None and not client.require_signature:
        return _PLAIN
    signed_by = await gateway.signing_keys.check(client, signature, body)
    return Origin(on_behalf_of=on_behalf_of, signed_by=signed_by)


async def no_origin_on_batches(request: Request, client: CurrentClient) -> None:
    """Batch uploads carry no signature and lodge for no other trader (see above): refuse the headers
    rather than ignore them, and refuse a client that must sign."""
    if ON_BEHALF_OF_HEADER in request.headers:
        raise InvalidRequest(
            f"{ON_BEHALF_OF_HEADER} is not taken by batch uploads: lodge for a trader through "
            "/v1/declarations or /v1/ecommerce/consignments"
        )
    if HEADER in request.headers:
        raise SignatureRefused(
            "signature.unsupported",
            "batch uploads cannot be signed yet: sign each submission to /v1/declarations or "
            "/v1/ecommerce/consignments instead",
        )
    if client.require_signature:
        raise SignatureRefused(
            "signature.required",
            "this client must sign its submissions, and batch uploads cannot be signed yet: use "
            "/v1/declarations or /v1/ecommerce/consignments",
        )
