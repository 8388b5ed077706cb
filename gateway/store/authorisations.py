"""Which forwarder may lodge for which trader (`forwarder_authorisations`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.clients import CLIENT_COLUMNS, client_of
from gateway.store.records import Client
from gateway.store.tables import api_clients, forwarder_authorisations

__all__ = ["Authorisation", "AuthorisationRepository"]


@dataclass(frozen=True, slots=True)
class Authorisation:
    forwarder_id: str
    forwarder_name: str
    trader_id: str
    trader_name: str
    created_at: datetime
    created_by: str | None = None


class AuthorisationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, forwarder_id: str, trader_id: str, *, at: datetime, by: str | None) -> bool:
        """Authorise the pair; False when it already was (the first grant stands)."""
        dialect_insert = postgresql_insert if self._connection.dialect.name == "postgresql" else sqlite_insert
        statement = (
            dialect_insert(forwarder_authorisations)
            .values(forwarder_id=forwarder_id, trader_id=trader_id, created_at=at, created_by=by)
            .on_conflict_do_nothing(index_elements=["forwarder_id", "trader_id"])
        )
        return (await self._connection.execute(statement)).rowcount == 1

    async def remove(self, forwarder_id: str, trader_id: str) -> bool:
        """Withdraw the pair; False when there was none."""
        statement = delete(forwarder_authorisations).where(
            forwarder_authorisations.c.forwarder_id == forwarder_id,
            forwarder_authorisations.c.trader_id == trader_id,
        )
        return (await self._connection.execute(statement)).rowcount == 1

    async def traders_of(self, forwarder_id: str) -> list[Client]:
        """The traders the forwarder may lodge for."""
        query = (
            select(*CLIENT_COLUMNS)
            .join(forwarder_authorisations, forwarder_authorisations.c.trader_id == api_clients.c.id)
            .where(forwarder_authorisations.c.forwarder_id == forwarder_id)
        )
        return [client_of(row) for row in (await self._connection.execute(query)).mappings()]

    async def involving(self, client_id: str) -> list[Authorisation]:
        """Every authorisation the client is a party to (as forwarder or as trader), with names."""
        forwarder = api_clients.alias("forwarder")
        trader = api_clients.alias("trader")
        table = forwarder_authorisations
        query = (
            select(
                table.c.forwarder_id,
                forwarder.c.name.label("forwarder_name"),
                table.c.trader_id,
                trader.c.name.label("trader_name"),
                table.c.created_at,
                table.c.created_by,
            )
            .join(forwarder, forwarder.c.id == table.c.forwarder_id)
            .join(trader, trader.c.id == table.c.trader_id)
            .where(or_(table.c.forwarder_id == client_id, table.c.trader_id == client_id))
            .order_by(table.c.created_at, forwarder.c.name, trader.c.name)
        )
        return [Authorisation(**row) for row in (await self._connection.execute(query)).mappings()]
