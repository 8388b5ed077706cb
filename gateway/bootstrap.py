"""The composition root: builds every concrete object of one gateway from `Settings`.

Nothing else constructs engines, producers or keys. `Gateway.start()` migrates the database and starts
the submission writer and, with `TSW_MESSAGING=inline`, the background workers (outbox relay, response
consumer, webhook dispatcher); `stop()` undoes it. Both are safe to call twice.

Commits wake whoever reads what they wrote: the relay (new outbox events) and the status feed (new
status changes), directly in one process, through `gateway.doorbell` across two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.answers import AnswerService
from gateway.audit.chainer import AuditChainer
from gateway.audit.refusals import RefusalRecorder
from gateway.batches.jobs import BatchService
from gateway.batches.processing import BatchProcessor
from gateway.batches.readers.records import ReaderLimits
from gateway.batches.runner import BatchRunner
from gateway.changes import DeclarationChanges
from gateway.clients import ClientService
from gateway.config import Settings
from gateway.documents.packs import SchemaPack, discover_packs
from gateway.documents.rules import RULES
from gateway.documents.signing import GatewayKeys
from gateway.documents.validator import DocumentValidator
from gateway.doorbell import Doorbells
from gateway.ecommerce.policy import LvcPolicy
from gateway.ecommerce.rules import LvcRules
from gateway.errors import PackError
from gateway.forwarders import ForwarderService
from gateway.lodgements import LVC_DOCUMENT_TYPE, LodgementService
from gateway.messaging.kafka import create_producer, create_response_consumer, ensure_topics
from gateway.messaging.relay import OutboxRelay
from gateway.messaging.responses import ResponseConsumer
from gateway.messaging.workers import MessagingWorkers
from gateway.metrics import Metrics, MetricsSnapshot
from gateway.notifications import StatusFeed
from gateway.ratelimit import RateLimits, TokenBuckets
from gateway.signing_keys import SigningKeyService
from gateway.store.database import create_engine, migrate
from gateway.store.uow import UnitOfWorkFactory
from gateway.store.writer import SubmissionWriter
from gateway.submission import SubmissionService
from gateway.webhooks.destinations import DestinationGuard
from gateway.webhooks.dispatcher import WebhookDispatcher
from gateway.webhooks.fanout import WebhookFanout
from gateway.webhooks.retries import RetryPolicy
from gateway.webhooks.sender import WebhookSender
from gateway.webhooks.subscriptions import WebhookService

__all__ = [
    "Gateway",
    "build_engine",
    "build_gateway",
    "build_messaging",
    "build_webhook_dispatcher",
    "load_packs",
]


def load_packs(settings: Settings) -> list[SchemaPack]:
    return discover_packs([settings.builtin_packs_dir, *settings.schema_packs])


@dataclass
class Gateway:
    settings: Settings
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    keys: GatewayKeys
    validator: DocumentValidator
    metrics: Metrics
    writer: SubmissionWriter
    messaging: MessagingWorkers | None  # None when they run in a process of their own (or are off)
    feed: StatusFeed
    submissions: SubmissionService
    changes: DeclarationChanges
    clients: ClientService
    webhooks: WebhookService
    lodgements: LodgementService
    lvc_policy: LvcPolicy
    batches: BatchService
    batch_runner: BatchRunner
    refusals: RefusalRecorder
    rate_limits: RateLimits
    signing_keys: SigningKeyService
    forwarders: ForwarderService
    doorbells: Doorbells | None = None  # rung by and for the messaging process of `tsw serve`
    _started: bool = field(default=False, init=False)

    async def start(self) -> None:
        if self._started:
            return
        await migrate(self.engine)
        await self.writer.start()
        if self.messaging is not None:
            await self.messaging.start()
        await self.batch_runner.start()
        await self.refusals.start()
        if self.doorbells is not None:
            self.doorbells.status.listen(self.feed.notify)
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.doorbells is not None:
            self.doorbells.status.stop_listening()
        await self.feed.stop()
        await self.refusals.stop()
        await self.batch_runner.stop()
        await self.writer.stop()
        if self.messaging is not None:
            await self.messaging.stop()
        await self.engine.dispose()


def build_gateway(
    settings: Settings,
    *,
    packs: Sequence[SchemaPack] | None = None,
    doorbells: Doorbells | None = None,
    messaging_metrics: MetricsSnapshot | None = None,
) -> Gateway:
    """`doorbells` and `messaging_metrics`: shared with the messaging process when
    `TSW_MESSAGING=process` (`tsw serve`)."""
    engine = build_engine(settings)
    uow_factory = UnitOfWorkFactory(engine)
    keys = GatewayKeys.load_or_create(settings.keys_dir)
    metrics = Metrics(messaging_snapshot=messaging_metrics)
    policy = _lvc_policy(settings)
    validator = DocumentValidator(
        list(packs) if packs is not None else load_packs(settings),
        rules={**RULES, LVC_DOCUMENT_TYPE: LvcRules(policy)},  # the configured limits, on every path
    )
    feed = _status_feed(
        uow_factory,
        sqlite=engine.dialect.name == "sqlite",
        rung=settings.messaging == "inline" or doorbells is not None,
    )
    messaging = (
        build_messaging(settings, uow_factory, metrics, keys=keys, on_status_change=feed.notify)
        if settings.messaging == "inline"
        else None
    )
    on_commit = _on_commit(messaging, doorbells, feed)
    writer = SubmissionWriter(uow_factory, on_commit=on_commit)
    submissions = SubmissionService(
        validator=validator,
        keys=keys,
        writer=writer,
        uow_factory=uow_factory,
        metrics=metrics,
        event_source=settings.event_source,
    )
    lodgements = LodgementService(
        keys=keys,
        uow_factory=uow_factory,
        metrics=metrics,
        routes=_lvc_routes(validator),
        event_source=settings.event_source,
        max_consignments=settings.lodgement_max_consignments,
        on_commit=on_commit,
    )
    forwarders = ForwarderService(uow_factory, cache_ttl_s=settings.api_key_cache_s)
    limits = ReaderLimits(max_entry_bytes=settings.max_body_bytes)
    runner = BatchRunner(
        uow_factory=uow_factory,
        processor=BatchProcessor(
            uow_factory=uow_factory,
            submissions=submissions,
            lodgements=lodgements,
            policy=policy,
            limits=limits,
            chunk_records=settings.batch_chunk_records,
            on_commit=on_commit,
        ),
    )
    batches = BatchService(
        uow_factory=uow_factory,
        spool_dir=settings.batch_spool_dir,
        max_upload_bytes=settings.batch_max_upload_bytes,
        limits=limits,
        on_queued=runner.notify,
    )
    return Gateway(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        keys=keys,
        validator=validator,
        metrics=metrics,
        writer=writer,
        messaging=messaging,
        feed=feed,
        submissions=submissions,
        changes=DeclarationChanges(
            validator=validator,
            keys=keys,
            uow_factory=uow_factory,
            forwarders=forwarders,
            event_source=settings.event_source,
            on_commit=on_commit,
        ),
        clients=ClientService(uow_factory, cache_ttl_s=settings.api_key_cache_s),
        webhooks=WebhookService(
            uow_factory, guard=_destination_guard(settings), max_per_client=settings.webhook_max_per_client
        ),
        lodgements=lodgements,
        lvc_policy=policy,
        batches=batches,
        batch_runner=runner,
        refusals=RefusalRecorder(uow_factory),
        rate_limits=_rate_limits(settings),
        signing_keys=SigningKeyService(uow_factory, cache_ttl_s=settings.api_key_cache_s),
        forwarders=forwarders,
        doorbells=doorbells,
    )


def _status_feed(uow_factory: UnitOfWorkFactory, *, sqlite: bool, rung: bool) -> StatusFeed:
    """On SQLite every writer of status changes rings the feed (`rung`), so it polls only as a
    fallback; on PostgreSQL other gateways' messaging processes may write them too."""
    return StatusFeed(
        uow_factory,
        poll_s=0.25 if sqlite and rung else 0.025,
        late_commits=not sqlite,
    )


