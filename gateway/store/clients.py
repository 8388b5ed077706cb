"""API clients and their key hashes: two slots, the current key and (after a rotation) the previous one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.records import Client, ClientCredentials
from gateway.store.tables import api_clients

__all__ = ["CLIENT_COLUMNS", "ClientRepository", "KeyMatch", "client_of"]

CLIENT_COLUMNS = (
    api_clients.c.id,
    api_clients.c.name,
    api_clients.c.role,
    api_clients.c.created_at,
    api_clients.c.expires_at,
    api_clients.c.revoked_at,
    api_clients.c.agency,
    api_clients.c.require_signature,
)


@dataclass(frozen=True, slots=True)
class KeyMatch:
    """The client a key belongs to; `key_expires_at` is set when it is a rotated-out key in its grace."""

    client: Client
    key_expires_at: datetime | None = None


class ClientRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, client: Client, *, key_hash: str, key_prefix: str) -> None:
        await self._connection.execute(
            api_clients.insert().values(
                id=client.id,
                name=client.name,
                role=client.role,
                agency=client.agency,
                key_hash=key_hash,
                key_prefix=key_prefix,
                created_at=client.created_at,
                key_created_at=client.created_at,
                expires_at=client.expires_at,
                require_signature=client.require_signature,
            )
        )

    async def get(self, client_id: str) -> Client | None:
        query = select(*CLIENT_COLUMNS).where(api_clients.c.id == client_id)
        row = (await self._connection.execute(query)).mappings().first()
        return Client(**row) if row else None

    async def find(self, ref: str) -> Client | None:
        """A client by id or by name."""
        query = select(*CLIENT_COLUMNS).where(or_(api_clients.c.id == ref, api_clients.c.name == ref))
        row = (await self._connection.execute(query)).mappings().first()
        return Client(**row) if row else None

    async def by_key_hash(self, key_hash: str) -> KeyMatch | None:
        query = select(*CLIENT_COLUMNS, api_clients.c.key_hash, api_clients.c.previous_key_expires_at).where(
            or_(api_clients.c.key_hash == key_hash, api_clients.c.previous_key_hash == key_hash)
        )
        row = (await self._connection.execute(query)).mappings().first()
        if row is None:
            return None
        current = row["key_hash"] == key_hash
        return KeyMatch(client_of(row), key_expires_at=None if current else row["previous_key_expires_at"])

    async def all(self) -> list[ClientCredentials]:
        query = select(
            *CLIENT_COLUMNS,
            api_clients.c.key_prefix,
            api_clients.c.key_created_at,
            api_clients.c.previous_key_prefix,
            api_clients.c.previous_key_expires_at,
        ).order_by(api_clients.c.created_at, api_clients.c.id)
        return [
            ClientCredentials(
                client=client_of(row),
                key_prefix=row["key_prefix"],
                key_created_at=row["key_created_at"] or row["created_at"],
                previous_key_prefix=row["previous_key_prefix"],
                previous_key_expires_at=row["previous_key_expires_at"],
            )
            for row in (await self._connection.execute(query)).mappings()
        ]

    async def revoke(self, client_id: str, *, at: datetime) -> None:
        """Refuse every key of the client from `at` (an earlier revocation stands)."""
        await self._connection.execute(
            update(api_clients)
            .where(api_clients.c.id == client_id, api_clients.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def set_require_signature(self, client_id: str, required: bool) -> None:
        await self._connection.execute(
            update(api_clients).where(api_clients.c.id == client_id).values(require_signature=required)
        )

    async def rotate(
        self, client_id: str, *, key_hash: str, key_prefix: str, at: datetime, grace_until: datetime
    ) -> None:
        """Make a new current key; the current one becomes the previous, accepted until `grace_until`."""
        values: dict[str, Any] = {
            "previous_key_hash": api_clients.c.key_hash,
            "previous_key_prefix": api_clients.c.key_prefix,
            "previous_key_expires_at": grace_until,
            "key_hash": key_hash,
            "key_prefix": key_prefix,
            "key_created_at": at,
        }
        await self._connection.execute(
            update(api_clients).where(api_clients.c.id == client_id).values(**values)
        )


def client_of(row: RowMapping) -> Client:
    return Client(**{column.name: row[column.name] for column in CLIENT_COLUMNS})
