"""Handling routed records, from their bytes to durable outcomes (the worker then commits the offsets).

The worker hands over each fetched batch of a partition (`handle_batch`; `handle` is a batch of one).
Order, and why:

1. read each record's CloudEvents headers and verify ``tsw-signature`` over its value with the
   gateway's JWKS. A failure here dead-letters the record at once: nothing about it is trusted, so it
   is neither looked up nor remembered, and the agency never hears of it;
2. look the batch's ``ce_id``s up in the dedupe store (one query). Found: publish the stored outcome
   again if it was not acknowledged yet; the agency is not called again;
3. for the rest, translate the document (`adapters.translate`), deliver it (`AgencyClient.submit`:
   retried until the back-end answers), map the decision (`adapters.decisions`). Records about
   different declarations are delivered concurrently (at most ``max_in_flight`` at once); those about
   the same declaration (the record key) one after the other, in offset order, so an amendment never
   overtakes its original. A `PoisonEvent` anywhere here (untranslatable document, a 4xx answer, an
   unmapped decision) makes a dead letter the outcome. A bulk event (many e-commerce consignments,
   `gateway.contracts.bulk`) is answered by `adapters.bulk_responder` instead: one delivery for the
   whole bulk, one bulk answer;
4. record the batch's outcomes in the dedupe store (one transaction), publish them all (waiting for
   Kafka's acknowledgements), mark them published (one transaction).

Retriable failures (JWKS, dedupe store, Kafka) are retried with backoff until they pass or the adapter
stops (`Stopping`, raised by the `wait` the worker supplies), so no record is ever skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeAlias, TypeVar

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError

from adapters.bulk_responder import BulkResponder
from adapters.decisions import agency_status
from adapters.dedupe import DedupeStore, HandledEvent, Outcome
from adapters.delivery import AgencyClient, Submission
from adapters.errors import JwksUnavailable, PoisonEvent, Stopping, StoreUnavailable
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

#: Sends records (in order) and waits for Kafka's acknowledgement of all (`KafkaError` on failure).
Publish = Callable[[Sequence[OutgoingRecord]], Awaitable[None]]
Record: TypeAlias = ConsumerRecord[bytes, bytes]


class HandleResult(StrEnum):
    RESPONDED = "responded"  # the agency answered; the response is on tsw.responses
    DEAD_LETTERED = "dead-lettered"  # the record is on tsw.dlq.<agency> with its reason
    DUPLICATE = "duplicate"  # handled before (redelivery): the stored outcome was used


@dataclass(frozen=True, slots=True)
class _Decided:
    index: int  # the record's place in its batch
    outcome: Outcome
    result: HandleResult


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
        max_in_flight: int = 32,
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
        self._max_in_flight = max_in_flight
        self._bulk = BulkResponder(agency=agency, source=source, client=client, wait=wait, clock=clock)

    async def handle(self, record: Record) -> HandleResult:
        """Return once the record's outcome is durable on Kafka (the offset may then be committed)."""
        [result] = await self.handle_batch([record])
        return result

    async def handle_batch(self, records: Sequence[Record]) -> list[HandleResult]:
        """Return once every record's outcome is durable on Kafka; a result per record, in order."""
        results: dict[int, HandleResult] = {}
        dead_letters: list[OutgoingRecord] = []
        trusted: list[tuple[int, RoutedEvent, Record]] = []
        for index, record in enumerate(records):
            try:
                event = read_event(record)
                await self._verify(event, record.value)
            except PoisonEvent as exc:
                dead_letters.append(self._dead_letter(record, exc.reason))
                results[index] = HandleResult.DEAD_LETTERED
                continue
            trusted.append((index, event, record))
        known = await self._retry(
            "reading the dedupe store", lambda: self._store.get_many([event.id for _, event, _ in trusted])
        )
        replays, fresh = self._split_handled(trusted, known, results)
        decided = await self._decide_all(fresh)
        results.update((d.index, d.result) for d in decided)
        outcomes = [d.outcome for d in decided]
        await self._retry("recording the outcomes", lambda: self._store.record_many(outcomes))
        await self._retry(
            "publishing",
            lambda: self._publish(
                [*dead_letters, *(h.record for h in replays), *(o.record for o in outcomes)]
            ),
        )
        published = [h.event_id for h in replays] + [o.event_id for o in outcomes]
        await self._retry(
            "marking the outcomes published", lambda: self._store.mark_published_many(published)
        )
        return [results[index] for index in range(len(records))]

    def _split_handled(
        self,
        trusted: list[tuple[int, RoutedEvent, Record]],
        known: dict[str, HandledEvent],
        results: dict[int, HandleResult],
    ) -> tuple[list[HandledEvent], list[tuple[int, RoutedEvent, Record]]]:
        """Events handled before (their outcomes to publish again if unacknowledged), and the rest.
        An event id seen twice in one batch is handled once."""
        replays: list[HandledEvent] = []
        fresh: list[tuple[int, RoutedEvent, Record]] = []
        seen: set[str] = set()
        for index, event, record in trusted:
            handled = known.get(event.id)
            if handled is None and event.id not in seen:
                seen.add(event.id)
                fresh.append((index, event, record))
                continue
            results[index] = HandleResult.DUPLICATE
            if handled is not None:
                self._log_replay(handled)
                if not handled.published and handled.event_id not in {r.event_id for r in replays}:
                    replays.append(handled)
        return replays, fresh

    def _log_replay(self, handled: HandledEvent) -> None:
        log.info(
            "%s: event %s for declaration %s was handled before (%s)%s",
            self._agency.value,
            handled.event_id,
            handled.declaration_id,
            handled.outcome,
            "" if handled.published else "; publishing its outcome again",
        )

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

    async def _decide_all(self, fresh: list[tuple[int, RoutedEvent, Record]]) -> list[_Decided]:
        """Decide every fresh event: a chain per declaration, the chains concurrently."""
        chains: dict[str, list[tuple[int, RoutedEvent, Record]]] = defaultdict(list)
        for item in fresh:
            chains[item[1].declaration_id].append(item)
        decided: list[_Decided] = []
        slots = asyncio.Semaphore(self._max_in_flight)

        async def chain(items: list[tuple[int, RoutedEvent, Record]]) -> None:
            for index, event, record in items:
                async with slots:
                    decided.append(await self._decide(index, event, record))

        try:
            async with asyncio.TaskGroup() as group:
                for items in chains.values():
                    group.create_task(chain(items))
        except BaseExceptionGroup as failures:
            # `Stopping` (or the first failure) as itself, for the worker to act on.
            stopping = failures.subgroup(Stopping)
            raise (stopping or failures).exceptions[0] from None
        return sorted(decided, key=lambda d: d.index)

    async def _decide(self, index: int, event: RoutedEvent, record: Record) -> _Decided:
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
        outcome = Outcome(
            event.id,
            event.declaration_id,
            "response" if result is HandleResult.RESPONDED else "dead-letter",
            response_id,
            outgoing,
        )
        return _Decided(index, outcome, result)

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

    async def _retry(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await retry_until_done(
            operation,
            what=f"{self._agency.value}: {what}",
            retriable=(JwksUnavailable, StoreUnavailable, KafkaError, TimeoutError),
            backoff=self._backoff,
            wait=self._wait,
        )
