"""From status changes to deliveries: one pending delivery per new `status_history` row and active
subscription of the declaration's trader.

The fan-out reads `status_history` past a cursor that also asks again for the ids it stepped over,
which PostgreSQL may commit late (`gateway.store.history_cursor`). The unique (subscription, history
row) constraint makes a repeat harmless, so the position saved with the deliveries it produced (or
every few seconds when there are none) is the cursor's low mark, below every id still awaited: after
a restart, or a failed round, the fan-out reads from there again and creates nothing twice. A
subscription gets only the rows after `after_history_id`, the last row committed when it was made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gateway.ids import new_id
from gateway.store.history_cursor import HistoryCursor
from gateway.store.status_changes import StatusChange, max_history_id, read_status_changes
from gateway.store.uow import UnitOfWork, UnitOfWorkFactory
from gateway.store.webhooks import ActiveSubscription, NewDelivery
from gateway.webhooks.events import event_body

__all__ = ["WebhookFanout"]

CURSOR = "status_history"


class WebhookFanout:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        batch_size: int = 5000,
        patience_s: float = 60.0,
        save_every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._patience_s = patience_s
        self._save_every_s = save_every_s
        self._monotonic = monotonic
        self._cursor: HistoryCursor | None = None
        self._saved: tuple[int, float] | None = None  # position, when

    async def run_once(self) -> int:
        """Create the deliveries for the changes committed since the last call; returns how many."""
        try:
            return await self._round()
        except BaseException:
            self._cursor = None  # what this round took is read again, from the saved position
            raise

    async def _round(self) -> int:
        changes: list[StatusChange] = []
        subscriptions: list[ActiveSubscription] = []
        async with self._uow_factory() as uow:
            cursor = await self._start(uow)
            # The latest change before asking for subscriptions: one made after it starts above it.
            latest = await max_history_id(uow.connection)
            if await uow.webhooks.any_active():
                read = await read_status_changes(
                    uow.connection, after=cursor.high, also=cursor.gaps(), limit=self._batch_size
                )
                changes = cursor.take(read)
                parties = {party for change in changes for party in change.parties}
                subscriptions = await uow.webhooks.active_for(parties)
            else:  # nobody to tell: move on to the latest change
                cursor = self._cursor = self._new_cursor(latest)
        deliveries = self._deliveries(changes, subscriptions)
        position = cursor.low
        if deliveries or self._save_due(position):
            async with self._uow_factory() as uow:
                await uow.webhooks.add_deliveries(deliveries)
                await uow.webhooks.save_cursor(CURSOR, position)
                await uow.commit()
            self._saved = (position, self._monotonic())
        return len(deliveries)

    async def _start(self, uow: UnitOfWork) -> HistoryCursor:
        """Where reading resumes: this instance's cursor, else the saved position, else where the
        earliest active subscription starts (or the latest row, without any)."""
        if self._cursor is None:
            saved = await uow.webhooks.cursor(CURSOR)
            if saved is not None:
                self._saved = (saved, self._monotonic())
                position = saved
            else:  # the latest change first: a subscription made after it starts above it
                latest = await max_history_id(uow.connection)
                earliest = await uow.webhooks.earliest_start()
                position = earliest if earliest is not None else latest
            self._cursor = self._new_cursor(position)
        return self._cursor

    def _new_cursor(self, high: int) -> HistoryCursor:
        return HistoryCursor(high, patience_s=self._patience_s)

    def _deliveries(
        self, changes: Sequence[StatusChange], subscriptions: Sequence[ActiveSubscription]
    ) -> list[NewDelivery]:
        by_client: dict[str, list[ActiveSubscription]] = {}
        for subscription in subscriptions:
            by_client.setdefault(subscription.client_id, []).append(subscription)
        now = datetime.now(UTC)
        deliveries = []
        for change in changes:
            for subscription in (s for party in change.parties for s in by_client.get(party, ())):
                if change.id <= subscription.after_history_id:
                    continue
                event_id = new_id()
                deliveries.append(
                    NewDelivery(
                        event_id=event_id,
                        subscription_id=subscription.id,
                        history_id=change.id,
                        declaration_id=change.declaration_id,
                        body=event_body(change, event_id=event_id),
                        created_at=now,
                    )
                )
        return deliveries

    def _save_due(self, position: int) -> bool:
        if self._saved is None:
            return True
        saved_position, saved_at = self._saved
        return position != saved_position and self._monotonic() - saved_at >= self._save_every_s
