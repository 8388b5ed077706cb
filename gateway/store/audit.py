"""The audit log's rows: unchained events as writers add them, the chain, checkpoints, and the
`status_history` ranges the chain covers. See `gateway.audit` for the design."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.chain import GENESIS, AuditEvent, ChainedEntry
from gateway.store.fast_insert import insert_many
from gateway.store.tables import audit_checkpoints, audit_log, status_history

__all__ = ["AuditRepository", "Checkpoint", "HistoryRow", "Link"]

#: `pg_advisory_xact_lock` key of the chainer ("tsw-audit" as a number).
_CHAIN_LOCK = 0x7473_772D_6175_6474

HistoryRow = tuple[int, str, str, datetime, str | None]


@dataclass(frozen=True, slots=True)
class Link:
    """Where the chainer put one unchained row."""

    id: int
    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: datetime
    kid: str
    signature: str


class AuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, event: AuditEvent) -> None:
        """Record `event` in the caller's transaction; the chainer links it later."""
        await insert_many(self._connection, audit_log, [_fields(event)])

    async def add_many(self, events: Sequence[AuditEvent]) -> None:
        await insert_many(self._connection, audit_log, [_fields(event) for event in events])

    # The chainer's side.

    async def lock_chain(self) -> None:
        """Be the only writer of the chain until this transaction ends. PostgreSQL: an advisory lock;
        SQLite: the database's write lock, taken by a write that changes nothing, before anything is
        read (so the transaction's snapshot is never stale when it writes)."""
        if self._connection.dialect.name == "postgresql":
            await self._connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
        else:
            await self._connection.execute(text("UPDATE audit_checkpoints SET seq = seq WHERE 1 = 0"))

    async def head(self) -> tuple[int, str]:
        """The last chained entry's `(seq, hash)`; `(0, GENESIS)` for an empty chain."""
        query = select(audit_log.c.seq, audit_log.c.hash).where(audit_log.c.seq.is_not(None))
        row = (await self._connection.execute(query.order_by(audit_log.c.seq.desc()).limit(1))).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))

    async def unchained(self, limit: int) -> list[tuple[int, AuditEvent]]:
        query = select(audit_log).where(audit_log.c.seq.is_(None)).order_by(audit_log.c.id).limit(limit)
        return [(int(row.id), _event(row)) for row in await self._connection.execute(query)]

    async def chain(self, links: Sequence[Link]) -> None:
        if not links:
            return
        statement = (
            update(audit_log)
            .where(audit_log.c.id == bindparam("b_id"), audit_log.c.seq.is_(None))
            .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
        )
        rows = [{"b_id": x.id, "b_seq": x.seq, "b_prev": x.prev_hash, "b_hash": x.hash} for x in links]
        await self._connection.execute(statement, rows)

    async def append(self, entry: ChainedEntry) -> None:
        """Add an entry the chainer wrote itself, already linked."""
        values = {**_fields(entry.event), "seq": entry.seq, "prev_hash": entry.prev_hash, "hash": entry.hash}
        await self._connection.execute(insert(audit_log).values(**values))

    async def last_data(self, kind: str) -> dict[str, Any] | None:
        """The `data` of the last chained entry of `kind`."""
        query = (
            select(audit_log.c.data)
            .where(audit_log.c.seq.is_not(None), audit_log.c.kind == kind)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        )
        data = (await self._connection.execute(query)).scalar_one_or_none()
        return dict(data) if data is not None else None

    async def history_after(self, after: int, *, limit: int) -> list[HistoryRow]:
        query = _history().where(status_history.c.id > after).order_by(status_history.c.id).limit(limit)
        return _history_rows(await self._connection.execute(query))

    async def history_between(self, first_id: int, last_id: int) -> list[HistoryRow]:
        query = _history().where(status_history.c.id.between(first_id, last_id)).order_by(status_history.c.id)
        return _history_rows(await self._connection.execute(query))

    async def last_checkpoint(self) -> Checkpoint | None:
        query = select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        row = (await self._connection.execute(query)).first()
        return None if row is None else _checkpoint(row)

    async def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        await self._connection.execute(
            insert(audit_checkpoints).values(
                seq=checkpoint.seq,
                hash=checkpoint.hash,
                at=checkpoint.at,
                kid=checkpoint.kid,
                signature=checkpoint.signature,
            )
        )

    # The verifier's side.

    async def entries(self, *, after_seq: int, limit: int) -> list[ChainedEntry]:
        """Chained entries with `seq > after_seq`, in chain order."""
        query = select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq).limit(limit)
        return [
            ChainedEntry(seq=int(row.seq), event=_event(row), prev_hash=row.prev_hash, hash=row.hash)
            for row in await self._connection.execute(query)
        ]

    async def checkpoints(self, *, after_seq: int = 0) -> list[Checkpoint]:
        query = (
            select(audit_checkpoints)
            .where(audit_checkpoints.c.seq > after_seq)
            .order_by(audit_checkpoints.c.seq)
        )
        return [_checkpoint(row) for row in await self._connection.execute(query)]

    async def unchained_count(self) -> int:
        query = select(func.count()).select_from(audit_log).where(audit_log.c.seq.is_(None))
        return int((await self._connection.execute(query)).scalar_one())


def _fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "kind": event.kind,
        "actor": event.actor,
        "subject": event.subject,
        "data": dict(event.data),
    }


def _event(row: Any) -> AuditEvent:
    return AuditEvent(at=row.at, kind=row.kind, actor=row.actor, subject=row.subject, data=row.data)


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(seq=int(row.seq), hash=row.hash, at=row.at, kid=row.kid, signature=row.signature)


def _history() -> Any:
    return select(
        status_history.c.id,
        status_history.c.declaration_id,
        status_history.c.status,
        status_history.c.at,
        status_history.c.detail,
    )


def _history_rows(result: Any) -> list[HistoryRow]:
    return [(int(row.id), row.declaration_id, row.status, row.at, row.detail) for row in result]
