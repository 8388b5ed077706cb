"""Database tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them.

- `declarations`: every accepted document: exact bytes, digest, type, trader, status, receipt.
- `status_history`: every status a declaration has had, in order.
- `outbox`: one row per (declaration, target agency): the routed event's id and signed headers,
  written in the same transaction as the declaration and published by the relay.
- `api_clients`: callers and their hashed API keys.
- `agency_states`: each target agency's latest answer for a declaration.
- `inbox`: the ids of agency answers already applied, so a redelivered answer changes nothing.
- `amendments`: every version after the first (the first is the declaration's own `body`).

An outbox row routes one version of a declaration (`action` submitted, amended or cancelled). Rows of
the original submission leave `body` empty and the relay publishes the declaration's body, so the hot
path stores each document once; amendment and cancellation rows carry the exact bytes they publish.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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
    "declarations",
    "inbox",
    "metadata",
    "outbox",
    "status_history",
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
    Column("receipt", Text, nullable=False),
    Column("idempotency_key", String(255)),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    UniqueConstraint("trader", "idempotency_key", name="uq_declarations_trader_idempotency_key"),
    Index("ix_declarations_trader_received", "trader", "received_at", "id"),
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
    Column("declaration_id", String(36), ForeignKey("declarations.id"), nullable=False, index=True),
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
