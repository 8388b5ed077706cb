"""The public keys clients sign their requests with (`client_signing_keys`). Revoked keys stay: they
are the evidence for what they signed before, and they tell "revoked" from "unknown"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import client_signing_keys

__all__ = ["SigningKeyRepository", "StoredSigningKey"]


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    thumbprint: str
    jwk: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None = None


class SigningKeyRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(
        self, client_id: str, *, kid: str, thumbprint: str, jwk: dict[str, Any], at: datetime
    ) -> None:
        """Insert a key; `IntegrityError` when the client already has the kid or the key."""
        await self._connection.execute(
            insert(client_signing_keys).values(
                client_id=client_id,
                kid=kid,
                thumbprint=thumbprint,
                kty=jwk["kty"],
                crv=jwk["crv"],
                jwk=jwk,
                created_at=at,
            )
        )

    async def of_client(self, client_id: str) -> list[StoredSigningKey]:
        """Every key of the client, revoked ones included, oldest first."""
        query = (
            select(
                client_signing_keys.c.kid,
                client_signing_keys.c.thumbprint,
                client_signing_keys.c.jwk,
                client_signing_keys.c.created_at,
                client_signing_keys.c.revoked_at,
            )
            .where(client_signing_keys.c.client_id == client_id)
            .order_by(client_signing_keys.c.created_at, client_signing_keys.c.kid)
        )
        return [StoredSigningKey(**row) for row in (await self._connection.execute(query)).mappings()]

    async def revoke(self, client_id: str, kid: str, *, at: datetime) -> bool:
        """Stamp the key revoked (an earlier revocation stands); False when the client has no such key."""
        found = await self._connection.execute(
            select(client_signing_keys.c.revoked_at).where(
                client_signing_keys.c.client_id == client_id, client_signing_keys.c.kid == kid
            )
        )
        if found.first() is None:
            return False
        await self._connection.execute(
            update(client_signing_keys)
            .where(
                client_signing_keys.c.client_id == client_id,
                client_signing_keys.c.kid == kid,
                client_signing_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return True
