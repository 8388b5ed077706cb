"""Forwarders lodging for traders: who may lodge for whom, and the check made on every such lodging.

A forwarder lodges on behalf of a trader by naming it (`TSW-On-Behalf-Of: <trader name or id>`); the
gateway refuses it (403) unless the pair is authorised, by an admin (`/v1/admin/...`, `tsw clients
authorise FORWARDER --for TRADER`) or by the trader itself (`PUT /v1/authorisations/{forwarder}`). The
declaration then records both: the forwarder as its submitter (`trader`), the trader as
`on_behalf_of`; both read it, and the forwarder alone amends or cancels it, while still authorised.

An unknown trader and an unauthorised one answer the same 403, so a forwarder learns nothing about
clients it does not work for. Authorisations are cached per forwarder for `cache_ttl_s` (the API-key
cache's life); a change made through this service applies at once, one made by another process (the
CLI) within `cache_ttl_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from gateway.audit import events as audit_events
from gateway.errors import Forbidden, NotFound
from gateway.store.authorisations import Authorisation
from gateway.store.records import Client
from gateway.store.uow import UnitOfWork, UnitOfWorkFactory
from gateway.ttl_cache import TtlCache

__all__ = ["ForwarderService"]


class ForwarderService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        cache_ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self._traders = TtlCache(self._load, ttl_s=cache_ttl_s, monotonic=monotonic)

    async def authorise(
        self, forwarder: str, trader: str, *, actor: str | None
    ) -> tuple[Authorisation, bool]:
        """Let `forwarder` lodge for `trader` (each by id or name); returns the authorisation and
        whether it is new. `NotFound` unless they are a forwarder and a trader."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            pair = await _pair(uow, forwarder, trader)
            created = await uow.authorisations.add(pair[0].id, pair[1].id, at=now, by=actor)
            if created:
                await uow.audit.add(
                    audit_events.forwarder_authorised(pair[0].id, trader=pair[1].id, actor=actor, at=now)
                )
            found = await _find(uow, *pair)
            await uow.commit()
        self._traders.forget(pair[0].id)
        return found, created

    async def deauthorise(self, forwarder: str, trader: str, *, actor: str | None) -> None:
        """Withdraw the authorisation; `NotFound` when there is none. What the forwarder lodged before
        stays readable to both; it can no longer amend or cancel it."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            pair = await _pair(uow, forwarder, trader)
            if not await uow.authorisations.remove(pair[0].id, pair[1].id):
                raise NotFound(f"{pair[0].name!r} is not authorised to lodge for {pair[1].name!r}")
            await uow.audit.add(
                audit_events.forwarder_deauthorised(pair[0].id, trader=pair[1].id, actor=actor, at=now)
            )
            await uow.commit()
        self._traders.forget(pair[0].id)

    async def involving(self, client_id: str) -> list[Authorisation]:
        """The authorisations `client_id` is a party to, as forwarder or as trader."""
        async with self._uow_factory() as uow:
            return await uow.authorisations.involving(client_id)

    async def lodging_for(self, forwarder: Client, trader: str) -> Client:
        """The trader (by id or name) `forwarder` may lodge for now; `Forbidden` otherwise."""
        if forwarder.role != "forwarder":
            raise Forbidden("only a forwarder lodges on behalf of a trader")
        traders = await self._traders.get(forwarder.id)
        found = traders.get(trader) or next((c for c in traders.values() if c.name == trader), None)
        if found is None or found.revoked_at is not None:
            raise Forbidden(f"not authorised to lodge for {trader[:200]!r}")
        return found

    async def may_lodge_for(self, forwarder_id: str, trader_id: str) -> bool:
        return trader_id in await self._traders.get(forwarder_id)

    async def _load(self, forwarder_id: str) -> Mapping[str, Client]:
        async with self._uow_factory() as uow:
            return {client.id: client for client in await uow.authorisations.traders_of(forwarder_id)}


async def _pair(uow: UnitOfWork, forwarder: str, trader: str) -> tuple[Client, Client]:
    found_forwarder = await uow.clients.find(forwarder)
    if found_forwarder is None or found_forwarder.role != "forwarder":
        raise NotFound(f"no forwarder {forwarder[:200]!r}")
    found_trader = await uow.clients.find(trader)
    if found_trader is None or found_trader.role != "trader":
        raise NotFound(f"no trader {trader[:200]!r}")
    return found_forwarder, found_trader


async def _find(uow: UnitOfWork, forwarder: Client, trader: Client) -> Authorisation:
    return next(
        item for item in await uow.authorisations.involving(forwarder.id) if item.trader_id == trader.id
    )
