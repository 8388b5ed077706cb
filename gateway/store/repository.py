"""Repositories: queries over one open connection. They never commit; the unit of work does."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, exists, func, insert, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from gateway.contracts.statuses import Status
from gateway.documents.origin import SignedBy
from gateway.store.fast_insert import insert_many
from gateway.store.records import (
    AgencyState,
    BulkLodgement,
    DeclarationRecord,
    HistoryEntry,
    NewAmendment,
    NewDeclaration,
    OutboxEvent,
    VersionRecord,
)
from gateway.store.tables import (
    agency_states,
    amendments,
    bulk_lodgements,
    declarations,
    inbox,
    outbox,
    status_history,
)

__all__ = [
    "AnswerRepository",
    "DeclarationRepository",
    "OutboxRepository",
    "PendingEvent",
    "RoutedEventRef",
]

_SUMMARY_COLUMNS = (
    declarations.c.id,
    declarations.c.document_type,
    declarations.c.format,
    declarations.c.digest,
    declarations.c.trader,
    declarations.c.status,
    declarations.c.receipt,
    declarations.c.received_at,
    declarations.c.updated_at,
    declarations.c.idempotency_key,
    declarations.c.version,
    declarations.c.reference,
    declarations.c.bulk_id,
    declarations.c.on_behalf_of,
    declarations.c.signature_kid,
    declarations.c.signature_alg,
)


class DeclarationRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add_many(self, batch: Sequence[NewDeclaration]) -> None:
        """Insert declarations with their first history entry and outbox rows (executemany each)."""
        await insert_many(self._connection, declarations, [_declaration_row(item) for item in batch])
        await insert_many(
            self._connection,
            status_history,
            [
                {"declaration_id": item.id, "status": Status.ACCEPTED, "at": item.received_at, "detail": None}
                for item in batch
            ],
        )
        events = [_outbox_row(item.id, event, at=item.received_at) for item in batch for event in item.events]
        await insert_many(self._connection, outbox, events)

    async def add_bulk(self, lodgement: BulkLodgement) -> None:
        """Insert a lodgement, its consignments (declarations with their first history entry) and its
        routed bulk events, all in this transaction."""
        await self._connection.execute(
            insert(bulk_lodgements).values(
                id=lodgement.id,
                trader=lodgement.trader,
                document_type=lodgement.document_type,
                count=len(lodgement.consignments),
                receipt=lodgement.receipt,
                received_at=lodgement.received_at,
                body=lodgement.body,
                on_behalf_of=lodgement.on_behalf_of,
                **_signature_values(lodgement.signed_by),
            )
        )
        if lodgement.consignments:
            await self.add_many(lodgement.consignments)
        if lodgement.events:
            await self._connection.execute(
                insert(outbox),
                [
                    {**_outbox_row(None, event, at=lodgement.received_at), "bulk_id": lodgement.id}
                    for event in lodgement.events
                ],
            )

    async def by_references(self, trader: str, references: Collection[str]) -> dict[str, tuple[str, str]]:
        """The submitter's declarations with these references: reference -> (id, digest)."""
        if not references:
            return {}
        query = select(declarations.c.reference, declarations.c.id, declarations.c.digest).where(
            declarations.c.trader == trader, declarations.c.reference.in_(references)
        )
        return {row.reference: (row.id, row.digest) for row in await self._connection.execute(query)}

    async def claim_version(
        self, declaration_id: str, *, trader: str, allowed: Collection[str], at: datetime
    ) -> tuple[int, str] | None:
        """Take the next version number of a declaration still in one of the `allowed` statuses.

        A compare-and-set, and the transaction's first write: concurrent amendments and cancellations
        of one declaration serialise here. Returns (new version, status), or None when the declaration
        is not the trader's or no longer in an allowed status.
        """
        statement = (
            update(declarations)
            .where(
                declarations.c.id == declaration_id,
                declarations.c.trader == trader,
                declarations.c.status.in_(allowed),
            )
            .values(version=declarations.c.version + 1, updated_at=at)
            .returning(declarations.c.version, declarations.c.status)
        )
        row = (await self._connection.execute(statement)).first()
        return (row.version, row.status) if row else None

    async def add_amendment(self, amendment: NewAmendment, *, status: str) -> None:
        """Store a new version with its routed events; its history entry repeats the current status."""
        await self._connection.execute(
            insert(amendments).values(
                declaration_id=amendment.declaration_id,
                version=amendment.version,
                content_type=amendment.content_type,
                body=amendment.body,
                digest=amendment.digest,
                receipt=amendment.receipt,
                idempotency_key=amendment.idempotency_key,
                received_at=amendment.received_at,
                **_signature_values(amendment.signed_by),
            )
        )
        await self._connection.execute(
            insert(outbox),
            [
                _outbox_row(amendment.declaration_id, event, at=amendment.received_at)
                for event in amendment.events
            ],
        )
        await self._connection.execute(
            insert(status_history).values(
                declaration_id=amendment.declaration_id,
                status=status,
                at=amendment.received_at,
                detail=f"amended: version {amendment.version}",
            )
        )

    async def cancel(
        self,
        declaration_id: str,
        *,
        trader: str,
        allowed: Collection[str],
        at: datetime,
        detail: str,
        events: Sequence[OutboxEvent],
    ) -> bool:
        """Move a declaration still in an `allowed` status to CANCELLED and queue its cancellation events.

        A compare-and-set like `claim_version`; False when the declaration is not the trader's or no
        longer in an allowed status.
        """
        statement = (
            update(declarations)
            .where(
                declarations.c.id == declaration_id,
                declarations.c.trader == trader,
                declarations.c.status.in_(allowed),
            )
            .values(status=Status.CANCELLED, updated_at=at)
        )
        if (await self._connection.execute(statement)).rowcount != 1:
            return False
        await self._connection.execute(
            insert(status_history).values(
                declaration_id=declaration_id, status=Status.CANCELLED, at=at, detail=detail
            )
        )
        if events:
            await self._connection.execute(
                insert(outbox), [_outbox_row(declaration_id, event, at=at) for event in events]
            )
        return True

    async def amendment_by_idempotency_key(self, declaration_id: str, key: str) -> VersionRecord | None:
        query = select(
            amendments.c.version,
            amendments.c.digest,
            amendments.c.receipt,
            amendments.c.received_at,
            amendments.c.idempotency_key,
        ).where(amendments.c.declaration_id == declaration_id, amendments.c.idempotency_key == key)
        row = (await self._connection.execute(query)).mappings().first()
        return VersionRecord(**row) if row else None

    async def versions(self, declaration_id: str) -> list[VersionRecord]:
        """Every version of a declaration, the first submission first."""
        first = select(
            declarations.c.digest,
            declarations.c.receipt,
            declarations.c.received_at,
            declarations.c.idempotency_key,
            declarations.c.signature_kid,
            declarations.c.signature_alg,
        ).where(declarations.c.id == declaration_id)
        row = (await self._connection.execute(first)).mappings().first()
        if row is None:
            return []
        later = (
            select(
                amendments.c.version,
                amendments.c.digest,
                amendments.c.receipt,
                amendments.c.received_at,
                amendments.c.idempotency_key,
                amendments.c.signature_kid,
                amendments.c.signature_alg,
            )
            .where(amendments.c.declaration_id == declaration_id)
            .order_by(amendments.c.version)
        )
        return [
            VersionRecord(version=1, **row),
            *(VersionRecord(**item) for item in (await self._connection.execute(later)).mappings()),
        ]

    async def get(
        self, declaration_id: str, *, trader: str | None = None, agency: str | None = None
    ) -> DeclarationRecord | None:
        """One declaration with its agencies and history; a consignment shows its lodgement's receipt.
        With `trader`, only if it submitted it or a forwarder lodged it for it (`on_behalf_of`); with
        `agency`, only if it was routed there."""
        query = (
            select(*_SUMMARY_COLUMNS, bulk_lodgements.c.receipt.label("bulk_receipt"))
            .outerjoin(bulk_lodgements, bulk_lodgements.c.id == declarations.c.bulk_id)
            .where(declarations.c.id == declaration_id)
        )
        if trader is not None:
            query = query.where(or_(declarations.c.trader == trader, declarations.c.on_behalf_of == trader))
        if agency is not None:
            query = query.where(_routed_to(agency))
        row = (await self._connection.execute(query)).mappings().first()
        if row is None:
            return None
        fields = dict(row)
        bulk_receipt = fields.pop("bulk_receipt")
        if fields["receipt"] is None:
            fields["receipt"] = bulk_receipt
        return DeclarationRecord(
            **fields,
            agencies=await self._agencies(declaration_id, bulk_id=row.bulk_id),
            history=await self._history(declaration_id),
        )

    async def body(self, declaration_id: str, *, version: int = 1) -> tuple[bytes, str] | None:
        """The exact bytes of one version of a declaration, with their media type."""
        if version == 1:
            query = select(declarations.c.body, declarations.c.content_type).where(
                declarations.c.id == declaration_id
            )
        else:
            query = select(amendments.c.body, amendments.c.content_type).where(
                amendments.c.declaration_id == declaration_id, amendments.c.version == version
            )
        row = (await self._connection.execute(query)).first()
        return (row.body, row.content_type) if row else None

    async def stored(self, declaration_ids: Collection[str]) -> set[str]:
        """Which of these declarations are stored (to settle a commit whose outcome was lost)."""
        if not declaration_ids:
            return set()
        query = select(declarations.c.id).where(declarations.c.id.in_(declaration_ids))
        return set((await self._connection.execute(query)).scalars())

    async def by_idempotency_key(self, trader: str, key: str) -> DeclarationRecord | None:
        query = select(*_SUMMARY_COLUMNS).where(
            declarations.c.trader == trader, declarations.c.idempotency_key == key
        )
        row = (await self._connection.execute(query)).mappings().first()
        return DeclarationRecord(**row) if row else None

    async def page(
        self,
        *,
        trader: str | None,
        limit: int,
        agency: str | None = None,
        status: str | None = None,
        document_type: str | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[DeclarationRecord]:
        """The trader's declarations (with `agency`: those routed there), newest first, keyset-paged
        by (received_at, id). Neither: nothing (never every declaration by mistake).

        A trader's are those it submitted and those forwarders lodged for it: two keyset-limited
        queries, each along its own index, merged (an OR would sort every one of the trader's rows).
        """
        if trader is None and agency is None:
            return []
        page = partial(_page_query, limit=limit, status=status, document_type=document_type, after=after)
        if trader is None:
            assert agency is not None
            query = page(_routed_to(agency))
        else:
            own = page(declarations.c.trader == trader)
            lodged_for = page(declarations.c.on_behalf_of == trader)
            both = union_all(select(own.subquery()), select(lodged_for.subquery())).subquery()
            query = select(both).order_by(both.c.received_at.desc(), both.c.id.desc()).limit(limit)
        rows = (await self._connection.execute(query)).mappings().all()
        return [DeclarationRecord(**row) for row in rows]

    async def lock_for_routing(self, declaration_ids: Collection[str], bulk_ids: Collection[str]) -> None:
        """On PostgreSQL, lock these declarations (and the consignments of these lodgements) in id
        order, before their outbox rows are touched. Every transaction that updates both locks the
        declarations first, in id order, then the outbox rows (the response consumer through
        `AnswerRepository.states_many` and `bulk_states`). The relay used to update the outbox first
        and deadlocked with the consumer; PostgreSQL broke the tie after its one-second
        `deadlock_timeout`, which showed as stalls of 1.3 s in the clearance bench's p99."""
        if self._connection.dialect.name != "postgresql" or not (declaration_ids or bulk_ids):
            return
        chosen = []
        if declaration_ids:
            chosen.append(declarations.c.id.in_(set(declaration_ids)))
        if bulk_ids:
            chosen.append(declarations.c.bulk_id.in_(set(bulk_ids)))
        query = select(declarations.c.id).where(or_(*chosen)).order_by(declarations.c.id).with_for_update()
        await self._connection.execute(query)

    async def mark_routed(self, declaration_ids: Sequence[str], *, at: datetime) -> list[str]:
        """Move to ROUTED those still ACCEPTED whose every outbox row is published; returns their ids."""
        pending = exists().where(
            outbox.c.declaration_id == declarations.c.id, outbox.c.published_at.is_(None)
        )
        return await self._mark_routed(declarations.c.id.in_(declaration_ids), ~pending, at=at)

    async def mark_bulk_routed(self, bulk_ids: Sequence[str], *, at: datetime) -> int:
        """Move to ROUTED the consignments still ACCEPTED of each lodgement whose every bulk event is
        published; returns how many moved."""
        pending = exists().where(outbox.c.bulk_id == declarations.c.bulk_id, outbox.c.published_at.is_(None))
        return len(await self._mark_routed(declarations.c.bulk_id.in_(bulk_ids), ~pending, at=at))

    async def _mark_routed(self, *conditions: ColumnElement[bool], at: datetime) -> list[str]:
        statement = (
            update(declarations)
            .where(*conditions, declarations.c.status == Status.ACCEPTED)
            .values(status=Status.ROUTED, updated_at=at)
            .returning(declarations.c.id)
        )
        routed = list((await self._connection.execute(statement)).scalars())
        if routed:
            await self._connection.execute(
                insert(status_history),
                [{"declaration_id": item, "status": Status.ROUTED, "at": at} for item in routed],
            )
        return routed

    async def _history(self, declaration_id: str) -> list[HistoryEntry]:
        query = (
            select(status_history.c.status, status_history.c.at, status_history.c.detail)
            .where(status_history.c.declaration_id == declaration_id)
            .order_by(status_history.c.id)
        )
        return [HistoryEntry(**row) for row in (await self._connection.execute(query)).mappings()]

    async def _agencies(self, declaration_id: str, *, bulk_id: str | None) -> dict[str, AgencyState]:
        """Each target agency's state: its answer to the latest event it was sent, else that event's
        ROUTED or PENDING (an amendment or a cancellation not yet answered shows as such). A
        consignment's events are its lodgement's bulk events."""
        routed = (
            select(outbox.c.agency, outbox.c.event_id, outbox.c.published_at)
            .where(outbox.c.bulk_id == bulk_id if bulk_id else outbox.c.declaration_id == declaration_id)
            .order_by(outbox.c.id)
        )
        latest = {row.agency: row for row in await self._connection.execute(routed)}
        states = {
            agency: AgencyState(status="ROUTED" if row.published_at else "PENDING", at=row.published_at)
            for agency, row in latest.items()
        }
        answered = select(
            agency_states.c.agency,
            agency_states.c.status,
            agency_states.c.reference,
            agency_states.c.reason,
            agency_states.c.at,
            agency_states.c.response_event_id,
        ).where(agency_states.c.declaration_id == declaration_id)
        for row in await self._connection.execute(answered):
            if row.agency in latest and latest[row.agency].event_id == row.response_event_id:
                states[row.agency] = AgencyState(
                    status=row.status, reference=row.reference, reason=row.reason, at=row.at
                )
        return states


class AnswerRepository:
    """Agency answers: the inbox of applied response events and each agency's latest state."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def claim_many(self, events: Sequence[tuple[str, str]], *, at: datetime, outcome: str) -> set[str]:
        """Record response events (event id, declaration id) as applied; the ids newly claimed (the
        others already were: redeliveries).

        Being the transaction's first statement, and a write, it also takes SQLite's write lock before
        anything is read, so the reads that follow cannot go stale.
        """
        if not events:
            return set()
        dialect_insert = postgresql_insert if self._connection.dialect.name == "postgresql" else sqlite_insert
        # executemany with RETURNING (SQLAlchemy's "insertmanyvalues"): compiled once, whatever the count
        statement = (
            dialect_insert(inbox)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(inbox.c.event_id)
        )
        rows = [
            {"event_id": event_id, "declaration_id": declaration_id, "received_at": at, "outcome": outcome}
            for event_id, declaration_id in events
        ]
        return set((await self._connection.execute(statement, rows)).scalars())

    async def set_outcomes(self, outcomes: Sequence[tuple[str, str]]) -> None:
        """Record what became of each claimed response event: (event id, outcome) pairs."""
        if outcomes:
            await self._connection.execute(
                update(inbox).where(inbox.c.event_id == bindparam("e")).values(outcome=bindparam("o")),
                [{"e": event_id, "o": outcome} for event_id, outcome in outcomes],
            )

    async def states_many(self, declaration_ids: Collection[str]) -> dict[str, tuple[str, int]]:
        """Each declaration's (status, current version), locked for the transaction on PostgreSQL
        (in id order)."""
        query = (
            select(declarations.c.id, declarations.c.status, declarations.c.version)
            .where(declarations.c.id.in_(set(declaration_ids)))
            .order_by(declarations.c.id)
        )
        if self._connection.dialect.name == "postgresql":
            query = query.with_for_update()
        return {row.id: (row.status, row.version) for row in await self._connection.execute(query)}

    async def routed_events_many(self, event_ids: Collection[str]) -> dict[str, RoutedEventRef]:
        """What each routed event carried: which declaration, agency, version and action."""
        query = select(
            outbox.c.event_id,
            outbox.c.declaration_id,
            outbox.c.bulk_id,
            outbox.c.agency,
            outbox.c.version,
            outbox.c.action,
        ).where(outbox.c.event_id.in_(set(event_ids)))
        found: dict[str, RoutedEventRef] = {}
        for row in await self._connection.execute(query):
            found[row.event_id] = RoutedEventRef(
                declaration_id=row.declaration_id,
                bulk_id=row.bulk_id,
                agency=row.agency,
                version=row.version,
                action=row.action,
            )
        return found

    async def confirm_published_many(self, event_ids: Collection[str], *, at: datetime) -> None:
        """Answers to these events prove they were published, even if the relay has not recorded it yet."""
        if event_ids:
            await self._connection.execute(
                update(outbox)
                .where(outbox.c.event_id.in_(set(event_ids)), outbox.c.published_at.is_(None))
                .values(published_at=at)
            )

    async def targets_many(self, declaration_ids: Collection[str]) -> dict[str, tuple[list[str], bool]]:
        """`targets` for many declarations, by declaration id."""
        query = (
            select(outbox.c.declaration_id, outbox.c.agency, outbox.c.published_at)
            .where(outbox.c.declaration_id.in_(set(declaration_ids)))
            .order_by(outbox.c.id)
        )
        rows: dict[str, list[tuple[str, bool]]] = {}
        for row in await self._connection.execute(query):
            rows.setdefault(row.declaration_id, []).append((row.agency, row.published_at is not None))
        return {
            declaration_id: (list(dict.fromkeys(agency for agency, _ in events)), all(p for _, p in events))
            for declaration_id, events in rows.items()
        }

    async def forget(self, declaration_id: str) -> None:
        """Drop every agency's answer: they answered a version that an amendment replaced."""
        await self._connection.execute(
            delete(agency_states).where(agency_states.c.declaration_id == declaration_id)
        )

    async def targets(self, declaration_id: str) -> tuple[list[str], bool]:
        """The declaration's target agencies (in routing order) and whether all its events are published."""
        return await self._targets(outbox.c.declaration_id == declaration_id)

    async def bulk_targets(self, bulk_id: str) -> tuple[list[str], bool]:
        """A lodgement's target agencies and whether every one of its bulk events is published."""
        return await self._targets(outbox.c.bulk_id == bulk_id)

    async def _targets(self, events: ColumnElement[bool]) -> tuple[list[str], bool]:
        query = select(outbox.c.agency, outbox.c.published_at).where(events).order_by(outbox.c.id)
        rows = (await self._connection.execute(query)).all()
        agencies = list(dict.fromkeys(row.agency for row in rows))
        return agencies, all(row.published_at is not None for row in rows)

    async def bulk_states(self, bulk_id: str, declaration_ids: Collection[str]) -> dict[str, str]:
        """The status of each of these declarations that belongs to the lodgement, locked on PostgreSQL
        (in id order)."""
        query = (
            select(declarations.c.id, declarations.c.status)
            .where(declarations.c.bulk_id == bulk_id, declarations.c.id.in_(declaration_ids))
            .order_by(declarations.c.id)
        )
        if self._connection.dialect.name == "postgresql":
            query = query.with_for_update()
        return {row.id: row.status for row in await self._connection.execute(query)}

    async def record_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Upsert many agency states at once (each row has every `agency_states` column)."""
        if not rows:
            return
        dialect_insert = postgresql_insert if self._connection.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(agency_states)
        statement = statement.on_conflict_do_update(
            index_elements=["declaration_id", "agency"],
            set_={
                name: statement.excluded[name]
                for name in ("status", "decision", "reference", "reason", "at", "response_event_id")
            },
        )
        await self._connection.execute(statement, list(rows))

    async def answers_many(self, declaration_ids: Collection[str]) -> dict[str, dict[str, str]]:
        query = select(agency_states.c.declaration_id, agency_states.c.agency, agency_states.c.status).where(
            agency_states.c.declaration_id.in_(declaration_ids)
        )
        found: dict[str, dict[str, str]] = {}
        for row in await self._connection.execute(query):
            found.setdefault(row.declaration_id, {})[row.agency] = row.status
        return found

    async def move_many(
        self, declaration_ids: Sequence[str], path: Sequence[str], *, at: datetime, detail: str
    ) -> None:
        """`move` for many declarations taking the same path."""
        await self._connection.execute(
            update(declarations)
            .where(declarations.c.id.in_(declaration_ids))
            .values(status=path[-1], updated_at=at)
        )
        await self._connection.execute(
            insert(status_history),
            [
                {"declaration_id": item, "status": step, "at": at, "detail": detail}
                for item in declaration_ids
                for step in path
            ],
        )


@dataclass(frozen=True, slots=True)
class RoutedEventRef:
    declaration_id: str | None  # None for a bulk event
    bulk_id: str | None
    agency: str
    version: int
    action: str


@dataclass(frozen=True, slots=True)
class PendingEvent:
    outbox_id: int
    declaration_id: str | None  # None for a bulk event
    bulk_id: str | None
    topic: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        """The record key: the declaration id, or the lodgement id of a bulk event."""
        key = self.bulk_id or self.declaration_id
        assert key is not None, "an outbox row routes a declaration or a lodgement"
        return key


class OutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def pending(self, limit: int, *, max_bytes: int = 64 * 1024 * 1024) -> list[PendingEvent]:
        """The oldest unpublished events: at most `limit`, and no more bodies than fit in `max_bytes`
        (at least one), so a backlog of large bulk events never loads hundreds of MB at once."""
        body = func.coalesce(outbox.c.body, declarations.c.body, bulk_lodgements.c.body)
        sources = outbox.outerjoin(declarations, declarations.c.id == outbox.c.declaration_id).outerjoin(
            bulk_lodgements, bulk_lodgements.c.id == outbox.c.bulk_id
        )
        sizes = (
            select(outbox.c.id, func.length(body).label("size"))
            .select_from(sources)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        chosen: list[int] = []
        total = 0
        for row in await self._connection.execute(sizes):
            total += row.size or 0
            if chosen and total > max_bytes:
                break
            chosen.append(row.id)
        if not chosen:
            return []
        query = (
            select(
                outbox.c.id,
                outbox.c.declaration_id,
                outbox.c.bulk_id,
                outbox.c.topic,
                outbox.c.headers,
                body.label("body"),
            )
            .select_from(sources)
            .where(outbox.c.id.in_(chosen))
            .order_by(outbox.c.id)
        )
        return [
            PendingEvent(
                outbox_id=row.id,
                declaration_id=row.declaration_id,
                bulk_id=row.bulk_id,
                topic=row.topic,
                headers=row.headers,
                body=row.body,
            )
            for row in await self._connection.execute(query)
        ]

    async def mark_published(self, outbox_ids: Sequence[int], *, at: datetime) -> None:
        await self._connection.execute(
            update(outbox).where(outbox.c.id.in_(outbox_ids)).values(published_at=at)
        )

    async def record_failure(self, outbox_ids: Sequence[int], *, error: str) -> None:
        await self._connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(outbox_ids))
            .values(attempts=outbox.c.attempts + 1, last_error=error[:2000])
        )

    async def backlog(self) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int((await self._connection.execute(query)).scalar_one())


def _routed_to(agency: str) -> ColumnElement[bool]:
    """The declaration has an outbox row for `agency`: its own, or its lodgement's bulk event."""
    return exists().where(
        outbox.c.agency == agency,
        or_(
            outbox.c.declaration_id == declarations.c.id,
            and_(declarations.c.bulk_id.is_not(None), outbox.c.bulk_id == declarations.c.bulk_id),
        ),
    )


def _page_query(
    owner: ColumnElement[bool],
    *,
    limit: int,
    status: str | None,
    document_type: str | None,
    after: tuple[datetime, str] | None,
) -> Select[Any]:
    """One page of the declarations matching `owner` and the filters, newest first."""
    query = select(*_SUMMARY_COLUMNS).where(owner)
    if status is not None:
        query = query.where(declarations.c.status == status)
    if document_type is not None:
        query = query.where(declarations.c.document_type == document_type)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                declarations.c.received_at < at,
                and_(declarations.c.received_at == at, declarations.c.id < last_id),
            )
        )
    return query.order_by(declarations.c.received_at.desc(), declarations.c.id.desc()).limit(limit)


