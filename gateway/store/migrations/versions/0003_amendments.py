"""Amendments and cancellations: declaration versions, and outbox rows that carry their own body.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("declarations", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("outbox", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("outbox", sa.Column("action", sa.String(16), nullable=False, server_default="submitted"))
    op.add_column("outbox", sa.Column("body", sa.LargeBinary()))
    op.create_table(
        "amendments",
        sa.Column("declaration_id", sa.String(36), sa.ForeignKey("declarations.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint(
            "declaration_id", "idempotency_key", name="uq_amendments_declaration_idempotency_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("amendments")
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_column("body")
        outbox.drop_column("action")
        outbox.drop_column("version")
    with op.batch_alter_table("declarations") as declarations:
        declarations.drop_column("version")
