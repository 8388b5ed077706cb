"""Client credentials: the agency an `agency` client reads for, and a second key slot for rotation.

A rotated client keeps its previous key (hash, prefix) until `previous_key_expires_at`, so callers can
switch keys without downtime; `key_created_at` records when the current key was issued.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as clients:
        clients.add_column(sa.Column("agency", sa.String(32)))
        clients.add_column(sa.Column("previous_key_hash", sa.String(64)))
        clients.add_column(sa.Column("previous_key_prefix", sa.String(16)))
        clients.add_column(sa.Column("previous_key_expires_at", UtcDateTime()))
        clients.add_column(sa.Column("key_created_at", UtcDateTime()))
    op.create_index("ix_api_clients_previous_key_hash", "api_clients", ["previous_key_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_api_clients_previous_key_hash", table_name="api_clients")
    with op.batch_alter_table("api_clients") as clients:
        clients.drop_column("key_created_at")
        clients.drop_column("previous_key_expires_at")
        clients.drop_column("previous_key_prefix")
        clients.drop_column("previous_key_hash")
        clients.drop_column("agency")
