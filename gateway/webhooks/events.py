"""What a webhook delivery sends: the JSON body of a status change and its signed headers.

Body (JSON, UTF-8)::

    {"id": "<event id>", "type": "hk.tsw.declaration.status.v1", "declaration_id": "…",
     "document_type": "hk.tdec", "status": "CLEARED", "at": "2026-…Z", "detail": "…" | null,
     "sequence": <status history id: orders the changes of one gateway>}

The event id is fixed when the delivery is created, so every retry of one delivery carries the same
id (receivers deduplicate on it); the body's bytes are stored with the delivery and sent unchanged.

Headers: ``tsw-signature`` is a detached compact JWS (RFC 7515 appendix F, EdDSA, ``typ``
``tsw-webhook+jws``) over the exact body bytes, verifiable with the gateway's JWKS
(``/.well-known/jwks.json``, `gateway.documents.signing.verify_detached`); ``tsw-event-id`` repeats
the id; ``tsw-delivery-attempt`` counts attempts from 1.
"""

from __future__ import annotations

import orjson

from gateway.documents.signing import GatewayKeys
from gateway.store.status_changes import StatusChange

__all__ = ["EVENT_TYPE", "USER_AGENT", "WEBHOOK_TYP", "event_body", "signed_headers"]

EVENT_TYPE = "hk.tsw.declaration.status.v1"
WEBHOOK_TYP = "tsw-webhook+jws"
USER_AGENT = "tsw-gateway-webhooks/0.1"


def event_body(change: StatusChange, *, event_id: str) -> bytes:
    return orjson.dumps({"id": event_id, "type": EVENT_TYPE, **change.as_dict(), "sequence": change.id})


def signed_headers(body: bytes, *, event_id: str, attempt: int, keys: GatewayKeys) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "tsw-event-id": event_id,
        "tsw-delivery-attempt": str(attempt),
        "tsw-signature": keys.sign_detached(body, typ=WEBHOOK_TYP),
    }
