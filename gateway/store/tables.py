"""Database tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

- `declarations`: every accepted document: exact bytes, digest, type, trader, status, receipt.
- `status_history`: every status a declaration has had, in order.
- `outbox`: one row per (declaration, target agency): the routed event's id and signed headers,
  written in the same transaction as the declaration and published by the relay.
- `api_clients`: callers, their role (and agency), and their hashed API keys: the current one and,
  after a rotation, the previous one with the end of its grace period.
- `agency_states`: each target agency's latest answer for a declaration.
- `inbox`: the ids of agency answers already applied, so a redelivered answer changes nothing.
- `amendments`: every version after the first (the first is the declaration's own `body`).

An outbox row routes one version of a declaration (`action` submitted, amended or cancelled). Rows of
the original submission leave `body` empty and the relay publishes the declaration's body, so the hot
path stores each document once; amendment and cancellation rows carry the exact bytes they publish.

Webhooks (`gateway.webhooks`): `webhook_subscriptions` (a client's callback URLs), `webhook_deliveries`
(one per status-history row and subscription, unique, with its exact signed body and retry state),
`webhook_attempts` (every HTTP attempt, the delivery log) and `webhook_cursors` (how far the fan-out
has read `status_history`).

Origin (`gateway.signing_keys`, `gateway.forwarders`): `client_signing_keys` (the public keys a client
signs its requests with; a revoked key stays, as evidence for what it signed before) and
`forwarder_authorisations` (which forwarder may lodge for which trader). A declaration records the
trader it was lodged for (`on_behalf_of`, when a forwarder lodged it) and, when signed, the key id,
algorithm and the detached JWS itself (`signature_kid`, `signature_alg`, `signature`); so do
amendments and fast-path lodgements.

Audit (`gateway.audit`): `audit_log` (every audited event; `seq`, `prev_hash` and `hash` stay empty
until the chainer links the row into the hash chain) and `audit_checkpoints` (the chain head at
intervals, signed by the gateway key).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UtcDateTime",
    "agency_states",
    "amendments",
    "api_clients",
    "audit_checkpoints",
    "audit_log",
    "batch_jobs",
    "batch_results",
    "bulk_lodgements",
    "client_signing_keys",
    "declarations",
    "forwarder_authorisations",
    "inbox",
    "metadata",
    "outbox",
    "status_history",
    "webhook_attempts",
    "webhook_cursors",
    "webhook_deliveries",
    "webhook_subscriptions",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
_BigId = BigInteger().with_variant(Integer(), "sqlite")

api_clients = Table(
    "api_clients",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_prefix", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    Column("agency", String(32)),  # the agency an `agency` client reads for
    # Rotation: the key before the current one, accepted until `previous_key_expires_at` (grace).
    Column("previous_key_hash", String(64)),
    Column("previous_key_prefix", String(16)),
    Column("previous_key_expires_at", UtcDateTime()),
    Column("key_created_at", UtcDateTime()),  # when the current key was issued (None: at creation)
    # Every submission must carry a valid TSW-Signature (gateway.documents.origin).
    Column("require_signature", Boolean, nullable=False, server_default=text("false")),
    Index("ix_api_clients_previous_key_hash", "previous_key_hash", unique=True),
)

client_signing_keys = Table(
    "client_signing_keys",
    metadata,
    Column("client_id", String(36), ForeignKey("api_clients.id"), primary_key=True),
    Column("kid", String(100), primary_key=True),
    Column("thumbprint", String(43), nullable=False),  # RFC 7638: the same key twice is refused
    Column("kty", String(8), nullable=False),
    Column("crv", String(16), nullable=False),
    Column("jwk", JSON, nullable=False),  # public members only
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime()),
    UniqueConstraint("client_id", "thumbprint", name="uq_client_signing_keys_thumbprint"),
)

forwarder_authorisations = Table(
    "forwarder_authorisations",
    metadata,
    Column("forwarder_id", String(36), ForeignKey("api_clients.id"), primary_key=True),
    Column("trader_id", String(36), ForeignKey("api_clients.id"), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(36)),  # the admin or trader client that granted it; None: the CLI
    Index("ix_forwarder_authorisations_trader", "trader_id"),
)

bulk_lodgements = Table(
    "bulk_lodgements",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("trader", String(36), ForeignKey("api_clients.id"), nullable=False),
    Column("document_type", String(100), nullable=False),
    Column("count", Integer, nullable=False),
    Column("receipt", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the routed bulk value, once for every agency
    Column("received_at", UtcDateTime(), nullable=False),
    Column("on_behalf_of", String(36), ForeignKey("api_clients.id", name="fk_bulk_lodgements_on_behalf_of")),
    Column("signature_kid", String(100)),
    Column("signature_alg", String(16)),
    Column("signature", Text),
)

declarations = Table(
    "declarations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("document_type", String(100), nullable=False),
    Column("format", String(8), nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("trader", String(36), ForeignKey("api_clients.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("receipt", Text),  # empty for fast-path consignments: their lodgement's receipt covers them
    Column("idempotency_key", String(255)),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("reference", String(100)),  # the submitter's own reference (consignment_ref), unique per submitter
    Column(
        "bulk_id", String(36), ForeignKey("bulk_lodgements.id", name="fk_declarations_bulk_id"), index=True
    ),
    # The trader a forwarder lodged it for (`trader` is then the forwarder): both may read it.
    Column("on_behalf_of", String(36), ForeignKey("api_clients.id", name="fk_declarations_on_behalf_of")),
    Column("signature_kid", String(100)),
    Column("signature_alg", String(16)),
    Column("signature", Text),  # the submitter's detached JWS over `body`, as received
    UniqueConstraint("trader", "idempotency_key", name="uq_declarations_trader_idempotency_key"),
    UniqueConstraint("trader", "reference", name="uq_declarations_trader_reference"),
    Index("ix_declarations_trader_received", "trader", "received_at", "id"),
    Index(
        "ix_declarations_on_behalf_of_received",
        "on_behalf_of",
        "received_at",
        "id",
        sqlite_where=text("on_behalf_of IS NOT NULL"),
        postgresql_where=text("on_behalf_of IS NOT NULL"),
    ),
)

status_history = Table(
    "status_history",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("declaration_id", String(36), ForeignKey("declarations.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("detail", Text),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("declaration_id", String(36), ForeignKey("declarations.id"), index=True),  # None for a bulk
    Column("bulk_id", String(36), ForeignKey("bulk_lodgements.id", name="fk_outbox_bulk_id"), index=True),
    Column("agency", String(32), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("published_at", UtcDateTime()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("action", String(16), nullable=False, server_default="submitted"),
    Column("body", LargeBinary),
    Index(
        "ix_outbox_pending",
        "id",
        sqlite_where=text("published_at IS NULL"),
        postgresql_where=text("published_at IS NULL"),
    ),
)

amendments = Table(
    "amendments",
    metadata,
    Column("declaration_id", String(36), ForeignKey("declarations.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_type", String(200), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("receipt", Text, nullable=False),
    Column("idempotency_key", String(255)),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("signature_kid", String(100)),
    Column("signature_alg", String(16)),
    Column("signature", Text),
    UniqueConstraint("declaration_id", "idempotency_key", name="uq_amendments_declaration_idempotency_key"),
)

agency_states = Table(
    "agency_states",
    metadata,
    Column("declaration_id", String(36), ForeignKey("declarations.id"), primary_key=True),
    Column("agency", String(32), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("decision", String(64), nullable=False),
    Column("reference", String(200)),
    Column("reason", Text),
    Column("at", UtcDateTime(), nullable=False),
    Column("response_event_id", String(36), nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("declaration_id", String(36), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("outcome", String(200), nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(36), ForeignKey("api_clients.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", String(500)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("deactivated_at", UtcDateTime()),
    # Only status changes with a higher history id are delivered: none from before the registration.
    Column("after_history_id", BigInteger, nullable=False),
    Index("ix_webhook_subscriptions_client", "client_id", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("subscription_id", String(36), ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("history_id", _BigId, ForeignKey("status_history.id"), nullable=False),
    Column("declaration_id", String(36), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime()),
    Column("last_response_code", Integer),
    Column("last_error", String(300)),
    Column("delivered_at", UtcDateTime()),
    UniqueConstraint("subscription_id", "history_id", name="uq_webhook_deliveries_subscription_history"),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("delivery_id", _BigId, ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("response_code", Integer),
    Column("error", String(300)),
)

webhook_cursors = Table(
    "webhook_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
)


batch_jobs = Table(
    "batch_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(36), ForeignKey("api_clients.id"), nullable=False),
    Column("digest", String(80), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("filename", String(255)),
    Column("spool_path", Text, nullable=False),
    Column("bytes_total", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("total", Integer),
    Column("accepted", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("position", Integer, nullable=False, server_default="0"),  # records read: where to resume
    Column("positions_estimate", Integer),  # records the file holds, estimated at upload, for progress
    Column("error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    UniqueConstraint("client_id", "digest", name="uq_batch_jobs_client_digest"),
)

batch_results = Table(
    "batch_results",
    metadata,
    Column("job_id", String(36), ForeignKey("batch_jobs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("position", Integer, nullable=False),  # line (JSON Lines, CSV) or entry (bundle, ZIP)
    Column("ref", String(255)),
    Column("status", String(16), nullable=False),
    Column("declaration_id", String(36)),
    Column("errors", JSON),
)


audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),  # insertion order, not chain order
    Column("seq", BigInteger, unique=True),  # chain position, from 1: None until chained
    Column("at", UtcDateTime(), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(200)),
    Column("subject", String(200)),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Index(
        "ix_audit_log_unchained",
        "id",
        sqlite_where=text("seq IS NULL"),
        postgresql_where=text("seq IS NULL"),
    ),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("kid", String(64), nullable=False),
    Column("signature", Text, nullable=False),  # compact JWS over {"seq", "hash", "at"}
)
