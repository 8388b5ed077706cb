"""The webhook dispatcher: fans status changes out into deliveries and attempts the due ones.

It runs beside the outbox relay and the response consumer (`gateway.messaging.workers`), one per
database. Every `poll_s` it runs the fan-out (`gateway.webhooks.fanout`), then leases due deliveries
(`WebhookRepository.lease`, a compare-and-set on `next_attempt_at`) and attempts each in a task of
its own: at most `concurrency` at once, and at most `per_endpoint` for one subscription, so that a
slow or dead endpoint holds a few slots for at most one attempt's deadline each and never the rest.

Each attempt is logged in `webhook_attempts` and moves its delivery to `delivered`, back to
`pending` at the time `RetryPolicy` gives, or to `failed`. Everything is in the database: a restart
resumes the pending deliveries; an attempt cut short by a crash is made again once its lease runs
out (`stop()` hands back the leases of the attempts it cancels), so a delivery is made at least once
and receivers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from gateway.errors import ServiceUnavailable
from gateway.metrics import Metrics
from gateway.store.uow import UnitOfWorkFactory, unavailable_reason
from gateway.store.webhooks import DeliveryStatus, DueDelivery
from gateway.webhooks.fanout import WebhookFanout
from gateway.webhooks.retries import RetryPolicy
from gateway.webhooks.sender import AttemptOutcome, WebhookSender

__all__ = ["WebhookDispatcher"]

log = logging.getLogger(__name__)

_LEASE_MARGIN_S = 30.0


class WebhookDispatcher:
    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        fanout: WebhookFanout,
        sender: WebhookSender,
        policy: RetryPolicy,
        metrics: Metrics,
        attempt_timeout_s: float,
        poll_s: float = 0.25,
        concurrency: int = 16,
        per_endpoint: int = 2,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._uow_factory = uow_factory
        self._fanout = fanout
        self._sender = sender
        self._policy = policy
        self._metrics = metrics
        self._lease = timedelta(seconds=attempt_timeout_s + _LEASE_MARGIN_S)
        self._poll_s = poll_s
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[int, tuple[str, asyncio.Task[None]]] = {}  # delivery id -> subscription, task
        self._unsettled: set[int] = set()  # leased, outcome not recorded yet
        self._next_fanout = 0.0

    async def start(self) -> None:
        if self._task is None:
            await self._sender.start()
            self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        attempts = [attempt for _, attempt in self._inflight.values()]
        for attempt in attempts:
            attempt.cancel()
        for attempt in attempts:
            with contextlib.suppress(asyncio.CancelledError):
                await attempt
        await self._release_unsettled()
        await self._sender.close()

    async def run_once(self) -> int:
        """One round: fan out, then start attempts for the due deliveries; returns how many started."""
        if time.monotonic() >= self._next_fanout:
            await self._fanout.run_once()
            self._next_fanout = time.monotonic() + self._poll_s
        return await self._dispatch_due()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self.run_once()
            except ServiceUnavailable as exc:
                reason = unavailable_reason(exc)
                log.warning("webhooks: database unavailable (%s); retrying in %.1fs", reason, backoff)
            except Exception:
                log.exception("webhook dispatcher: unexpected error; retrying in %.1fs", backoff)
            else:
                backoff = 0.1
                await self._idle()
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _idle(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_s):
                await self._wake.wait()

    async def _dispatch_due(self) -> int:
        free = self._concurrency - len(self._inflight)
        if free <= 0:
            return 0
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            candidates = await uow.webhooks.due(
                now=now,
                limit=free + len(self._inflight) * self._per_endpoint,
                per_subscription=self._per_endpoint,
            )
        picked = self._pick(candidates, free)
        if not picked:
            return 0
        async with self._uow_factory() as uow:
            leased = await uow.webhooks.lease([item.id for item in picked], now=now, until=now + self._lease)
            await uow.commit()
        for delivery in picked:
            if delivery.id in leased:
                self._unsettled.add(delivery.id)
                task = asyncio.create_task(self._deliver(delivery), name=f"webhook-{delivery.id}")
                self._inflight[delivery.id] = (delivery.subscription_id, task)
        return len(leased)

    def _pick(self, candidates: list[DueDelivery], free: int) -> list[DueDelivery]:
        busy = Counter(subscription for subscription, _ in self._inflight.values())
        picked = []
        for delivery in candidates:
            if delivery.id in self._inflight or busy[delivery.subscription_id] >= self._per_endpoint:
                continue
            busy[delivery.subscription_id] += 1
            picked.append(delivery)
            if len(picked) == free:
                break
        return picked

    async def _deliver(self, delivery: DueDelivery) -> None:
        try:
            if self._policy.expired(created_at=delivery.created_at, now=datetime.now(UTC)):
                await self._give_up(delivery, error="expired: older than the maximum age before an attempt")
                return
            outcome = await self._sender.attempt(delivery)
            self._metrics.webhook_attempts.labels(outcome.kind).inc()
            await self._record(delivery, outcome)
        except ServiceUnavailable as exc:  # the lease runs out and the delivery is attempted again
            log.warning("webhook delivery %d: cannot record the outcome (%s)", delivery.id, exc)
        except Exception:
            log.exception("webhook delivery %d: unexpected error; attempted again later", delivery.id)
        finally:
            self._inflight.pop(delivery.id, None)
            self._wake.set()

    async def _record(self, delivery: DueDelivery, outcome: AttemptOutcome) -> None:
        next_attempt_at = None
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
        else:
            next_attempt_at = self._policy.next_attempt_at(
                failed_attempts=delivery.attempts + 1,
                created_at=delivery.created_at,
                now=datetime.now(UTC),
                retry_after_s=outcome.retry_after_s,
            )
            status = DeliveryStatus.PENDING if next_attempt_at is not None else DeliveryStatus.FAILED
        async with self._uow_factory() as uow:
            await uow.webhooks.record_attempt(
                delivery.id, outcome.record, status=status, next_attempt_at=next_attempt_at
            )
            await uow.commit()
        self._unsettled.discard(delivery.id)
        if status is not DeliveryStatus.PENDING:
            self._metrics.webhook_deliveries.labels(status.value).inc()
        if status is DeliveryStatus.FAILED:
            log.warning(
                "webhook delivery %d (event %s) failed after %d attempts: %s",
                delivery.id,
                delivery.event_id,
                delivery.attempts + 1,
                outcome.record.error,
            )

    async def _give_up(self, delivery: DueDelivery, *, error: str) -> None:
        async with self._uow_factory() as uow:
            await uow.webhooks.give_up(delivery.id, error=error)
            await uow.commit()
        self._unsettled.discard(delivery.id)
        self._metrics.webhook_deliveries.labels(DeliveryStatus.FAILED.value).inc()

    async def _release_unsettled(self) -> None:
        ids, self._unsettled = sorted(self._unsettled), set()
        if not ids:
            return
        with contextlib.suppress(ServiceUnavailable):
            async with self._uow_factory() as uow:
                await uow.webhooks.release(ids, now=datetime.now(UTC))
                await uow.commit()
