"""The gateway's background workers, started and stopped together, one set per database: the outbox
relay, the response consumer, the webhook dispatcher and the audit chainer (the one writer of the
audit log's hash chain)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.audit.chainer import AuditChainer
from gateway.messaging.relay import OutboxRelay
from gateway.messaging.responses import ResponseConsumer
from gateway.webhooks.dispatcher import WebhookDispatcher

__all__ = ["MessagingWorkers"]


@dataclass
class MessagingWorkers:
    relay: OutboxRelay
    responses: ResponseConsumer
    webhooks: WebhookDispatcher
    audit: AuditChainer | None = None

    def notify(self) -> None:
        """A submission committed: wake the relay."""
        self.relay.notify()

    async def start(self) -> None:
        await self.relay.start()
        await self.responses.start()
        await self.webhooks.start()
        if self.audit is not None:
            await self.audit.start()

    async def stop(self) -> None:
        if self.audit is not None:
            await self.audit.stop()
        await self.webhooks.stop()
        await self.responses.stop()
        await self.relay.stop()