def _on_commit(
    messaging: MessagingWorkers | None, doorbells: Doorbells | None, feed: StatusFeed
) -> Callable[[], None]:
    """What a commit of new declarations (outbox events, ACCEPTED) wakes."""
    relay = _nothing
    if messaging is not None:
        relay = messaging.notify
    elif doorbells is not None:
        relay = doorbells.outbox.ring

    def committed() -> None:
        relay()
        feed.notify()

    return committed


def build_engine(settings: Settings) -> AsyncEngine:
    return create_engine(
        settings.effective_database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        timeout_ms=settings.database_timeout_ms,
    )


def build_messaging(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    metrics: Metrics,
    *,
    keys: GatewayKeys,
    on_status_change: Callable[[], None] = lambda: None,
) -> MessagingWorkers:
    """`on_status_change` is called after each commit that routed declarations or applied answers."""
    topics = partial(
        ensure_topics,
        settings.kafka_bootstrap_servers,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        max_message_bytes=settings.kafka_max_message_bytes,
    )
    relay = OutboxRelay(
        uow_factory=uow_factory,
        producer_factory=partial(
            create_producer,
            settings.kafka_bootstrap_servers,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            max_message_bytes=settings.kafka_max_message_bytes,
        ),
        ensure_topics=topics,
        metrics=metrics,
        batch_size=settings.relay_batch_size,
        idle_poll_s=settings.relay_idle_poll_ms / 1000,
        on_routed=on_status_change,
    )
    responses = ResponseConsumer(
        answers=AnswerService(uow_factory),
        consumer_factory=partial(
            create_response_consumer,
            settings.kafka_bootstrap_servers,
            group_id=settings.response_group_id,
            auto_offset_reset=settings.response_offset_reset,
            request_timeout_ms=settings.kafka_request_timeout_ms,
        ),
        ensure_topics=topics,
        metrics=metrics,
        on_applied=on_status_change,
    )
    webhooks = build_webhook_dispatcher(settings, uow_factory, metrics, keys=keys)
    audit = AuditChainer(
        uow_factory=uow_factory,
        keys=keys,
        checkpoint_every=settings.audit_checkpoint_every,
        checkpoint_every_s=settings.audit_checkpoint_every_s,
    )
    return MessagingWorkers(relay=relay, responses=responses, webhooks=webhooks, audit=audit)


