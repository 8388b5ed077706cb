"""Reading status changes back from `status_history`, for everything that tells traders about them.

Status changes are written by whichever process applies them (the submission writer, the outbox
relay, the answer service, amendments and cancellations), so the readers (the SSE feed, the webhook
fan-out) poll `status_history` by id. PostgreSQL assigns ids at insert and commits in another order,
so a reader also asks again for the ids it stepped over (`gateway.store.history_cursor`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import declarations, status_history

__all__ = ["StatusChange", "history_ids_above", "max_history_id", "read_status_changes"]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One `status_history` row with its declaration's type and trader (and the trader a forwarder
    lodged it for, who is told too); `id` orders the changes."""

    id: int
    declaration_id: str
    document_type: str
    status: str
    at: datetime
    detail: str | None
    trader: str
    on_behalf_of: str | None = None

    @property
    def parties(self) -> tuple[str, ...]:
        """The clients told about it: its submitter, and the trader a forwarder lodged it for."""
        return (self.trader,) if self.on_behalf_of is None else (self.trader, self.on_behalf_of)

    def as_dict(self) -> dict[str, object]:
        return {
            "declaration_id": self.declaration_id,
            "document_type": self.document_type,
            "status": self.status,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "detail": self.detail,
        }


async def read_status_changes(
    connection: AsyncConnection,
    *,
    after: int,
    also: Collection[int] = (),
    limit: int = 5000,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[StatusChange]:
    """The changes with a history id above `after` or among `also` (ids a reader stepped over), in
    id order, narrowed by `where` (e.g. a trader)."""
    ids = status_history.c.id > after
    if also:
        ids = or_(ids, status_history.c.id.in_(sorted(also)))
    query = (
        select(
            status_history.c.id,
            status_history.c.declaration_id,
            declarations.c.document_type,
            status_history.c.status,
            status_history.c.at,
            status_history.c.detail,
            declarations.c.trader,
            declarations.c.on_behalf_of,
        )
        .join(declarations, declarations.c.id == status_history.c.declaration_id)
        .where(ids, *where)
        .order_by(status_history.c.id)
        .limit(limit)
    )
    return [
        StatusChange(
            id=row.id,
            declaration_id=row.declaration_id,
            document_type=row.document_type,
            status=row.status,
            at=row.at,
            detail=row.detail,
            trader=row.trader,
            on_behalf_of=row.on_behalf_of,
        )
        for row in await connection.execute(query)
    ]


async def max_history_id(connection: AsyncConnection) -> int:
    """The highest history id committed so far (0 for none)."""
    result = await connection.execute(select(func.max(status_history.c.id)))
    return int(result.scalar_one() or 0)


async def history_ids_above(connection: AsyncConnection, after: int) -> list[int]:
    """The history ids committed above `after`."""
    result = await connection.execute(select(status_history.c.id).where(status_history.c.id > after))
    return list(result.scalars())
