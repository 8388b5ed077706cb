"""Handling one routed record, from its bytes to a durable outcome (the worker then commits its offset).

Order, and why:

1. read the CloudEvents headers and verify ``tsw-signature`` over the record value with the gateway's
   JWKS. A failure here dead-letters the record at once: nothing about it is trusted, so it is neither
   looked up nor remembered, and the agency never hears of it;
2. look the ``ce_id`` up in the dedupe store. Found: publish the stored outcome again if it was not
   acknowledged yet, and stop; the agency is not called again;
3. translate the document (`adapters.translate`), deliver it (`AgencyClient.submit`: retried until
   the back-end answers), map the decision (`adapters.decisions`). A `PoisonEvent` anywhere here
   (untranslatable document, a 4xx answer, an unmapped decision) makes a dead letter the outcome.
   A bulk event (many e-commerce consignments, `gateway.contracts.bulk`) is answered by
   `adapters.bulk_responder` instead: one delivery for the whole bulk, one bulk answer;
4. record the outcome in the dedupe store, publish it (waiting for Kafka's acknowledgement), mark it
   published.

Retriable failures (JWKS, dedupe store, Kafka) are retried with backoff until they pass or the adapter
stops (`Stopping`, raised by the `wait` the worker supplies), so no record is ever skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError

from adapters.bulk_responder import BulkResponder
from adapters.decisions import agency_status
from adapters.dedupe import DedupeStore, HandledEvent, OutcomeKind
from adapters.delivery import AgencyClient, Submission
from adapters.errors import JwksUnavailable, PoisonEvent, StoreUnavailable
from adapters.inbound import RoutedEvent, read_event
from adapters.jwks import JwksCache
from adapters.records import OutgoingRecord, dead_letter_record, response_record
from adapters.retry import Backoff, Wait, retry_until_done
from adapters.translate import TradeSummary, empty_summary, translate
from gateway.contracts.agencies import Agency
from gateway.contracts.events import rfc3339
from gateway.contracts.responses import AgencyResponse, response_event_id
from gateway.errors import SignatureInvalid

__all__ = ["HandleResult", "Publish", "RecordHandler"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Sends one record and waits for Kafka's acknowledgement (raises `KafkaError` on failure).
Publish = Callable[[OutgoingRecord], Awaitable[None]]


class HandleResult(StrEnum):
    RESPONDED = "responded"  # the agency answered; the response is on tsw.responses
    DEAD_LETTERED = "dead-lettered"  # the record is on tsw.dlq.<agency> with its reason
    DUPLICATE = "duplicate"  # handled before (redelivery): the stored outcome was used


class RecordHandler:
    def __init__(
        self,
        *,
        agency: Agency,
        source: str,
        jwks: JwksCache,
        store: DedupeStore,
        client: AgencyClient,
        publish: Publish,
        backoff: Backoff,
        wait: Wait,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._agency = agency
        self._source = source
        self._jwks = jwks
        self._store = store
        self._client = client
        self._publish = publish
        self._backoff = backoff
        self._wait = wait
        self._clock = clock
        self._bulk = BulkResponder(agency=agency, source=source, client=client, wait=wait, clock=clock)

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> HandleResult:
        """Return once the record's outcome is durable on Kafka (the offset may then be committed)."""
        try:
            event = read_event(record)
            await self._verify(event, record.value)
        except PoisonEvent as exc:
            await self._publish_durably(self._dead_letter(record, exc.reason))
            return HandleResult.DEAD_LETTERED
        handled = await self._retry(
            f"reading the dedupe store for {event.id}", lambda: self._store.get(event.id)
        )
        if handled is not None:
            await self._replay(handled)
            return HandleResult.DUPLICATE
        return await self._decide_and_publish(record, event)

    async def _verify(self, event: RoutedEvent, value: bytes | None) -> None:
        signature = event.signature
        if signature is None:
            raise PoisonEvent("no tsw-signature header")
        if value is None:
            raise PoisonEvent("the record has no value")
        try:
            await self._retry("loading the JWKS", lambda: self._jwks.verify(signature, value))
        except SignatureInvalid as exc:
            raise PoisonEvent(f"tsw-signature rejected: {exc}") from exc

    async def _replay(self, handled: HandledEvent) -> None:
        log.info(
            "%s: event %s for declaration %s was handled before (%s)%s",
            self._agency.value,
            handled.event_id,
            handled.declaration_id,
            handled.outcome,
            "" if handled.published else "; publishing its outcome again",
        )
        if not handled.published:
            await self._publish_durably(handled.record)
            await self._retry(
                "marking the outcome published", lambda: self._store.mark_published(handled.event_id)
            )

    async def _decide_and_publish(
        self, record: ConsumerRecord[bytes, bytes], event: RoutedEvent
    ) -> HandleResult:
        response_id: str | None
        try:
            if event.bulk:
                outgoing, response_id = await self._bulk.respond(event, record.value or b"")
            else:
                outgoing, response_id = await self._respond(event, record.value)
            result = HandleResult.RESPONDED
        except PoisonEvent as exc:
            outgoing, response_id = self._dead_letter(record, exc.reason), None
            result = HandleResult.DEAD_LETTERED
        outcome: OutcomeKind = "response" if result is HandleResult.RESPONDED else "dead-letter"
        await self._retry(
            "recording the outcome",
            lambda: self._store.record(
                event.id,
                declaration_id=event.declaration_id,
                outcome=outcome,
                response_id=response_id,
                record=outgoing,
            ),
        )
        await self._publish_durably(outgoing)
        await self._retry("marking the outcome published", lambda: self._store.mark_published(event.id))
        return result

    async def _respond(self, event: RoutedEvent, value: bytes | None) -> tuple[OutgoingRecord, str]:
        """The response record for the agency's answer, and its ``ce_id``."""
        submission = Submission(
            submission_id=event.id,
            declaration_id=event.declaration_id,
            action=event.action,
            document_type=event.document_type or "unknown",
            summary=self._summary(event, value or b""),
        )
        answer = await self._client.submit(submission, wait=self._wait)
        status = agency_status(self._agency, answer.decision)
        response = AgencyResponse(
            declaration_id=event.declaration_id,
            agency=self._agency.value,
            in_reply_to=event.id,
            status=status,
            decision=answer.decision,
            decided_at=rfc3339(self._clock()),
            reference=answer.reference,
            reason=answer.reason,
            detail=answer.detail,
        )
        response_id = response_event_id(event.id, status)
        log.info(
            "%s: declaration %s %s -> %s (%s, response %s)",
            self._agency.value,
            event.declaration_id,
            event.action,
            answer.decision,
            status,
            response_id,
        )
        return response_record(response, source=self._source, document_type=event.document_type), response_id

    def _summary(self, event: RoutedEvent, value: bytes) -> TradeSummary:
        if event.action == "cancelled":  # a cancellation needs only the declaration id
            return empty_summary()
        return translate(
            value,
            content_type=event.content_type,
            document_type=event.document_type,
            agency=self._agency.value,
        )

    def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> OutgoingRecord:
        origin = f"{record.topic}/{record.partition}@{record.offset}"
        log.warning("%s: dead-lettering %s: %s", self._agency.value, origin, reason)
        return dead_letter_record(
            self._agency.value,
            key=record.key,
            value=record.value,
            headers=record.headers,
            reason=reason,
            at=rfc3339(self._clock()),
            origin=origin,
        )

    async def _publish_durably(self, outgoing: OutgoingRecord) -> None:
        await self._retry(f"publishing to {outgoing.topic}", lambda: self._publish(outgoing))

    async def _retry(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await retry_until_done(
            operation,
            what=f"{self._agency.value}: {what}",
            retriable=(JwksUnavailable, StoreUnavailable, KafkaError, TimeoutError),
            backoff=self._backoff,
            wait=self._wait,
        )
