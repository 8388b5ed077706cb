"""API clients and their keys.

A key is `tsw_` + 43 random URL-safe characters, shown once when created. Only its SHA-256 is stored:
the key is random and long, so a fast hash is safe and lets every request be checked with one index
lookup. Recently seen keys are cached for a few seconds so the hot path skips the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from gateway.errors import AuthError, Conflict
from gateway.store.records import Client
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["ROLES", "ClientService", "hash_key"]

ROLES = frozenset({"trader", "forwarder", "agency", "admin"})
_KEY_PREFIX = "tsw_"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class ClientService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        cache_ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self._cache_ttl_s = cache_ttl_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Client | None]] = {}
        self._lookups: dict[str, asyncio.Future[Client | None]] = {}

    async def add(self, name: str, *, role: str, expires_at: datetime | None = None) -> tuple[Client, str]:
        """Create a client; returns it with its API key (the only time the key is available)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}")
        api_key = _KEY_PREFIX + secrets.token_urlsafe(32)
        client = Client(
            id=str(uuid.uuid4()), name=name, role=role, created_at=datetime.now(UTC), expires_at=expires_at
        )
        try:
            async with self._uow_factory() as uow:
                await uow.clients.add(client, key_hash=hash_key(api_key), key_prefix=api_key[:12])
                await uow.commit()
        except IntegrityError as exc:
            raise Conflict(f"a client named {name!r} already exists") from exc
        return client, api_key

    async def authenticate(self, api_key: str) -> Client:
        digest = hash_key(api_key)
        cached = self._cache.get(digest)
        if cached is not None and self._monotonic() - cached[0] < self._cache_ttl_s:
            client = cached[1]
        else:
            client = await self._lookup(digest)
        if client is None:
            raise AuthError("unknown API key")
        _check_usable(client)
        return client

    async def _lookup(self, digest: str) -> Client | None:
        """One database lookup per key at a time: concurrent requests with a stale entry share it."""
        pending = self._lookups.get(digest)
        if pending is None:
            pending = self._lookups[digest] = asyncio.ensure_future(self._fetch(digest))
            pending.add_done_callback(lambda _: self._lookups.pop(digest, None))
        return await asyncio.shield(pending)

    async def _fetch(self, digest: str) -> Client | None:
        async with self._uow_factory() as uow:
            found = await uow.clients.by_key_hash(digest)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (self._monotonic(), found)  # unknown keys too: a flood of them stays cheap
        return found


def _check_usable(client: Client) -> None:
    if client.revoked_at is not None:
        raise AuthError("API key revoked")
    if client.expires_at is not None and client.expires_at <= datetime.now(UTC):
        raise AuthError("API key expired")