def build_webhook_dispatcher(
    settings: Settings, uow_factory: UnitOfWorkFactory, metrics: Metrics, *, keys: GatewayKeys
) -> WebhookDispatcher:
    timeout_s = settings.webhook_timeout_ms / 1000
    return WebhookDispatcher(
        uow_factory=uow_factory,
        fanout=WebhookFanout(uow_factory),
        sender=WebhookSender(
            keys=keys,
            guard=_destination_guard(settings),
            timeout_s=timeout_s,
            max_connections=settings.webhook_concurrency,
        ),
        policy=RetryPolicy(
            backoff_base_ms=settings.webhook_backoff_base_ms,
            backoff_max_ms=settings.webhook_backoff_max_ms,
            max_attempts=settings.webhook_max_attempts,
            max_age_s=settings.webhook_max_age_s,
        ),
        metrics=metrics,
        attempt_timeout_s=timeout_s,
        poll_s=settings.webhook_poll_ms / 1000,
        concurrency=settings.webhook_concurrency,
        per_endpoint=settings.webhook_per_endpoint_concurrency,
    )


def _rate_limits(settings: Settings) -> RateLimits:
    return RateLimits(
        api=TokenBuckets(per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst),
        bulk=TokenBuckets(per_s=settings.bulk_rate_limit_per_s, burst=settings.bulk_rate_limit_burst),
    )


def _destination_guard(settings: Settings) -> DestinationGuard:
    return DestinationGuard(allow_private_hosts=settings.webhook_allow_private_hosts)


def _lvc_policy(settings: Settings) -> LvcPolicy:
    if settings.lvc_rates_to_hkd is None:
        return LvcPolicy(threshold_hkd=settings.lvc_threshold_hkd)
    return LvcPolicy(threshold_hkd=settings.lvc_threshold_hkd, rates_to_hkd=settings.lvc_rates_to_hkd)


def _lvc_routes(validator: DocumentValidator) -> list[str]:
    """The agencies fast-path consignments go to: the `hk.ecom.lvc` pack's routes."""
    for pack in validator.packs:
        if pack.id == LVC_DOCUMENT_TYPE:
            return list(pack.routes)
    raise PackError(f"the {LVC_DOCUMENT_TYPE} schema pack is missing: the fast path needs its routes")


def _nothing() -> None:
    pass
