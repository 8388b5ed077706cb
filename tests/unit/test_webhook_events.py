"""A webhook body and its signature: verifiable with the gateway's JWKS alone, and only unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from gateway.documents.signing import GatewayKeys, verify_detached
from gateway.errors import SignatureInvalid
from gateway.store.status_changes import StatusChange
from gateway.webhooks.events import EVENT_TYPE, WEBHOOK_TYP, event_body, signed_headers

CHANGE = StatusChange(
    id=42,
    declaration_id="5f0d4c1e-0000-4000-8000-000000000001",
    document_type="hk.tdec",
    status="CLEARED",
    at=datetime(2026, 11, 27, 8, 30, 1, 250000, tzinfo=UTC),
    detail="censtatd: ACKNOWLEDGED",
    trader="trader-id",
)


def test_body_carries_the_change_and_its_ids() -> None:
    body = orjson.loads(event_body(CHANGE, event_id="evt-1"))
    assert body == {
        "id": "evt-1",
        "type": EVENT_TYPE,
        "declaration_id": CHANGE.declaration_id,
        "document_type": "hk.tdec",
        "status": "CLEARED",
        "at": "2026-11-27T08:30:01.250000Z",
        "detail": "censtatd: ACKNOWLEDGED",
        "sequence": 42,
    }
    assert "trader" not in body


def test_signature_verifies_with_the_jwks_over_the_exact_body() -> None:
    keys = GatewayKeys.ephemeral()
    body = event_body(CHANGE, event_id="evt-1")
    headers = signed_headers(body, event_id="evt-1", attempt=3, keys=keys)
    assert headers["content-type"] == "application/json"
    assert headers["tsw-event-id"] == "evt-1"
    assert headers["tsw-delivery-attempt"] == "3"
    assert headers["user-agent"].startswith("tsw-gateway")
    header = verify_detached(headers["tsw-signature"], body, keys.jwks())
    assert header["kid"] == keys.active_kid
    assert header["typ"] == WEBHOOK_TYP

    with pytest.raises(SignatureInvalid):
        verify_detached(headers["tsw-signature"], body.replace(b"CLEARED", b"HELD"), keys.jwks())
    with pytest.raises(SignatureInvalid):
        verify_detached(headers["tsw-signature"], body, GatewayKeys.ephemeral().jwks())
