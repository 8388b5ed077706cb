"""From status changes to deliveries: one pending delivery per new `status_history` row and active
subscription of the declaration's trader.

The fan-out reads `status_history` past a cursor, re-reading the last `REREAD_WINDOW` ids for rows
that PostgreSQL committed late (`gateway.store.status_changes`), and skips the (row, subscription)
pairs it has handled. The unique (subscription, history row) constraint makes a repeat harmless, so
the cursor, saved with the deliveries it produced (or every few seconds when there are none), may
lag behind: after a restart the fan-out reads a little again and creates nothing twice. A
subscription gets only the rows after `after_history_id`, the last row committed when it was made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gateway.ids import new_id
from gateway.store.status_changes import REREAD_WINDOW, StatusChange, max_history_id
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
        batch_size: int = 5 * REREAD_WINDOW,
        save_every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if batch_size <= REREAD_WINDOW:
            raise ValueError("batch_size must exceed the re-read window, or the cursor could stall")
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._save_every_s = save_every_s
        self._monotonic = monotonic
        self._position: int | None = None
        self._saved: tuple[int, float] | None = None  # position, when
        self._done: set[tuple[int, str]] = set()  # (history id, subscription id) within the window

    async def run_once(self) -> int:
        """Create the deliveries for the changes committed since the last call; returns how many."""
        async with self._uow_factory() as uow:
            position = await self._start(uow)
            high = await max_history_id(uow.connection)
            changes: list[StatusChange] = []
            subscriptions: list[ActiveSubscription] = []
            if await uow.webhooks.any_active():
                after = max(0, position - REREAD_WINDOW)
                changes = await uow.webhooks.subscribed_changes(after=after, limit=self._batch_size)
                parties = {party for change in changes for party in change.parties}
                subscriptions = await uow.webhooks.active_for(parties)
        full = len(changes) == self._batch_size
        new_position = max(position, changes[-1].id if full else high)
        deliveries = self._deliveries(changes, subscriptions)
        if deliveries or self._save_due(new_position):
            async with self._uow_factory() as uow:
                await uow.webhooks.add_deliveries(deliveries)
                await uow.webhooks.save_cursor(CURSOR, new_position)
                await uow.commit()
            self._saved = (new_position, self._monotonic())
        self._position = new_position
        self._done.update((item.history_id, item.subscription_id) for item in deliveries)
        self._done = {pair for pair in self._done if pair[0] > new_position - REREAD_WINDOW}
        return len(deliveries)

    async def _start(self, uow: UnitOfWork) -> int:
        """Where reading resumes: this instance's position, else the saved cursor, else where the
        earliest active subscription starts (or the latest row, without any)."""
        if self._position is not None:
            return self._position
        saved = await uow.webhooks.cursor(CURSOR)
        if saved is not None:
            self._saved = (saved, self._monotonic())
            return saved
        earliest = await uow.webhooks.earliest_start()
        return earliest if earliest is not None else await max_history_id(uow.connection)

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
                if change.id <= subscription.after_history_id or (change.id, subscription.id) in self._done:
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
