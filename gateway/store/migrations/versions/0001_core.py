"""Core tables: API clients, declarations, status history, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("revoked_at", UtcDateTime()),
    )
    op.create_table(
        "declarations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("document_type", sa.String(100), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("trader", sa.String(36), sa.ForeignKey("api_clients.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("trader", "idempotency_key", name="uq_declarations_trader_idempotency_key"),
    )
    op.create_index("ix_declarations_trader_received", "declarations", ["trader", "received_at", "id"])
    op.create_table(
        "status_history",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("declaration_id", sa.String(36), sa.ForeignKey("declarations.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_status_history_declaration_id", "status_history", ["declaration_id"])
    op.create_table(
        "outbox",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("declaration_id", sa.String(36), sa.ForeignKey("declarations.id"), nullable=False),
        sa.Column("agency", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
    )
    op.create_index("ix_outbox_declaration_id", "outbox", ["declaration_id"])
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("status_history")
    op.drop_table("declarations")
    op.drop_table("api_clients")
