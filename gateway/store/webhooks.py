"""Webhook subscriptions, deliveries and their attempts (the delivery log). Never commits.

A delivery is `pending` until an attempt gets a 2xx (`delivered`) or the retry policy gives up
(`failed`); `next_attempt_at` is when it is due again. The dispatcher leases a due delivery by moving
its `next_attempt_at` past the attempt's deadline with a compare-and-set, so a delivery is attempted
by one dispatcher at a time and a crashed attempt is retried once the lease runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import (
    status_history,
    webhook_attempts,
    webhook_cursors,
    webhook_deliveries,
    webhook_subscriptions,
)

__all__ = [
    "ActiveSubscription",
    "AttemptRecord",
    "DeliveryRecord",
    "DeliveryStatus",
    "DueDelivery",
    "NewDelivery",
    "WebhookRepository",
    "WebhookSubscription",
]

_DEACTIVATED = "webhook deactivated"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: str
    client_id: str
    url: str
    description: str | None
    created_at: datetime
    deactivated_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


@dataclass(frozen=True, slots=True)
class ActiveSubscription:
    """What the fan-out needs: whose changes, and from which history id on."""

    id: str
    client_id: str
    after_history_id: int


@dataclass(frozen=True, slots=True)
class NewDelivery:
    event_id: str
    subscription_id: str
    history_id: int
    declaration_id: str
    body: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: int
    event_id: str
    subscription_id: str
    url: str
    body: bytes
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    at: datetime
    duration_ms: int
    response_code: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: str
    declaration_id: str
    history_id: int
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_response_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    attempt_log: tuple[AttemptRecord, ...] = ()


_SUBSCRIPTION_COLUMNS = (
    webhook_subscriptions.c.id,
    webhook_subscriptions.c.client_id,
    webhook_subscriptions.c.url,
    webhook_subscriptions.c.description,
    webhook_subscriptions.c.created_at,
    webhook_subscriptions.c.deactivated_at,
)
_ACTIVE = webhook_subscriptions.c.deactivated_at.is_(None)
_PENDING = webhook_deliveries.c.status == DeliveryStatus.PENDING


class WebhookRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    # ---- subscriptions

    async def add(self, subscription: WebhookSubscription) -> None:
        """Insert a subscription that receives only the status changes committed from now on."""
        latest = select(func.coalesce(func.max(status_history.c.id), 0)).scalar_subquery()
        await self._connection.execute(
            insert(webhook_subscriptions).values(
                id=subscription.id,
                client_id=subscription.client_id,
                url=subscription.url,
                description=subscription.description,
                created_at=subscription.created_at,
                after_history_id=latest,
            )
        )

    async def count_active(self, client_id: str) -> int:
        query = (
            select(func.count())
            .select_from(webhook_subscriptions)
            .where(webhook_subscriptions.c.client_id == client_id, _ACTIVE)
        )
        return int((await self._connection.execute(query)).scalar_one())

    async def subscriptions(self, client_id: str) -> list[WebhookSubscription]:
        """The client's subscriptions, active or not, newest first."""
        query = (
            select(*_SUBSCRIPTION_COLUMNS)
            .where(webhook_subscriptions.c.client_id == client_id)
            .order_by(webhook_subscriptions.c.created_at.desc(), webhook_subscriptions.c.id.desc())
        )
        return [WebhookSubscription(**row) for row in (await self._connection.execute(query)).mappings()]

    async def subscription(self, webhook_id: str, *, client_id: str) -> WebhookSubscription | None:
        query = select(*_SUBSCRIPTION_COLUMNS).where(
            webhook_subscriptions.c.id == webhook_id, webhook_subscriptions.c.client_id == client_id
        )
        row = (await self._connection.execute(query)).mappings().first()
        return WebhookSubscription(**row) if row else None

    async def deactivate(self, webhook_id: str, *, client_id: str, at: datetime) -> bool:
        """Stop the client's subscription: no new deliveries, and its pending ones fail as deactivated.
        False when the client has no such subscription; True also when it was inactive already."""
        stopped = await self._connection.execute(
            update(webhook_subscriptions)
            .where(
                webhook_subscriptions.c.id == webhook_id,
                webhook_subscriptions.c.client_id == client_id,
                _ACTIVE,
            )
            .values(deactivated_at=at)
        )
        if stopped.rowcount == 0:
            return await self.subscription(webhook_id, client_id=client_id) is not None
        await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.subscription_id == webhook_id, _PENDING)
            .values(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=_DEACTIVATED)
        )
        return True

    # ---- fan-out

    async def any_active(self) -> bool:
        query = select(webhook_subscriptions.c.id).where(_ACTIVE).limit(1)
        return (await self._connection.execute(query)).first() is not None

    async def earliest_start(self) -> int | None:
        """The lowest `after_history_id` of the active subscriptions (None without any)."""
        query = select(func.min(webhook_subscriptions.c.after_history_id)).where(_ACTIVE)
        value = (await self._connection.execute(query)).scalar_one_or_none()
        return None if value is None else int(value)

    async def active_for(self, client_ids: Collection[str]) -> list[ActiveSubscription]:
        query = select(
            webhook_subscriptions.c.id,
            webhook_subscriptions.c.client_id,
            webhook_subscriptions.c.after_history_id,
        ).where(_ACTIVE, webhook_subscriptions.c.client_id.in_(sorted(client_ids)))
        return [ActiveSubscription(**row) for row in (await self._connection.execute(query)).mappings()]

    async def cursor(self, name: str) -> int | None:
        query = select(webhook_cursors.c.position).where(webhook_cursors.c.name == name)
        value = (await self._connection.execute(query)).scalar_one_or_none()
        return None if value is None else int(value)

    async def save_cursor(self, name: str, position: int) -> None:
        dialect_insert = postgresql_insert if self._postgres else sqlite_insert
        statement = dialect_insert(webhook_cursors).values(name=name, position=position)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"position": statement.excluded.position}
        )
        await self._connection.execute(statement)

    async def add_deliveries(self, deliveries: Sequence[NewDelivery]) -> None:
        """Insert pending deliveries, due at once; one that exists already (same subscription and
        history row) is left as it is."""
        if not deliveries:
            return
        dialect_insert = postgresql_insert if self._postgres else sqlite_insert
        statement = dialect_insert(webhook_deliveries).on_conflict_do_nothing(
            index_elements=["subscription_id", "history_id"]
        )
        await self._connection.execute(
            statement,
            [
                {
                    "event_id": item.event_id,
                    "subscription_id": item.subscription_id,
                    "history_id": item.history_id,
                    "declaration_id": item.declaration_id,
                    "body": item.body,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "created_at": item.created_at,
                    "next_attempt_at": item.created_at,
                }
                for item in deliveries
            ],
        )

    # ---- dispatching

    async def due(self, *, now: datetime, limit: int, per_subscription: int) -> list[DueDelivery]:
        """Due deliveries of active subscriptions, oldest due first, at most `per_subscription` each
        (so that one endpoint's backlog cannot fill every slot)."""
        d = webhook_deliveries.c
        ranked = (
            select(
                d.id,
                d.event_id,
                d.subscription_id,
                webhook_subscriptions.c.url,
                d.body,
                d.attempts,
                d.created_at,
                d.next_attempt_at,
                func.row_number()
                .over(partition_by=d.subscription_id, order_by=(d.next_attempt_at, d.id))
                .label("rank"),
            )
            .join(webhook_subscriptions, webhook_subscriptions.c.id == d.subscription_id)
            .where(_PENDING, d.next_attempt_at <= now, _ACTIVE)
            .subquery()
        )
        query = (
            select(ranked)
            .where(ranked.c.rank <= per_subscription)
            .order_by(ranked.c.next_attempt_at, ranked.c.id)
            .limit(limit)
        )
        return [
            DueDelivery(
                id=row.id,
                event_id=row.event_id,
                subscription_id=row.subscription_id,
                url=row.url,
                body=row.body,
                attempts=row.attempts,
                created_at=row.created_at,
            )
            for row in await self._connection.execute(query)
        ]

    async def lease(self, delivery_ids: Sequence[int], *, now: datetime, until: datetime) -> set[int]:
        """Claim due deliveries until `until`; returns those claimed (a compare-and-set: another
        dispatcher that got there first keeps its own)."""
        if not delivery_ids:
            return set()
        statement = (
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.id.in_(delivery_ids),
                _PENDING,
                webhook_deliveries.c.next_attempt_at <= now,
            )
            .values(next_attempt_at=until)
            .returning(webhook_deliveries.c.id)
        )
        return set((await self._connection.execute(statement)).scalars())

    async def release(self, delivery_ids: Sequence[int], *, now: datetime) -> None:
        """Hand leased deliveries back (the dispatcher stopped before attempting them)."""
        if delivery_ids:
            await self._connection.execute(
                update(webhook_deliveries)
                .where(webhook_deliveries.c.id.in_(delivery_ids), _PENDING)
                .values(next_attempt_at=now)
            )

    async def record_attempt(
        self,
        delivery_id: int,
        attempt: AttemptRecord,
        *,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> None:
        """Log one attempt and move the delivery on (unless it was settled meanwhile, e.g. deactivated)."""
        await self._connection.execute(
            insert(webhook_attempts).values(
                delivery_id=delivery_id,
                at=attempt.at,
                duration_ms=attempt.duration_ms,
                response_code=attempt.response_code,
                error=attempt.error,
            )
        )
        await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id, _PENDING)
            .values(
                attempts=webhook_deliveries.c.attempts + 1,
                status=status,
                next_attempt_at=next_attempt_at,
                last_response_code=attempt.response_code,
                last_error=attempt.error,
                delivered_at=attempt.at if status is DeliveryStatus.DELIVERED else None,
            )
        )

    async def give_up(self, delivery_id: int, *, error: str) -> None:
        """Fail a pending delivery without another attempt (e.g. it is older than the maximum age)."""
        await self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id, _PENDING)
            .values(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=error)
        )

    # ---- the delivery log

    async def deliveries(
        self, subscription_id: str, *, limit: int, before: int | None = None
    ) -> list[DeliveryRecord]:
        """A subscription's deliveries, newest first, keyset-paged by delivery id, with their attempts."""
        d = webhook_deliveries.c
        query = select(
            d.id,
            d.event_id,
            d.declaration_id,
            d.history_id,
            d.status,
            d.attempts,
            d.created_at,
            d.next_attempt_at,
            d.last_response_code,
            d.last_error,
            d.delivered_at,
        ).where(d.subscription_id == subscription_id)
        if before is not None:
            query = query.where(d.id < before)
        rows = (await self._connection.execute(query.order_by(d.id.desc()).limit(limit))).mappings().all()
        log = await self._attempts([row["id"] for row in rows])
        return [DeliveryRecord(**row, attempt_log=tuple(log.get(row["id"], ()))) for row in rows]

    async def _attempts(self, delivery_ids: Sequence[int]) -> dict[int, list[AttemptRecord]]:
        if not delivery_ids:
            return {}
        a = webhook_attempts.c
        query = (
            select(a.delivery_id, a.at, a.duration_ms, a.response_code, a.error)
            .where(a.delivery_id.in_(delivery_ids))
            .order_by(a.delivery_id, a.id)
        )
        log: dict[int, list[AttemptRecord]] = {}
        for row in await self._connection.execute(query):
            log.setdefault(row.delivery_id, []).append(
                AttemptRecord(
                    at=row.at, duration_ms=row.duration_ms, response_code=row.response_code, error=row.error
                )
            )
        return log

    @property
    def _postgres(self) -> bool:
        return self._connection.dialect.name == "postgresql"
