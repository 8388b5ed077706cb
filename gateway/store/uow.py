"""The unit of work: one connection, one transaction, the repositories over it.

    async with uow_factory() as uow:
        await uow.declarations.add_many(batch)
        await uow.commit()

Leaving the block without `commit()` rolls back. Database outages surface as `ServiceUnavailable`.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from gateway.errors import ServiceUnavailable
from gateway.store.audit import AuditRepository
from gateway.store.authorisations import AuthorisationRepository
from gateway.store.batches import BatchRepository
from gateway.store.clients import ClientRepository
from gateway.store.repository import (
    AnswerRepository,
    DeclarationRepository,
    OutboxRepository,
)
from gateway.store.signing_keys import SigningKeyRepository
from gateway.store.webhooks import WebhookRepository

__all__ = ["UnitOfWork", "UnitOfWorkFactory"]


class UnitOfWork:
    declarations: DeclarationRepository
    outbox: OutboxRepository
    clients: ClientRepository
    answers: AnswerRepository
    webhooks: WebhookRepository
    batches: BatchRepository
    audit: AuditRepository
    signing_keys: SigningKeyRepository
    authorisations: AuthorisationRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    async def __aenter__(self) -> UnitOfWork:
        try:
            self._connection = await self._engine.connect()
            self._transaction = await self._connection.begin()
        except (OperationalError, OSError) as exc:
            await self._close()
            raise ServiceUnavailable("database unavailable") from exc
        self.declarations = DeclarationRepository(self._connection)
        self.outbox = OutboxRepository(self._connection)
        self.clients = ClientRepository(self._connection)
        self.answers = AnswerRepository(self._connection)
        self.webhooks = WebhookRepository(self._connection)
        self.batches = BatchRepository(self._connection)
        self.audit = AuditRepository(self._connection)
        self.signing_keys = SigningKeyRepository(self._connection)
        self.authorisations = AuthorisationRepository(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self._close()
        if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError):
            raise ServiceUnavailable("database unavailable") from exc

    @property
    def connection(self) -> AsyncConnection:
        """The open connection, for read models that are not worth a repository (e.g. feeds)."""
        assert self._connection is not None, "connection outside `async with`"
        return self._connection

    async def ping(self) -> None:
        assert self._connection is not None, "ping() outside `async with`"
        await self._connection.execute(text("SELECT 1"))

    async def commit(self) -> None:
        assert self._transaction is not None, "commit() outside `async with`"
        await self._transaction.commit()

    async def _close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.engine)
