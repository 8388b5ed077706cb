"""The composition root: builds every concrete object of one gateway from `Settings`.

Nothing else constructs engines, producers or keys. `Gateway.start()` migrates the database and starts
the submission writer and the outbox relay; `stop()` undoes it. Both are safe to call twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.answers import AnswerService
from gateway.changes import DeclarationChanges
from gateway.clients import ClientService
from gateway.config import Settings
from gateway.documents.packs import SchemaPack, discover_packs
from gateway.documents.signing import GatewayKeys
from gateway.documents.validator import DocumentValidator
from gateway.messaging.kafka import create_producer, create_response_consumer, ensure_topics
from gateway.messaging.relay import OutboxRelay
from gateway.messaging.responses import ResponseConsumer
from gateway.messaging.workers import MessagingWorkers
from gateway.metrics import Metrics
from gateway.notifications import StatusFeed
from gateway.store.database import create_engine, migrate
from gateway.store.uow import UnitOfWorkFactory
from gateway.store.writer import SubmissionWriter
from gateway.submission import SubmissionService

__all__ = ["Gateway", "build_engine", "build_gateway", "build_messaging", "load_packs"]


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
    _started: bool = field(default=False, init=False)

    async def start(self) -> None:
        if self._started:
            return
        await migrate(self.engine)
        await self.writer.start()
        if self.messaging is not None:
            await self.messaging.start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.feed.stop()
        await self.writer.stop()
        if self.messaging is not None:
            await self.messaging.stop()
        await self.engine.dispose()


def build_gateway(settings: Settings, *, packs: Sequence[SchemaPack] | None = None) -> Gateway:
    engine = build_engine(settings)
    uow_factory = UnitOfWorkFactory(engine)
    keys = GatewayKeys.load_or_create(settings.keys_dir)
    metrics = Metrics()
    validator = DocumentValidator(list(packs) if packs is not None else load_packs(settings))
    messaging = build_messaging(settings, uow_factory, metrics) if settings.messaging == "inline" else None
    on_commit = messaging.notify if messaging is not None else _nothing
    writer = SubmissionWriter(uow_factory, on_commit=on_commit)
    submissions = SubmissionService(
        validator=validator,
        keys=keys,
        writer=writer,
        uow_factory=uow_factory,
        metrics=metrics,
        event_source=settings.event_source,
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
        feed=StatusFeed(uow_factory),
        submissions=submissions,
        changes=DeclarationChanges(
            validator=validator,
            keys=keys,
            uow_factory=uow_factory,
            event_source=settings.event_source,
            on_commit=on_commit,
        ),
        clients=ClientService(uow_factory),
    )


def build_engine(settings: Settings) -> AsyncEngine:
    return create_engine(settings.effective_database_url, sqlite_synchronous=settings.sqlite_synchronous)


def build_messaging(settings: Settings, uow_factory: UnitOfWorkFactory, metrics: Metrics) -> MessagingWorkers:
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
    )
    return MessagingWorkers(relay=relay, responses=responses)


def _nothing() -> None:
    pass
