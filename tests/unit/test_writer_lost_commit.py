"""The group-commit writer when a COMMIT's answer is lost with its connection: it reads the batch back
once the database answers, and tells each caller what is true (stored: accepted; not stored, or not
known: a 503, the latter saying to retry under the same Idempotency-Key)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import pytest

from gateway.errors import CommitOutcomeUnknown, ServiceUnavailable
from gateway.store.records import NewDeclaration
from gateway.store.uow import UnitOfWorkFactory
from gateway.store.writer import SubmissionWriter


@dataclass
class FakeDatabase:
    """Stored ids; whether it answers; what a COMMIT does: "ok", "lost-applied", "lost-not-applied"."""

    stored: set[str] = field(default_factory=set)
    down: bool = False
    commit: str = "ok"
    reads: int = 0


class _Declarations:
    def __init__(self, database: FakeDatabase, uow: _Uow) -> None:
        self._database = database
        self._uow = uow

    async def add_many(self, batch: list[NewDeclaration]) -> None:
        self._uow.pending.extend(item.id for item in batch)

    async def stored(self, ids: list[str]) -> set[str]:
        self._database.reads += 1
        return self._database.stored & set(ids)


class _Audit:
    async def add(self, _event: Any) -> None:
        return None


class _Uow:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.pending: list[str] = []
        self.declarations = _Declarations(database, self)
        self.audit = _Audit()

    async def __aenter__(self) -> _Uow:
        if self._database.down:
            raise ServiceUnavailable("database unavailable")
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        outcome = self._database.commit
        if outcome in ("ok", "lost-applied"):
            self._database.stored.update(self.pending)
        if outcome.startswith("lost"):
            self._database.commit = "ok"
            self._database.down = True  # the server went away with the connection
            raise CommitOutcomeUnknown("the database connection was lost while committing")


def _writer(database: FakeDatabase, *, outcome_check_s: float = 2.0) -> SubmissionWriter:
    factory = cast(UnitOfWorkFactory, lambda: _Uow(database))
    return SubmissionWriter(factory, outcome_check_s=outcome_check_s, outcome_poll_s=0.01)


def _declaration(number: int) -> NewDeclaration:
    return NewDeclaration(
        id=f"decl-{number}",
        document_type="hk.tdec",
        format="json",
        content_type="application/json",
        body=b"{}",
        digest="sha256:00",
        trader="trader",
        receipt="receipt",
        received_at=datetime.now(UTC),
        events=(),
    )


async def _come_back(database: FakeDatabase, *, after_s: float) -> None:
    await asyncio.sleep(after_s)
    database.down = False


async def test_a_lost_commit_that_was_applied_is_accepted() -> None:
    database = FakeDatabase(commit="lost-applied")
    writer = _writer(database)
    await writer.start()
    try:
        returning = asyncio.create_task(_come_back(database, after_s=0.1))
        await writer.write(_declaration(1))  # no error: the caller is answered 202
        await returning
    finally:
        await writer.stop()
    assert database.stored == {"decl-1"}
    assert database.reads >= 1


async def test_a_lost_commit_that_was_not_applied_is_refused_as_not_stored() -> None:
    database = FakeDatabase(commit="lost-not-applied")
    writer = _writer(database)
    await writer.start()
    try:
        returning = asyncio.create_task(_come_back(database, after_s=0.1))
        with pytest.raises(ServiceUnavailable, match="not stored"):
            await writer.write(_declaration(2))
        await returning
    finally:
        await writer.stop()
    assert database.stored == set()


async def test_a_lost_commit_with_the_database_still_away_says_the_outcome_is_unknown() -> None:
    database = FakeDatabase(commit="lost-applied")
    writer = _writer(database, outcome_check_s=0.2)
    await writer.start()
    try:
        with pytest.raises(ServiceUnavailable, match="Idempotency-Key"):
            await writer.write(_declaration(3))
    finally:
        await writer.stop()
    assert database.stored == {"decl-3"}  # it was applied: only a keyed retry can tell the caller


async def test_the_writer_answers_the_next_batch_once_the_database_is_back() -> None:
    database = FakeDatabase(commit="lost-not-applied")
    writer = _writer(database, outcome_check_s=0.2)
    await writer.start()
    try:
        with pytest.raises(ServiceUnavailable):
            await writer.write(_declaration(4))
        database.down = False
        await writer.write(_declaration(5))
    finally:
        await writer.stop()
    assert database.stored == {"decl-5"}
