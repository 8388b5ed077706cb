"""Answering a bulk event: every consignment to the agency in one call, one bulk answer back.

`BulkResponder.respond` runs once the bulk event's signature is verified and its ``ce_id`` was not
handled before (`adapters.handler` does both, exactly as for a single event):

1. read the value (`adapters.inbound.read_bulk`): malformed, empty, or naming another bulk id than
   ``ce_subject`` and the key: `PoisonEvent`, so the whole event goes to the dead-letter topic;
2. translate each consignment into the TradeSummary this agency may see
   (`adapters.translate.translate_document`, with the disclosure rule of
   `adapters.translate.disclosure`: the buyer's identity reference goes to customs only);
3. deliver them all in ONE ``POST /v1/bulk-submissions`` (`AgencyClient.submit_bulk`: the same
   timeouts, retries with backoff and circuit breaker as a single submission; the back-end is
   idempotent by ``submission_id`` = the bulk event's ``ce_id``);
4. map each decision through `adapters.decisions` into a `BulkAnswer`, in the bulk's order, and
   return one `BulkResponse` record for ``tsw.responses``.

One consignment must not sink the others. The rule:

- a consignment that cannot be translated is not sent, and one the agency answered with a word that
  has no status mapping (or left unanswered, or answered unreadably) gets no answer: each is **left
  out of the bulk answer and logged** (WARNING: bulk id, declaration id, and the agency's word or the
  reason; never the document). Its declaration stays ``ROUTED`` for this agency in the gateway, where
  it shows as unanswered, rather than receiving a guessed status; the answer's
  ``tsw-consignment-count`` header, lower than the routed one, tells the same. The other answers are
  real decisions (customs may already have released those parcels), so they are published, not held
  back; dead-lettering the whole bulk would stall every parcel in it for one bad answer;
- when no consignment at all can be answered, the bulk is a `PoisonEvent` (dead letter with the
  reason), as a single event with an unmapped decision is;
- the agency refusing the whole request (a 4xx answer, e.g. 422) is a `DeliveryRejected`: dead letter.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from adapters.bulk_delivery import BulkSubmission, ConsignmentDecision
from adapters.decisions import agency_status
from adapters.delivery import AgencyClient
from adapters.errors import DeliveryRejected, PoisonEvent
from adapters.inbound import RoutedBulk, RoutedEvent, read_bulk
from adapters.records import OutgoingRecord, bulk_response_record
from adapters.retry import Wait
from adapters.translate import DOCUMENT_TYPES, TradeSummary, translate_document
from gateway.contracts.agencies import Agency
from gateway.contracts.bulk import BulkAnswer, BulkResponse, bulk_response_event_id
from gateway.contracts.events import rfc3339

__all__ = ["BulkResponder"]

log = logging.getLogger(__name__)

Consignments = list[tuple[str, TradeSummary]]


class BulkResponder:
    def __init__(
        self,
        *,
        agency: Agency,
        source: str,
        client: AgencyClient,
        wait: Wait,
        clock: Callable[[], datetime],
    ) -> None:
        self._agency = agency
        self._source = source
        self._client = client
        self._wait = wait
        self._clock = clock

    async def respond(self, event: RoutedEvent, value: bytes) -> tuple[OutgoingRecord, str]:
        """The bulk answer record for `event`, and its ``ce_id``; `PoisonEvent` for a dead letter."""
        bulk = read_bulk(event, value)
        if bulk.document_type not in DOCUMENT_TYPES:
            raise PoisonEvent(f"no translation for document type {bulk.document_type!r}")
        consignments = self._translated(bulk)
        if not consignments:
            raise PoisonEvent(f"none of the {len(bulk.consignments)} consignments could be translated")
        submission = BulkSubmission(
            submission_id=event.id, document_type=bulk.document_type, consignments=consignments
        )
        decisions = await self._client.submit_bulk(submission, wait=self._wait)
        answers = self._answers(bulk.bulk_id, consignments, decisions)
        if not answers:
            raise PoisonEvent(
                f"{self._agency.value} answered none of the {len(consignments)} consignments with a"
                " decision that has a status mapping"
            )
        response = BulkResponse(
            bulk_id=bulk.bulk_id,
            agency=self._agency.value,
            in_reply_to=event.id,
            decided_at=rfc3339(self._clock()),
            answers=answers,
        )
        self._log_outcome(bulk, answers)
        record = bulk_response_record(response, source=self._source, document_type=bulk.document_type)
        return record, bulk_response_event_id(event.id)

    def _translated(self, bulk: RoutedBulk) -> Consignments:
        translated: Consignments = []
        for declaration_id, document in bulk.consignments:
            try:
                summary = translate_document(
                    document, document_type=bulk.document_type, agency=self._agency.value
                )
            except PoisonEvent as exc:
                self._left_out(bulk.bulk_id, declaration_id, exc.reason)
                continue
            translated.append((declaration_id, summary))
        return translated

    def _answers(
        self, bulk_id: str, consignments: Consignments, decisions: dict[str, ConsignmentDecision]
    ) -> tuple[BulkAnswer, ...]:
        answers: list[BulkAnswer] = []
        for declaration_id, _ in consignments:
            decided = decisions.get(declaration_id)
            if decided is None:
                self._left_out(bulk_id, declaration_id, "the agency gave no readable decision for it")
                continue
            try:
                status = agency_status(self._agency, decided.decision)
            except DeliveryRejected as exc:
                self._left_out(bulk_id, declaration_id, exc.reason)
                continue
            answers.append(
                BulkAnswer(
                    declaration_id=declaration_id,
                    status=status,
                    decision=decided.decision,
                    reference=decided.reference,
                    reason=decided.reason,
                    detail=decided.detail,
                )
            )
        unasked = len(decisions.keys() - {declaration_id for declaration_id, _ in consignments})
        if unasked:
            log.warning(
                "%s: bulk %s: ignored %d decisions about consignments not in it",
                self._agency.value,
                bulk_id,
                unasked,
            )
        return tuple(answers)

    def _left_out(self, bulk_id: str, declaration_id: str, reason: str) -> None:
        log.warning(
            "%s: bulk %s: consignment %s left out of the answer: %s",
            self._agency.value,
            bulk_id,
            declaration_id,
            reason,
        )

    def _log_outcome(self, bulk: RoutedBulk, answers: tuple[BulkAnswer, ...]) -> None:
        statuses = Counter(answer.status.value for answer in answers)
        log.info(
            "%s: bulk %s: %d of %d consignments answered (%s)",
            self._agency.value,
            bulk.bulk_id,
            len(answers),
            len(bulk.consignments),
            ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())),
        )
