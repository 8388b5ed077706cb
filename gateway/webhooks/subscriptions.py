"""Registering, reading and deactivating a client's webhook subscriptions, and reading their log.

A client sees only its own subscriptions: another's id is `NotFound`, like one that does not exist.
A subscription is never deleted, only deactivated, so that its delivery log stays readable.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from gateway.errors import Conflict, NotFound, UnprocessableRequest
from gateway.store.records import Client
from gateway.store.uow import UnitOfWorkFactory
from gateway.store.webhooks import DeliveryRecord, WebhookSubscription
from gateway.webhooks.destinations import DestinationGuard

__all__ = ["WebhookService"]


class WebhookService:
    def __init__(
        self, uow_factory: UnitOfWorkFactory, *, guard: DestinationGuard, max_per_client: int
    ) -> None:
        self._uow_factory = uow_factory
        self._guard = guard
        self._max_per_client = max_per_client

    async def register(self, client: Client, *, url: str, description: str | None) -> WebhookSubscription:
        """Subscribe `client` to its declarations' status changes from now on.

        `UnprocessableRequest` lists what is wrong with the URL; `Conflict` when the client already
        has `max_per_client` active subscriptions.
        """
        problems = await self._guard.problems(url)
        if problems:
            raise UnprocessableRequest(problems)
        subscription = WebhookSubscription(
            id=str(uuid.uuid4()),
            client_id=client.id,
            url=url,
            description=description,
            created_at=datetime.now(UTC),
        )
        async with self._uow_factory() as uow:
            await uow.webhooks.add(subscription)  # a write first: it holds SQLite's lock for the count
            if await uow.webhooks.count_active(client.id) > self._max_per_client:
                raise Conflict(f"at most {self._max_per_client} active webhooks per client")
            await uow.commit()
        return subscription

    async def subscriptions(self, client: Client) -> list[WebhookSubscription]:
        async with self._uow_factory() as uow:
            return await uow.webhooks.subscriptions(client.id)

    async def get(self, client: Client, webhook_id: str) -> WebhookSubscription:
        async with self._uow_factory() as uow:
            subscription = await uow.webhooks.subscription(webhook_id, client_id=client.id)
        if subscription is None:
            raise NotFound("no such webhook")
        return subscription

    async def deactivate(self, client: Client, webhook_id: str) -> None:
        """Stop deliveries to the subscription; its pending ones fail. Deactivating twice is fine."""
        async with self._uow_factory() as uow:
            if not await uow.webhooks.deactivate(webhook_id, client_id=client.id, at=datetime.now(UTC)):
                raise NotFound("no such webhook")
            await uow.commit()

    async def deliveries(
        self, client: Client, webhook_id: str, *, limit: int, before: int | None
    ) -> list[DeliveryRecord]:
        """The subscription's delivery log, newest first, `limit` at a time, below delivery id `before`."""
        async with self._uow_factory() as uow:
            if await uow.webhooks.subscription(webhook_id, client_id=client.id) is None:
                raise NotFound("no such webhook")
            return await uow.webhooks.deliveries(webhook_id, limit=limit, before=before)
