"""Clients' signing keys: register, list, revoke, and check a request's `TSW-Signature` against them.

A trader or forwarder registers public keys (`gateway.documents.trader_keys`) and signs requests with
the private halves; `SigningKeyService.check` verifies a signature over the request body against the
caller's own keys (never another client's: a kid is looked up among the caller's keys only) and
returns what the declaration records (`SignedBy`). A revoked key is kept, so that what it signed
before stays verifiable and a signature made with it now is refused as revoked rather than unknown.

The hot path reads keys from a per-client cache that lives `cache_ttl_s` (the API-key cache's life):
a registration or revocation through this service drops the client's entry at once; one made by
another process is seen within `cache_ttl_s`. An unsigned request from a client that does not
require signatures costs one attribute check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from gateway.audit import events as audit_events
from gateway.documents.origin import HEADER, SignedBy, verify_origin
from gateway.documents.trader_keys import TraderKey, parse_public_jwk
from gateway.errors import Conflict, NotFound, SignatureRefused
from gateway.store.records import Client
from gateway.store.signing_keys import StoredSigningKey
from gateway.store.uow import UnitOfWorkFactory
from gateway.ttl_cache import TtlCache

__all__ = ["MAX_ACTIVE_KEYS", "SigningKeyService"]

#: Unrevoked keys a client may hold at once (rotation needs two; a fleet of signers a few more).
MAX_ACTIVE_KEYS = 20

_Keys = Mapping[str, TraderKey]


class SigningKeyService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        cache_ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self._keys = TtlCache(self._load, ttl_s=cache_ttl_s, monotonic=monotonic)

    async def check(self, client: Client, signature: str | None, body: bytes) -> SignedBy | None:
        """The verified signature of a request from `client`, or None when it sent none and need not.
        Raises `SignatureRefused` (401) otherwise."""
        if signature is None:
            if client.require_signature:
                raise SignatureRefused(
                    "signature.required", f"this client must sign its submissions: send {HEADER}"
                )
            return None
        return verify_origin(signature, body, await self._keys.get(client.id))

    async def register(self, client: Client, jwk: object, *, actor: str) -> StoredSigningKey:
        """Register a public JWK for `client`; `UnprocessableRequest` for an unusable key, `Conflict`
        for a kid or key it already has (revoked ones included: a revoked key stays revoked)."""
        key = parse_public_jwk(jwk)
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            existing = await uow.signing_keys.of_client(client.id)
            _check_new(key, existing)
            try:
                await uow.signing_keys.add(
                    client.id, kid=key.kid, thumbprint=key.thumbprint, jwk=key.jwk, at=now
                )
            except IntegrityError as exc:  # the same key, registered concurrently
                raise Conflict(f"signing key {key.kid!r} is already registered") from exc
            await uow.audit.add(
                audit_events.signing_key_registered(
                    client.id, kid=key.kid, thumbprint=key.thumbprint, crv=key.crv, actor=actor, at=now
                )
            )
            await uow.commit()
        self._keys.forget(client.id)
        return StoredSigningKey(kid=key.kid, thumbprint=key.thumbprint, jwk=key.jwk, created_at=now)

    async def of_client(self, client_id: str) -> list[StoredSigningKey]:
        """Every key of the client, revoked ones included (with `revoked_at`), oldest first."""
        async with self._uow_factory() as uow:
            return await uow.signing_keys.of_client(client_id)

    async def revoke(self, client_id: str, kid: str, *, actor: str) -> StoredSigningKey:
        """Revoke one of the client's keys: from now on it verifies nothing. `NotFound` if it has none
        by that kid; revoking twice keeps the first date."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            if not await uow.signing_keys.revoke(client_id, kid, at=now):
                raise NotFound(f"no signing key {kid!r}")
            await uow.audit.add(audit_events.signing_key_revoked(client_id, kid=kid, actor=actor, at=now))
            revoked = next(key for key in await uow.signing_keys.of_client(client_id) if key.kid == kid)
            await uow.commit()
        self._keys.forget(client_id)
        return revoked

    async def _load(self, client_id: str) -> _Keys:
        stored = await self.of_client(client_id)
        return {key.kid: parse_public_jwk(key.jwk, revoked=key.revoked_at is not None) for key in stored}


def _check_new(key: TraderKey, existing: list[StoredSigningKey]) -> None:
    for other in existing:
        if other.kid == key.kid:
            raise Conflict(f"you already have a signing key {key.kid!r}; choose another kid")
        if other.thumbprint == key.thumbprint:
            state = "revoked" if other.revoked_at else "registered"
            raise Conflict(f"this key is already {state} as {other.kid!r}")
    if sum(1 for other in existing if other.revoked_at is None) >= MAX_ACTIVE_KEYS:
        raise Conflict(f"at most {MAX_ACTIVE_KEYS} signing keys may be active: revoke one first")
