"""Plain records passed between the service layer and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.documents.origin import SignedBy

__all__ = [
    "AgencyState",
    "BulkLodgement",
    "Client",
    "ClientCredentials",
    "DeclarationRecord",
    "HistoryEntry",
    "NewAmendment",
    "NewDeclaration",
    "Origin",
    "OutboxEvent",
    "VersionRecord",
]


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    agency: str | None = None  # for role `agency`: the agency whose routed documents it reads
    require_signature: bool = False  # its submissions must carry a valid TSW-Signature


@dataclass(frozen=True, slots=True)
class Origin:
    """Who a submission is from beyond the caller: the trader a forwarder lodges it for, and the
    caller's verified signature over the body. Neither: a plain submission."""

    on_behalf_of: Client | None = None
    signed_by: SignedBy | None = None

    def receipt_fields(self) -> dict[str, Any]:
        """What a receipt adds: ``signed_by`` ``{"kid", "alg"}``, ``on_behalf_of`` (name, and id)."""
        fields: dict[str, Any] = {}
        if self.signed_by is not None:
            fields["signed_by"] = self.signed_by.summary()
        if self.on_behalf_of is not None:
            fields["on_behalf_of"] = self.on_behalf_of.name
            fields["on_behalf_of_id"] = self.on_behalf_of.id
        return fields


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """A client with what may be shown of its keys: prefixes and dates, never a key or its hash."""

    client: Client
    key_prefix: str
    key_created_at: datetime
    previous_key_prefix: str | None = None
    previous_key_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One routed event to write to the outbox. `body` is None when it is the declaration's own body."""

    event_id: str
    agency: str
    topic: str
    headers: dict[str, str]
    action: str = "submitted"
    version: int = 1
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class NewDeclaration:
    """Everything written, in one transaction, when a submission is accepted."""

    id: str
    document_type: str
    format: str
    content_type: str
    body: bytes
    digest: str
    trader: str
    receipt: str | None  # None for a fast-path consignment: its lodgement's receipt covers it
    received_at: datetime
    events: tuple[OutboxEvent, ...]
    idempotency_key: str | None = None
    reference: str | None = None
    bulk_id: str | None = None
    on_behalf_of: str | None = None  # the trader a forwarder lodged it for (`trader` is the forwarder)
    signed_by: SignedBy | None = None


@dataclass(frozen=True, slots=True)
class BulkLodgement:
    """Fast-path consignments accepted together: one receipt, and per agency one routed bulk event."""

    id: str
    trader: str
    document_type: str
    receipt: str
    received_at: datetime
    consignments: tuple[NewDeclaration, ...]
    events: tuple[OutboxEvent, ...]  # without a body of their own: they publish `body`
    body: bytes
    on_behalf_of: str | None = None
    signed_by: SignedBy | None = None


@dataclass(frozen=True, slots=True)
class NewAmendment:
    """A new version of a declaration, written with its routed events in one transaction."""

    declaration_id: str
    version: int
    content_type: str
    body: bytes
    digest: str
    receipt: str
    received_at: datetime
    events: tuple[OutboxEvent, ...]
    idempotency_key: str | None = None
    signed_by: SignedBy | None = None


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One version of a declaration: the first submission (1) or an amendment (2, 3, …)."""

    version: int
    digest: str
    receipt: str
    received_at: datetime
    idempotency_key: str | None = None
    signature_kid: str | None = None
    signature_alg: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    status: str
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class AgencyState:
    status: str
    reference: str | None = None
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeclarationRecord:
    id: str
    document_type: str
    format: str
    digest: str
    trader: str
    status: str
    receipt: str | None
    received_at: datetime
    updated_at: datetime
    idempotency_key: str | None = None
    version: int = 1
    reference: str | None = None
    bulk_id: str | None = None
    on_behalf_of: str | None = None
    signature_kid: str | None = None
    signature_alg: str | None = None
    agencies: dict[str, AgencyState] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
