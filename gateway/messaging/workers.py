"""The gateway's Kafka-side workers, started and stopped together: outbox relay and response consumer."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.messaging.relay import OutboxRelay
from gateway.messaging.responses import ResponseConsumer

__all__ = ["MessagingWorkers"]


@dataclass
class MessagingWorkers:
    relay: OutboxRelay
    responses: ResponseConsumer

    def notify(self) -> None:
        """A submission committed: wake the relay."""
        self.relay.notify()

    async def start(self) -> None:
        await self.relay.start()
        await self.responses.start()

    async def stop(self) -> None:
        await self.responses.stop()
        await self.relay.stop()
