"""The unit of work: one connection, one transaction, the repositories over it.

    async with uow_factory() as uow:
        await uow.declarations.add_many(batch)
        await uow.commit()

Leaving the block without `commit()` rolls back. Database outages surface as `ServiceUnavailable`
(and so as a 503 with `Retry-After`), whichever way they show: the connection refused or timed out,
PostgreSQL starting up or shutting down ("the database system is starting up", "terminating
connection due to administrator command"), a connection closed in the middle of a statement, the
pool exhausted past its timeout, SQLite's write lock held too long ("database is locked"), its disk
full ("database or disk is full") or failing ("disk I/O error"). A rollback or close that fails
because the connection is already gone never hides the error that ended the block.

A COMMIT cut off by a lost connection raises `CommitOutcomeUnknown`: the server may have applied it.
A value the database refuses (SQLSTATE class 22: a NUL character in PostgreSQL text) raises
`InvalidRequest`: it is the input's fault, and trying again cannot help.
"""

from __future__ import annotations

import logging
from types import TracebackType

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from gateway.errors import CommitOutcomeUnknown, InvalidRequest, ServiceUnavailable
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

__all__ = ["UnitOfWork", "UnitOfWorkFactory", "database_unavailable", "unavailable_reason"]

log = logging.getLogger(__name__)

#: What a lost database raises inside a transaction: the driver's errors (wrapped by SQLAlchemy) and
#: socket errors a driver lets through.
_UNAVAILABLE = (DBAPIError, OSError)
#: ...and what connecting to an unreachable one raises besides: the driver's connect timeout and the
#: pool's own checkout timeout.
_CANNOT_CONNECT = (*_UNAVAILABLE, TimeoutError, sa_exc.TimeoutError)


def database_unavailable(error: BaseException | None) -> bool:
    """True when `error` says the database cannot be used now (not a constraint the caller broke,
    nor a value it refused)."""
    return (
        isinstance(error, _UNAVAILABLE)
        and not isinstance(error, IntegrityError)
        and not _refused_value(error)
    )


def _refused_value(error: BaseException | None) -> bool:
    """The database refused a value itself: SQLSTATE class 22, data exception (PostgreSQL's text cannot
    hold a NUL character; a number out of range). The request's fault, not an outage: a 503 would have
    it retried forever (the fuzzers found it)."""
    if isinstance(error, sa_exc.DataError):
        return True
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, DBAPIError) and isinstance(sqlstate, str) and sqlstate.startswith("22")


def unavailable_reason(error: BaseException | None) -> str:
    """The driver's own words for why the database failed ("database is locked", "database or disk
    is full", "Connect call failed"), from a `ServiceUnavailable` or the error behind it, for the logs:
    never the statement or its parameters, which SQLAlchemy's message carries (they may hold a
    document)."""
    if isinstance(error, ServiceUnavailable) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, DBAPIError):
        error = error.orig
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if error is None:
        return "unknown"
    return str(error).split("\n", 1)[0][:200] or type(error).__name__


def _connection_lost(error: DBAPIError) -> bool:
    """The session ended under the statement: SQLAlchemy saw the disconnect, or PostgreSQL said so
    (SQLSTATE class 08, connection exception; 57P01-57P03, the server shutting down or restarting)."""
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    return isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _SHUTDOWN_SQLSTATES)


_SHUTDOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


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
        except _CANNOT_CONNECT as exc:
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
        except _UNAVAILABLE as rollback_error:  # the connection died with the transaction
            if exc is None:
                raise ServiceUnavailable("database unavailable") from rollback_error
            log.debug("rollback after %r failed too: %r", exc, rollback_error)
        finally:
            await self._close()
        if database_unavailable(exc):
            raise ServiceUnavailable("database unavailable") from exc
        if _refused_value(exc):
            raise InvalidRequest(
                "the request holds a value the database cannot store (e.g. a NUL character)"
            ) from exc

    @property
    def connection(self) -> AsyncConnection:
        """The open connection, for read models that are not worth a repository (e.g. feeds)."""
        assert self._connection is not None, "connection outside `async with`"
        return self._connection

    async def ping(self) -> None:
        assert self._connection is not None, "ping() outside `async with`"
        await self._connection.execute(text("SELECT 1"))

    async def commit(self) -> None:
        """Commit; `CommitOutcomeUnknown` when the connection was lost with the COMMIT in flight."""
        assert self._transaction is not None, "commit() outside `async with`"
        try:
            await self._transaction.commit()
        except DBAPIError as exc:
            if _connection_lost(exc):
                raise CommitOutcomeUnknown("the database connection was lost while committing") from exc
            raise

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.close()
        except _UNAVAILABLE as exc:  # a broken connection: the pool has discarded it already
            log.debug("closing a broken database connection: %r", exc)


class UnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.engine)
