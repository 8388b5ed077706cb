"""Bulk lodgements (the e-commerce fast path) and batch upload jobs.

Fast-path consignments are declarations with a `reference` (the submitter's consignment_ref, unique per
submitter) and a `bulk_id`; they share the lodgement's receipt, so their own `receipt` is empty. Their
routed events are outbox rows that carry a `bulk_id` and no single declaration; the bulk event's value
is stored once, with the lodgement, however many agencies it goes to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_lodgements",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("trader", sa.String(36), sa.ForeignKey("api_clients.id"), nullable=False),
        sa.Column("document_type", sa.String(100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    with op.batch_alter_table("declarations") as declarations:
        declarations.alter_column("receipt", existing_type=sa.Text(), nullable=True)
        declarations.add_column(sa.Column("reference", sa.String(100)))
        declarations.add_column(
            sa.Column(
                "bulk_id", sa.String(36), sa.ForeignKey("bulk_lodgements.id", name="fk_declarations_bulk_id")
            )
        )
        declarations.create_unique_constraint("uq_declarations_trader_reference", ["trader", "reference"])
        declarations.create_index("ix_declarations_bulk_id", ["bulk_id"])
    with op.batch_alter_table("outbox") as outbox:
        outbox.alter_column("declaration_id", existing_type=sa.String(36), nullable=True)
        outbox.add_column(
            sa.Column("bulk_id", sa.String(36), sa.ForeignKey("bulk_lodgements.id", name="fk_outbox_bulk_id"))
        )
        outbox.create_index("ix_outbox_bulk_id", ["bulk_id"])
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("client_id", sa.String(36), sa.ForeignKey("api_clients.id"), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("spool_path", sa.Text(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer()),
        sa.Column("accepted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("positions_estimate", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime()),
        sa.Column("finished_at", UtcDateTime()),
        sa.UniqueConstraint("client_id", "digest", name="uq_batch_jobs_client_digest"),
    )
    op.create_index("ix_batch_jobs_status", "batch_jobs", ["status"])
    op.create_table(
        "batch_results",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("batch_jobs.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("declaration_id", sa.String(36)),
        sa.Column("errors", sa.JSON()),
    )


def downgrade() -> None:
    op.drop_table("batch_results")
    op.drop_index("ix_batch_jobs_status", table_name="batch_jobs")
    op.drop_table("batch_jobs")
    with op.batch_alter_table("outbox") as outbox:
        outbox.drop_index("ix_outbox_bulk_id")
        outbox.drop_column("bulk_id")
        outbox.alter_column("declaration_id", existing_type=sa.String(36), nullable=False)
    with op.batch_alter_table("declarations") as declarations:
        declarations.drop_index("ix_declarations_bulk_id")
        declarations.drop_constraint("uq_declarations_trader_reference", type_="unique")
        declarations.drop_column("bulk_id")
        declarations.drop_column("reference")
        declarations.alter_column("receipt", existing_type=sa.Text(), nullable=False)
    op.drop_table("bulk_lodgements")
