"""Amending and cancelling a declaration the agencies are still deciding on.

An amendment is a new version of the document, of the same type: validated like a submission, signed,
stored beside the earlier versions and routed to every target agency as `amended`. The agencies' earlier
answers are dropped and each decides again on the new version; the aggregate status stays where it was.

A cancellation moves the declaration to `CANCELLED` at once and routes a signed JSON notice
(`{"declaration_id", "version", "reason", "requested_at"}`) to every target agency as `cancelled`;
their acknowledgements show in the per-agency status.

Fast-path e-commerce consignments (routed in bulk) can be neither. Both are allowed only while the
declaration is `ACCEPTED`, `ROUTED` or `UNDER_REVIEW`
(`gateway.domain.declaration.check_changeable`); otherwise `Conflict` (409). The status check is a
compare-and-set in the same transaction as the write, so two concurrent changes cannot both pass it.
Each answers with a signed receipt naming the action and the version (and, when the request was
signed, the key: `signed_by`).

Only the submitter changes a declaration. One a forwarder lodged for a trader is readable by that
trader, but amended or cancelled by the forwarder alone, and only while it is still authorised to
lodge for the trader (`Forbidden`, 403, otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from gateway.audit import events as audit_events
from gateway.contracts.events import rfc3339
from gateway.contracts.statuses import Status
from gateway.documents.origin import SignedBy
from gateway.documents.problems import Problem
from gateway.documents.receipts import RECEIPT_TYP, body_digest, build_receipt_payload
from gateway.documents.signing import GatewayKeys
from gateway.documents.validator import DocumentValidator, media_format
from gateway.domain.declaration import CHANGEABLE_STATUSES, NotChangeable, check_changeable
from gateway.errors import Conflict, DocumentInvalid, Forbidden, GatewayError, NotFound
from gateway.forwarders import ForwarderService
from gateway.routing import routed_events
from gateway.store.records import Client, DeclarationRecord, NewAmendment, OutboxEvent
from gateway.store.uow import UnitOfWork, UnitOfWorkFactory
from gateway.submission import MEDIA_TYPES

__all__ = ["Amended", "Cancelled", "DeclarationChanges"]

_CHANGEABLE = tuple(status.value for status in CHANGEABLE_STATUSES)


@dataclass(frozen=True, slots=True)
class Amended:
    id: str
    version: int
    status: str
    document_type: str
    receipt: str
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Cancelled:
    id: str
    version: int
    status: str
    receipt: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DeclarationChanges:
    def __init__(
        self,
        *,
        validator: DocumentValidator,
        keys: GatewayKeys,
        uow_factory: UnitOfWorkFactory,
        forwarders: ForwarderService,
        event_source: str,
        on_commit: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._validator = validator
        self._keys = keys
        self._uow_factory = uow_factory
        self._forwarders = forwarders
        self._event_source = event_source
        self._on_commit = on_commit
        self._clock = clock

    async def amend(
        self,
        declaration_id: str,
        *,
        body: bytes,
        content_type: str | None,
        client: Client,
        idempotency_key: str | None = None,
        signed_by: SignedBy | None = None,
    ) -> Amended:
        fmt = media_format(content_type)
        digest = body_digest(body)
        current = await self._current(declaration_id, client)
        if idempotency_key is not None:
            earlier = await self._earlier_amendment(current, idempotency_key, digest)
            if earlier is not None:
                return earlier
        _check(current, "amended")
        document = self._validator.validate(body, fmt)
        if document.document_type != current.document_type:
            raise DocumentInvalid(
                [
                    Problem(
                        code="amendment.document-type",
                        path="/",
                        message=f"an amendment must be a {current.document_type}, "
                        f"not a {document.document_type}",
                    )
                ],
                document_type=document.document_type,
            )
        try:
            amended = await self._store_amendment(
                current,
                body=body,
                digest=digest,
                media_type=MEDIA_TYPES[fmt],
                client=client,
                key=idempotency_key,
                signed_by=signed_by,
            )
        except IntegrityError as exc:  # the same Idempotency-Key, concurrently
            raise Conflict("Idempotency-Key already used for an amendment of this declaration") from exc
        self._on_commit()
        return amended

    async def cancel(
        self,
        declaration_id: str,
        *,
        body: bytes,
        reason: str | None,
        client: Client,
        signed_by: SignedBy | None = None,
    ) -> Cancelled:
        current = await self._current(declaration_id, client)
        _check(current, "cancelled")
        now = self._clock()
        async with self._uow_factory() as uow:
            targets, _ = await uow.answers.targets(current.id)
            cancelled = await uow.declarations.cancel(
                current.id,
                trader=client.id,
                allowed=_CHANGEABLE,
                at=now,
                detail="cancelled by the trader" + (f": {reason}" if reason else ""),
                events=self._cancellation_events(current, targets, reason=reason, at=now),
            )
            if not cancelled:
                raise await _refusal(uow, current.id, client, "cancelled")
            await uow.audit.add(
                audit_events.cancelled(
                    current.id,
                    trader=client.id,
                    version=current.version,
                    digest=body_digest(body),
                    at=now,
                    signed_by=signed_by,
                )
            )
            receipt = self._receipt(
                current, client, digest=body_digest(body), at=now, action="cancelled", signed_by=signed_by
            )
            await uow.commit()
        self._on_commit()
        return Cancelled(id=current.id, version=current.version, status=Status.CANCELLED, receipt=receipt)

    def _cancellation_events(
        self, current: DeclarationRecord, targets: list[str], *, reason: str | None, at: datetime
    ) -> tuple[OutboxEvent, ...]:
        notice = orjson.dumps(
            {
                "declaration_id": current.id,
                "version": current.version,
                "reason": reason,
                "requested_at": rfc3339(at),
            }
        )
        return routed_events(
            targets,
            subject=current.id,
            action="cancelled",
            version=current.version,
            at=at,
            media_type="application/json",
            signature=self._keys.sign_detached(notice),
            document_type=current.document_type,
            source=self._event_source,
            body=notice,
        )

    async def _current(self, declaration_id: str, client: Client) -> DeclarationRecord:
        async with self._uow_factory() as uow:
            record = await uow.declarations.get(declaration_id, trader=client.id)
        if record is None:
            raise NotFound("no such declaration")
        if record.trader != client.id:
            raise Forbidden("a forwarder lodged this declaration for you: only it may change it")
        if record.on_behalf_of is not None and not await self._forwarders.may_lodge_for(
            client.id, record.on_behalf_of
        ):
            raise Forbidden("no longer authorised to lodge for the trader this declaration is for")
        return record

    async def _earlier_amendment(self, current: DeclarationRecord, key: str, digest: str) -> Amended | None:
        async with self._uow_factory() as uow:
            earlier = await uow.declarations.amendment_by_idempotency_key(current.id, key)
        if earlier is None:
            return None
        if earlier.digest != digest:
            raise Conflict("Idempotency-Key already used with a different body")
        return Amended(
            id=current.id,
            version=earlier.version,
            status=current.status,
            document_type=current.document_type,
            receipt=earlier.receipt,
            replayed=True,
        )

    async def _store_amendment(
        self,
        current: DeclarationRecord,
        *,
        body: bytes,
        digest: str,
        media_type: str,
        client: Client,
        key: str | None,
        signed_by: SignedBy | None,
    ) -> Amended:
        now = self._clock()
        async with self._uow_factory() as uow:
            claimed = await uow.declarations.claim_version(
                current.id, trader=client.id, allowed=_CHANGEABLE, at=now
            )
            if claimed is None:
                raise await _refusal(uow, current.id, client, "amended")
            version, status = claimed
            targets, _ = await uow.answers.targets(current.id)
            receipt = self._receipt(
                current, client, digest=digest, at=now, action="amended", version=version, signed_by=signed_by
            )
            events = routed_events(
                targets,
                subject=current.id,
                action="amended",
                version=version,
                at=now,
                media_type=media_type,
                signature=self._keys.sign_detached(body),
                document_type=current.document_type,
                source=self._event_source,
                body=body,
            )
            amendment = NewAmendment(
                declaration_id=current.id,
                version=version,
                content_type=media_type,
                body=body,
                digest=digest,
                receipt=receipt,
                received_at=now,
                events=events,
                idempotency_key=key,
                signed_by=signed_by,
            )
            await uow.declarations.add_amendment(amendment, status=status)
            await uow.audit.add(
                audit_events.amended(
                    current.id, trader=client.id, version=version, digest=digest, at=now, signed_by=signed_by
                )
            )
            await uow.answers.forget(current.id)
            await uow.commit()
        return Amended(
            id=current.id,
            version=version,
            status=status,
            document_type=current.document_type,
            receipt=receipt,
        )

    def _receipt(
        self,
        current: DeclarationRecord,
        client: Client,
        *,
        digest: str,
        at: datetime,
        action: str,
        version: int | None = None,
        signed_by: SignedBy | None = None,
    ) -> str:
        extra: dict[str, Any] = {
            "trader_id": client.id,
            "action": action,
            "version": version or current.version,
        }
        if signed_by is not None:
            extra["signed_by"] = signed_by.summary()
        if current.on_behalf_of is not None:
            extra["on_behalf_of_id"] = current.on_behalf_of
        payload = build_receipt_payload(
            declaration_id=current.id,
            document_type=current.document_type,
            digest=digest,
            received_at=at,
            trader=client.name,
            extra=extra,
        )
        return self._keys.sign_compact(payload, typ=RECEIPT_TYP)


async def _refusal(uow: UnitOfWork, declaration_id: str, client: Client, action: str) -> GatewayError:
    """Why the compare-and-set failed: the declaration is gone from the caller's view, or its status
    changed since it was read."""
    record = await uow.declarations.get(declaration_id, trader=client.id)
    if record is None:
        return NotFound("no such declaration")
    return Conflict(f"a declaration that is {record.status} can no longer be {action}")


def _check(record: DeclarationRecord, action: str) -> None:
    if record.bulk_id is not None:
        raise Conflict(f"a fast-path e-commerce consignment cannot be {action}; lodge a new one")
    try:
        check_changeable(Status(record.status), action)
    except NotChangeable as exc:
        raise Conflict(str(exc)) from exc
