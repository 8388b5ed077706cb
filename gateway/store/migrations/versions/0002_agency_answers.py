"""Agency answers: per-agency state and the inbox of applied response events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_states",
        sa.Column("declaration_id", sa.String(36), sa.ForeignKey("declarations.id"), primary_key=True),
        sa.Column("agency", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decision", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(200)),
        sa.Column("reason", sa.Text()),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("response_event_id", sa.String(36), nullable=False),
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("declaration_id", sa.String(36), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("agency_states")
