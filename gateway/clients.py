"""API clients and their keys.

A key is `tsw_` + 43 random URL-safe characters, shown once when created. Only its SHA-256 is stored:
the key is random and long, so a fast hash is safe and lets every request be checked with one index
lookup. Recently seen keys are cached for a few seconds (`cache_ttl_s`) so the hot path skips the
database.

Expiry is checked on every request, cached or not. A revocation or rotation made through this
service (the admin API) drops the client's cached keys at once; one made by another process (`tsw
clients revoke`) reaches a running gateway within `cache_ttl_s`. A rotation keeps the previous key
valid for a grace period, then refuses it: callers switch keys without downtime.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from gateway.audit import events as audit_events
from gateway.contracts.agencies import AGENCIES
from gateway.errors import AuthError, Conflict, NotFound
from gateway.store.clients import ClientRepository, KeyMatch
from gateway.store.records import Client, ClientCredentials
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["MAX_EXPIRY_DAYS", "ROLES", "ClientService", "hash_key", "new_api_key"]

ROLES = frozenset({"trader", "forwarder", "agency", "admin"})
#: The longest lifetime a client may be given (past it, dates overflow).
MAX_EXPIRY_DAYS = 100 * 366
_SUBMITTING_ROLES = frozenset({"trader", "forwarder"})
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
        self._cache: dict[str, tuple[float, KeyMatch | None]] = {}
        self._lookups: dict[str, asyncio.Future[KeyMatch | None]] = {}
        self._generation = 0  # bumped by every change of keys: a lookup begun before it is not cached

    async def add(
        self,
        name: str,
        *,
        role: str,
        expires_at: datetime | None = None,
        agency: str | None = None,
        require_signature: bool = False,
    ) -> tuple[Client, str]:
        """Create a client; returns it with its API key (the only time the key is available).
        `require_signature`: its submissions must carry a valid `TSW-Signature`."""
        _check_role(role, agency)
        if require_signature and role not in _SUBMITTING_ROLES:
            raise ValueError("only a trader or a forwarder submits, so only they can be made to sign")
        api_key = new_api_key()
        client = Client(
            id=str(uuid.uuid4()),
            name=name,
            role=role,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
            agency=agency,
            require_signature=require_signature,
        )
        try:
            async with self._uow_factory() as uow:
                await uow.clients.add(client, key_hash=hash_key(api_key), key_prefix=api_key[:12])
                await uow.audit.add(
                    audit_events.client_added(
                        client.id, name=name, role=role, expires_at=expires_at, at=client.created_at
                    )
                )
                await uow.commit()
        except IntegrityError as exc:
            raise Conflict(f"a client named {name!r} already exists") from exc
        return client, api_key

    async def revoke(self, ref: str) -> Client:
        """Refuse every key of the client (by id or name) from now on."""
        async with self._uow_factory() as uow:
            client = await _find(uow.clients, ref)
            await uow.clients.revoke(client.id, at=datetime.now(UTC))
            revoked = await _find(uow.clients, client.id)
            await uow.audit.add(
                audit_events.client_revoked(
                    client.id, name=client.name, at=revoked.revoked_at or datetime.now(UTC)
                )
            )
            await uow.commit()
        self._forget(client.id)
        return revoked

    async def require_signature(self, ref: str, *, required: bool, actor: str | None) -> Client:
        """Make the client (by id or name) sign every submission from now on, or stop requiring it."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            client = await _find(uow.clients, ref)
            if required and client.role not in _SUBMITTING_ROLES:
                raise Conflict(f"client {client.name!r} is a {client.role}: it submits nothing to sign")
            await uow.clients.set_require_signature(client.id, required)
            await uow.audit.add(
                audit_events.client_signature_required(client.id, required=required, actor=actor, at=now)
            )
            changed = await _find(uow.clients, client.id)
            await uow.commit()
        self._forget(client.id)
        return changed

    async def rotate(self, ref: str, *, grace: timedelta) -> tuple[Client, str]:
        """A new key for the client (by id or name); its current key stays valid for `grace`, then is
        refused (a key rotated out earlier is refused at once). Returns the client and the new key."""
        api_key = new_api_key()
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            client = await _find(uow.clients, ref)
            if client.revoked_at is not None:
                raise Conflict(f"client {client.name!r} is revoked")
            await uow.clients.rotate(
                client.id,
                key_hash=hash_key(api_key),
                key_prefix=api_key[:12],
                at=now,
                grace_until=now + grace,
            )
            await uow.audit.add(
                audit_events.client_key_rotated(client.id, name=client.name, grace_until=now + grace, at=now)
            )
            await uow.commit()
        self._forget(client.id)
        return client, api_key

    async def credentials(self) -> list[ClientCredentials]:
        """Every client with its key prefixes and dates (never a key)."""
        async with self._uow_factory() as uow:
            return await uow.clients.all()

    async def authenticate(self, api_key: str) -> Client:
        digest = hash_key(api_key)
        cached = self._cache.get(digest)
        if cached is not None and self._monotonic() - cached[0] < self._cache_ttl_s:
            match = cached[1]
        else:
            match = await self._lookup(digest)
        if match is None:
            raise AuthError("unknown API key")
        _check_usable(match)
        return match.client

    def _forget(self, client_id: str) -> None:
        self._generation += 1
        for digest, (_, match) in list(self._cache.items()):
            if match is not None and match.client.id == client_id:
                del self._cache[digest]

    async def _lookup(self, digest: str) -> KeyMatch | None:
        """One database lookup per key at a time: concurrent requests with a stale entry share it."""
        pending = self._lookups.get(digest)
        if pending is None:
            pending = self._lookups[digest] = asyncio.ensure_future(self._fetch(digest))
            pending.add_done_callback(lambda _: self._lookups.pop(digest, None))
        return await asyncio.shield(pending)

    async def _fetch(self, digest: str) -> KeyMatch | None:
        generation = self._generation
        async with self._uow_factory() as uow:
            found = await uow.clients.by_key_hash(digest)
        if generation != self._generation:  # the keys changed meanwhile: answer, but do not cache
            return found
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (self._monotonic(), found)  # unknown keys too: a flood of them stays cheap
        return found


def new_api_key() -> str:
    return _KEY_PREFIX + secrets.token_urlsafe(32)


def _check_role(role: str, agency: str | None) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}")
    if role == "agency" and agency not in AGENCIES:
        raise ValueError(f"an agency client needs --agency, one of {sorted(AGENCIES)}")
    if role != "agency" and agency is not None:
        raise ValueError("only a client of role agency has an agency")


async def _find(clients: ClientRepository, ref: str) -> Client:
    client = await clients.find(ref)
    if client is None:
        raise NotFound(f"no client {ref!r}")
    return client


def _check_usable(match: KeyMatch) -> None:
    client, now = match.client, datetime.now(UTC)
    if client.revoked_at is not None:
        raise AuthError("API key revoked")
    if client.expires_at is not None and client.expires_at <= now:
        raise AuthError("API key expired")
    if match.key_expires_at is not None and match.key_expires_at <= now:
        raise AuthError("API key rotated out: use the new key")
