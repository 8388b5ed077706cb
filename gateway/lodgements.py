"""Lodging fast-path e-commerce consignments: store them, sign one receipt, route them in bulk.

A lodgement is up to `max_consignments` consignments accepted together (one API request is split
into as many lodgements as it needs; a batch file into one per chunk). In one transaction it stores:
each consignment as a declaration of its own (document type `hk.ecom.lvc`, readable at
`/v1/declarations/{id}`, with the submitter's `consignment_ref` as its unique `reference`), one
lodgement row with its receipt, and per target agency ONE outbox row: a compact bulk event carrying
every consignment of the lodgement (`gateway.contracts.bulk`) with one detached signature.

The receipt is a compact JWS like a declaration's, whose `declaration_id` is the lodgement id and whose
`digest` is that of the exact bytes received (the request body, or the uploaded file); it also names
the consignment count and `consignments_digest`, a SHA-256 over the lines `"<id> <digest>\\n"` of its
consignments in order, so any one consignment can be shown to belong to it.

A signed request (`TSW-Signature` over the request body) and a forwarder lodging for a trader
(`on_behalf_of`) are recorded with the lodgement, named in its receipt, and marked on each of its
consignments (the key id and algorithm; the signature itself is kept once, with the lodgement).

A consignment_ref the submitter already used is answered with the earlier consignment when the
document is the same (a retried upload), and refused (`lvc.duplicate-ref`) when it is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from gateway.audit import events as audit_events
from gateway.contracts.bulk import BULK_EVENT_TYPE, CONSIGNMENT_COUNT_HEADER, bulk_value
from gateway.documents.problems import Problem
from gateway.documents.receipts import RECEIPT_TYP, body_digest, build_receipt_payload
from gateway.documents.signing import GatewayKeys
from gateway.ids import new_id
from gateway.metrics import Metrics
from gateway.routing import routed_events
from gateway.store.records import BulkLodgement, Client, NewDeclaration, Origin, OutboxEvent
from gateway.store.uow import UnitOfWork, UnitOfWorkFactory

__all__ = ["LVC_DOCUMENT_TYPE", "ConsignmentInput", "ConsignmentOutcome", "Lodged", "LodgementService"]

LVC_DOCUMENT_TYPE = "hk.ecom.lvc"
_PLAIN = Origin()


@dataclass(frozen=True, slots=True)
class ConsignmentInput:
    """One assembled consignment: its canonical document bytes, or the problems that refuse it."""

    reference: str | None
    position: int  # first line (CSV, JSON Lines) or array index (JSON) of its rows
    document: bytes | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsignmentOutcome:
    reference: str | None
    position: int
    status: str  # ACCEPTED or REJECTED
    id: str | None = None
    lodgement_id: str | None = None
    replayed: bool = False
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Lodged:
    """What one `lodge` call did: its lodgements (id, receipt, count) and one outcome per consignment."""

    lodgements: tuple[tuple[str, str, int], ...]
    outcomes: tuple[ConsignmentOutcome, ...]
    accepted: int = field(default=0)
    rejected: int = field(default=0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LodgementService:
    def __init__(
        self,
        *,
        keys: GatewayKeys,
        uow_factory: UnitOfWorkFactory,
        metrics: Metrics,
        routes: Sequence[str],
        event_source: str,
        max_consignments: int = 1000,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._keys = keys
        self._uow_factory = uow_factory
        self._metrics = metrics
        self._routes = tuple(routes)
        self._event_source = event_source
        self._max_consignments = max_consignments
        self._on_commit = on_commit
        self._clock = clock

    @property
    def max_consignments(self) -> int:
        return self._max_consignments

    async def lodge(
        self,
        items: Sequence[ConsignmentInput],
        *,
        client: Client,
        received_digest: str,
        origin: Origin = _PLAIN,
    ) -> Lodged:
        """Store and route every valid consignment of `items`; an outcome for each, in order."""
        outcomes: list[ConsignmentOutcome] = []
        lodgements: list[tuple[str, str, int]] = []
        for start in range(0, len(items), self._max_consignments):
            chunk = items[start : start + self._max_consignments]
            chunk_outcomes, lodgement = await self._lodge_chunk(
                chunk, client=client, digest=received_digest, origin=origin
            )
            outcomes.extend(chunk_outcomes)
            if lodgement is not None:
                lodgements.append(lodgement)
        if lodgements:
            self._on_commit()
        accepted = sum(1 for outcome in outcomes if outcome.status == "ACCEPTED")
        self._metrics.submissions.labels(LVC_DOCUMENT_TYPE, "accepted").inc(accepted)
        self._metrics.submissions.labels(LVC_DOCUMENT_TYPE, "rejected").inc(len(outcomes) - accepted)
        return Lodged(
            lodgements=tuple(lodgements),
            outcomes=tuple(outcomes),
            accepted=accepted,
            rejected=len(outcomes) - accepted,
        )

    async def _lodge_chunk(
        self, chunk: Sequence[ConsignmentInput], *, client: Client, digest: str, origin: Origin
    ) -> tuple[list[ConsignmentOutcome], tuple[str, str, int] | None]:
        for attempt in (1, 2):
            try:
                async with self._uow_factory() as uow:
                    outcomes, lodgement = await self.write_chunk(
                        uow, chunk, client=client, digest=digest, origin=origin
                    )
                    await uow.commit()
                break
            except IntegrityError:  # a concurrent upload took some of these references: now they replay
                if attempt == 2:
                    raise
        summary = (lodgement.id, lodgement.receipt, len(lodgement.consignments)) if lodgement else None
        return outcomes, summary

    async def write_chunk(
        self,
        uow: UnitOfWork,
        chunk: Sequence[ConsignmentInput],
        *,
        client: Client,
        digest: str,
        origin: Origin = _PLAIN,
    ) -> tuple[list[ConsignmentOutcome], BulkLodgement | None]:
        """Write up to `max_consignments` consignments as one lodgement in `uow`, without committing."""
        assert len(chunk) <= self._max_consignments
        references = [item.reference for item in chunk if item.document is not None and item.reference]
        earlier = await uow.declarations.by_references(client.id, references)
        lodgement_id = new_id()
        now = self._clock()
        outcomes, fresh = _sort_out(
            chunk, earlier=earlier, lodgement_id=lodgement_id, client=client, at=now, origin=origin
        )
        if not fresh:
            return outcomes, None
        lodgement = self._lodgement(lodgement_id, fresh, client=client, digest=digest, at=now, origin=origin)
        await uow.declarations.add_bulk(lodgement)
        await uow.audit.add(audit_events.lodgement_accepted(lodgement.id, fresh, trader=client.id, at=now))
        return outcomes, lodgement

    def _lodgement(
        self,
        lodgement_id: str,
        consignments: list[NewDeclaration],
        *,
        client: Client,
        digest: str,
        at: datetime,
        origin: Origin,
    ) -> BulkLodgement:
        listing = "".join(f"{item.id} {item.digest}\n" for item in consignments).encode()
        receipt = self._keys.sign_compact(
            build_receipt_payload(
                declaration_id=lodgement_id,
                document_type=LVC_DOCUMENT_TYPE,
                digest=digest,
                received_at=at,
                trader=client.name,
                extra={
                    "trader_id": client.id,
                    "kind": "lodgement",
                    "consignments": len(consignments),
                    "consignments_digest": "sha256:" + hashlib.sha256(listing).hexdigest(),
                    **origin.receipt_fields(),
                },
            ),
            typ=RECEIPT_TYP,
        )
        value = bulk_value(lodgement_id, LVC_DOCUMENT_TYPE, ((item.id, item.body) for item in consignments))
        return BulkLodgement(
            id=lodgement_id,
            trader=client.id,
            document_type=LVC_DOCUMENT_TYPE,
            receipt=receipt,
            received_at=at,
            consignments=tuple(consignments),
            events=self._bulk_events(lodgement_id, value, count=len(consignments), at=at),
            body=value,
            on_behalf_of=origin.on_behalf_of.id if origin.on_behalf_of else None,
            signed_by=origin.signed_by,
        )

    def _bulk_events(
        self, lodgement_id: str, value: bytes, *, count: int, at: datetime
    ) -> tuple[OutboxEvent, ...]:
        return routed_events(
            self._routes,
            subject=lodgement_id,
            action="bulk",
            version=None,
            at=at,
            media_type="application/json",
            signature=self._keys.sign_detached(value),
            document_type=LVC_DOCUMENT_TYPE,
            source=self._event_source,
            ce_type=BULK_EVENT_TYPE,
            extra_headers={CONSIGNMENT_COUNT_HEADER: str(count)},
        )


def _sort_out(
    chunk: Sequence[ConsignmentInput],
    *,
    earlier: dict[str, tuple[str, str]],
    lodgement_id: str,
    client: Client,
    at: datetime,
    origin: Origin,
) -> tuple[list[ConsignmentOutcome], list[NewDeclaration]]:
    """Refused, replayed and new consignments: an outcome for each, and the new ones to store."""
    on_behalf_of = origin.on_behalf_of.id if origin.on_behalf_of else None
    # Each consignment names the key; the signature itself is stored once, with the lodgement.
    signed_by = replace(origin.signed_by, signature="") if origin.signed_by else None
    outcomes: list[ConsignmentOutcome] = []
    fresh: list[NewDeclaration] = []
    for item in chunk:
        if item.document is None:
            outcomes.append(
                ConsignmentOutcome(item.reference, item.position, "REJECTED", problems=item.problems)
            )
            continue
        digest = body_digest(item.document)
        known = earlier.get(item.reference) if item.reference else None
        if known is not None:
            outcomes.append(_replayed(item, known, digest))
            continue
        declaration = NewDeclaration(
            id=new_id(),
            document_type=LVC_DOCUMENT_TYPE,
            format="json",
            content_type="application/json",
            body=item.document,
            digest=digest,
            trader=client.id,
            receipt=None,
            received_at=at,
            events=(),
            reference=item.reference,
            bulk_id=lodgement_id,
            on_behalf_of=on_behalf_of,
            signed_by=signed_by,
        )
        if item.reference:
            earlier[item.reference] = (declaration.id, digest)  # a repeat later in the same upload
        fresh.append(declaration)
        outcomes.append(
            ConsignmentOutcome(
                item.reference, item.position, "ACCEPTED", id=declaration.id, lodgement_id=lodgement_id
            )
        )
    return outcomes, fresh


def _replayed(item: ConsignmentInput, known: tuple[str, str], digest: str) -> ConsignmentOutcome:
    known_id, known_digest = known
    if known_digest == digest:
        return ConsignmentOutcome(item.reference, item.position, "ACCEPTED", id=known_id, replayed=True)
    problem = Problem(
        code="lvc.duplicate-ref",
        path="/consignment_ref",
        message=f"consignment_ref {item.reference!r} was already used for another consignment ({known_id})",
    )
    return ConsignmentOutcome(item.reference, item.position, "REJECTED", problems=(problem,))
