"""Accepting a submission: validate, sign, store with its outbox rows, answer with a receipt.

`SubmissionService.submit` is the whole synchronous part of the data path. Routing to Kafka happens
later, from the outbox (`gateway.messaging.relay`), so a broker outage never refuses a valid document.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.contracts.statuses import Status
from gateway.documents.packs import Format
from gateway.documents.receipts import RECEIPT_TYP, body_digest, build_receipt_payload
from gateway.documents.signing import GatewayKeys
from gateway.documents.validator import DocumentValidator, ValidatedDocument, media_format
from gateway.errors import Conflict, DocumentInvalid
from gateway.ids import new_id
from gateway.metrics import Metrics
from gateway.routing import routed_events
from gateway.store.records import Client, DeclarationRecord, NewDeclaration, Origin
from gateway.store.uow import UnitOfWorkFactory
from gateway.store.writer import DuplicateSubmission, SubmissionWriter

__all__ = ["MEDIA_TYPES", "Accepted", "SubmissionService"]

MEDIA_TYPES: dict[Format, str] = {"xml": "application/xml", "json": "application/json"}
_PLAIN = Origin()


@dataclass(frozen=True, slots=True)
class Accepted:
    """The 202 answer. `replayed` is True when an Idempotency-Key matched an earlier submission."""

    id: str
    status: str
    document_type: str
    receipt: str
    replayed: bool = False


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SubmissionService:
    def __init__(
        self,
        *,
        validator: DocumentValidator,
        keys: GatewayKeys,
        writer: SubmissionWriter,
        uow_factory: UnitOfWorkFactory,
        metrics: Metrics,
        event_source: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._validator = validator
        self._keys = keys
        self._writer = writer
        self._uow_factory = uow_factory
        self._metrics = metrics
        self._event_source = event_source
        self._clock = clock

    async def submit(
        self,
        *,
        body: bytes,
        content_type: str | None,
        client: Client,
        idempotency_key: str | None = None,
        origin: Origin = _PLAIN,
    ) -> Accepted:
        """Accept one document from `client`; `origin`: the trader a forwarder lodges it for, and the
        client's verified signature over `body` (both recorded, and named in the receipt)."""
        fmt = media_format(content_type)
        digest = body_digest(body)
        if idempotency_key is not None:
            earlier = await self._earlier(client, idempotency_key, digest, origin=origin)
            if earlier is not None:
                return earlier
        document = self._validate(body, fmt)
        declaration = self._declaration(
            document, body=body, digest=digest, client=client, key=idempotency_key, origin=origin
        )
        try:
            await self._writer.write(declaration)
        except DuplicateSubmission:
            if idempotency_key is None:
                raise
            earlier = await self._earlier(client, idempotency_key, digest, origin=origin)
            if earlier is None:
                raise
            return earlier
        self._metrics.submissions.labels(document.document_type, "accepted").inc()
        assert declaration.receipt is not None  # a submission always has a receipt of its own
        return Accepted(
            id=declaration.id,
            status=Status.ACCEPTED,
            document_type=declaration.document_type,
            receipt=declaration.receipt,
        )

    def prepare(self, body: bytes, fmt: Format, *, client: Client) -> NewDeclaration:
        """Validate and sign one document and build what storing it writes, without storing it (batch
        jobs store many in their own transaction). Raises as `submit` does for a refused document."""
        document = self._validate(body, fmt)
        return self._declaration(
            document, body=body, digest=body_digest(body), client=client, key=None, origin=_PLAIN
        )

    def _validate(self, body: bytes, fmt: Format) -> ValidatedDocument:
        started = time.perf_counter()
        try:
            document = self._validator.validate(body, fmt)
        except DocumentInvalid as exc:
            self._metrics.submissions.labels(exc.document_type or "unknown", "rejected").inc()
            raise
        except Exception:
            self._metrics.submissions.labels("unknown", "rejected").inc()
            raise
        self._metrics.validation_seconds.labels(document.document_type).observe(time.perf_counter() - started)
        return document

    async def _earlier(self, client: Client, key: str, digest: str, *, origin: Origin) -> Accepted | None:
        async with self._uow_factory() as uow:
            earlier = await uow.declarations.by_idempotency_key(client.id, key)
        if earlier is None:
            return None
        if earlier.digest != digest:
            self._metrics.submissions.labels(earlier.document_type, "conflict").inc()
            raise Conflict("Idempotency-Key already used with a different body")
        if earlier.on_behalf_of != (origin.on_behalf_of.id if origin.on_behalf_of else None):
            self._metrics.submissions.labels(earlier.document_type, "conflict").inc()
            raise Conflict("Idempotency-Key already used for a submission on behalf of another trader")
        self._metrics.submissions.labels(earlier.document_type, "replayed").inc()
        return _replay(earlier)

    def _declaration(
        self,
        document: ValidatedDocument,
        *,
        body: bytes,
        digest: str,
        client: Client,
        key: str | None,
        origin: Origin,
    ) -> NewDeclaration:
        declaration_id = new_id()
        received_at = self._clock()
        receipt = self._keys.sign_compact(
            build_receipt_payload(
                declaration_id=declaration_id,
                document_type=document.document_type,
                digest=digest,
                received_at=received_at,
                trader=client.name,
                extra={"trader_id": client.id, **origin.receipt_fields()},
            ),
            typ=RECEIPT_TYP,
        )
        signature = self._keys.sign_detached(body)
        media_type = MEDIA_TYPES[document.format]
        events = routed_events(
            document.pack.routes,
            subject=declaration_id,
            action="submitted",
            version=1,
            at=received_at,
            media_type=media_type,
            signature=signature,
            document_type=document.document_type,
            source=self._event_source,
        )
        return NewDeclaration(
            id=declaration_id,
            document_type=document.document_type,
            format=document.format,
            content_type=media_type,
            body=body,
            digest=digest,
            trader=client.id,
            receipt=receipt,
            received_at=received_at,
            events=events,
            idempotency_key=key,
            on_behalf_of=origin.on_behalf_of.id if origin.on_behalf_of else None,
            signed_by=origin.signed_by,
        )


def _replay(earlier: DeclarationRecord) -> Accepted:
    assert earlier.receipt is not None  # only submissions carry an Idempotency-Key
    return Accepted(
        id=earlier.id,
        status=Status.ACCEPTED,
        document_type=earlier.document_type,
        receipt=earlier.receipt,
        replayed=True,
    )
