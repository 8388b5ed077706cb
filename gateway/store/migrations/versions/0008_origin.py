"""Origin: traders' signing keys and signed submissions; forwarders lodging for the traders they may.

- `api_clients.require_signature`: unsigned submissions from the client are refused.
- `client_signing_keys`: the public JWKs a client signs with (revoked ones stay, as evidence).
- `forwarder_authorisations`: (forwarder, trader) pairs: the forwarder may lodge for the trader.
- `declarations`, `amendments`, `bulk_lodgements`: the verified signature (kid, alg, the JWS) and, for
  declarations and lodgements, the trader a forwarder lodged for (`on_behalf_of`, with a partial index
  for that trader's listing: rows without it cost no index entry).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SIGNATURE_COLUMNS = ("signature_kid", "signature_alg", "signature")


def _signature_columns() -> list[sa.Column[str]]:
    return [
        sa.Column("signature_kid", sa.String(100)),
        sa.Column("signature_alg", sa.String(16)),
        sa.Column("signature", sa.Text()),
    ]


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as clients:
        clients.add_column(
            sa.Column("require_signature", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    op.create_table(
        "client_signing_keys",
        sa.Column("client_id", sa.String(36), sa.ForeignKey("api_clients.id"), primary_key=True),
        sa.Column("kid", sa.String(100), primary_key=True),
        sa.Column("thumbprint", sa.String(43), nullable=False),
        sa.Column("kty", sa.String(8), nullable=False),
        sa.Column("crv", sa.String(16), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime()),
        sa.UniqueConstraint("client_id", "thumbprint", name="uq_client_signing_keys_thumbprint"),
    )
    op.create_table(
        "forwarder_authorisations",
        sa.Column("forwarder_id", sa.String(36), sa.ForeignKey("api_clients.id"), primary_key=True),
        sa.Column("trader_id", sa.String(36), sa.ForeignKey("api_clients.id"), primary_key=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(36)),
    )
    op.create_index("ix_forwarder_authorisations_trader", "forwarder_authorisations", ["trader_id"])
    with op.batch_alter_table("declarations") as declarations:
        declarations.add_column(
            sa.Column(
                "on_behalf_of",
                sa.String(36),
                sa.ForeignKey("api_clients.id", name="fk_declarations_on_behalf_of"),
            )
        )
        for column in _signature_columns():
            declarations.add_column(column)
    op.create_index(
        "ix_declarations_on_behalf_of_received",
        "declarations",
        ["on_behalf_of", "received_at", "id"],
        sqlite_where=sa.text("on_behalf_of IS NOT NULL"),
        postgresql_where=sa.text("on_behalf_of IS NOT NULL"),
    )
    with op.batch_alter_table("amendments") as amendments:
        for column in _signature_columns():
            amendments.add_column(column)
    with op.batch_alter_table("bulk_lodgements") as lodgements:
        lodgements.add_column(
            sa.Column(
                "on_behalf_of",
                sa.String(36),
                sa.ForeignKey("api_clients.id", name="fk_bulk_lodgements_on_behalf_of"),
            )
        )
        for column in _signature_columns():
            lodgements.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("bulk_lodgements") as lodgements:
        for name in reversed(_SIGNATURE_COLUMNS):
            lodgements.drop_column(name)
        lodgements.drop_column("on_behalf_of")
    with op.batch_alter_table("amendments") as amendments:
        for name in reversed(_SIGNATURE_COLUMNS):
            amendments.drop_column(name)
    op.drop_index("ix_declarations_on_behalf_of_received", table_name="declarations")
    with op.batch_alter_table("declarations") as declarations:
        for name in reversed(_SIGNATURE_COLUMNS):
            declarations.drop_column(name)
        declarations.drop_column("on_behalf_of")
    op.drop_index("ix_forwarder_authorisations_trader", table_name="forwarder_authorisations")
    op.drop_table("forwarder_authorisations")
    op.drop_table("client_signing_keys")
    with op.batch_alter_table("api_clients") as clients:
        clients.drop_column("require_signature")
