"""Webhooks: subscriptions, deliveries, attempts and the fan-out cursor.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), sa.ForeignKey("api_clients.id"), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deactivated_at", UtcDateTime()),
        sa.Column("after_history_id", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_webhook_subscriptions_client", "webhook_subscriptions", ["client_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column(
            "subscription_id", sa.String(36), sa.ForeignKey("webhook_subscriptions.id"), nullable=False
        ),
        sa.Column("history_id", _BigId, sa.ForeignKey("status_history.id"), nullable=False),
        sa.Column("declaration_id", sa.String(36), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime()),
        sa.Column("last_response_code", sa.Integer()),
        sa.Column("last_error", sa.String(300)),
        sa.Column("delivered_at", UtcDateTime()),
        sa.UniqueConstraint(
            "subscription_id", "history_id", name="uq_webhook_deliveries_subscription_history"
        ),
    )
    op.create_index("ix_webhook_deliveries_subscription", "webhook_deliveries", ["subscription_id", "id"])
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", _BigId, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response_code", sa.Integer()),
        sa.Column("error", sa.String(300)),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])
    op.create_table(
        "webhook_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_cursors")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