def _signature_values(signed_by: SignedBy | None) -> dict[str, str | None]:
    if signed_by is None:
        return {"signature_kid": None, "signature_alg": None, "signature": None}
    # An empty signature: kept elsewhere (a consignment's is its lodgement's).
    return {
        "signature_kid": signed_by.kid,
        "signature_alg": signed_by.alg,
        "signature": signed_by.signature or None,
    }


def _declaration_row(item: NewDeclaration) -> dict[str, Any]:
    return {
        "id": item.id,
        "document_type": item.document_type,
        "format": item.format,
        "content_type": item.content_type,
        "body": item.body,
        "digest": item.digest,
        "trader": item.trader,
        "status": Status.ACCEPTED,
        "receipt": item.receipt,
        "idempotency_key": item.idempotency_key,
        "received_at": item.received_at,
        "updated_at": item.received_at,
        "reference": item.reference,
        "bulk_id": item.bulk_id,
        "on_behalf_of": item.on_behalf_of,
        **_signature_values(item.signed_by),
    }


def _outbox_row(declaration_id: str | None, event: OutboxEvent, *, at: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "declaration_id": declaration_id,
        "agency": event.agency,
        "topic": event.topic,
        "headers": event.headers,
        "version": event.version,
        "action": event.action,
        "body": event.body,
        "created_at": at,
    }
