"""The bulk request and answer of an agency back-end: ``POST /v1/bulk-submissions``.

Request body (one per routed bulk event; ``submission_id`` is the bulk event's ``ce_id``, so the
back-end answers a redelivery from its memory, as for single submissions)::

    {"submission_id": "…", "document_type": "hk.ecom.lvc",
     "consignments": [{"declaration_id": "…", "summary": {<TradeSummary>}}, …]}

Its 200 answer: one decision per consignment, in the agency's own words::

    {"submission_id": "…", "decisions": [{"declaration_id": "…", "decision": "CLEARED",
                                          "reference": "…", "reason": null, "detail": {…}}, …]}

`parse_bulk_answer` refuses (`DeliveryRejected`) an answer it cannot read as a whole, or one for another
submission; a single decision it cannot read (no declaration id, no decision word) is left out, so that
one bad entry does not sink the others (`adapters.bulk_responder` decides what a missing one means).
HTTP status handling, retries and the circuit breaker are `adapters.delivery.AgencyClient`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from adapters.errors import DeliveryRejected
from adapters.translate import TradeSummary

__all__ = ["BULK_SUBMISSIONS_PATH", "BulkSubmission", "ConsignmentDecision", "parse_bulk_answer"]

BULK_SUBMISSIONS_PATH = "/v1/bulk-submissions"


@dataclass(frozen=True, slots=True)
class BulkSubmission:
    """The request body of ``POST /v1/bulk-submissions``: ``(declaration id, summary)`` per consignment."""

    submission_id: str
    document_type: str
    consignments: Sequence[tuple[str, TradeSummary]]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "submission_id": self.submission_id,
                "document_type": self.document_type,
                "consignments": [
                    {"declaration_id": declaration_id, "summary": summary}
                    for declaration_id, summary in self.consignments
                ],
            }
        )


@dataclass(frozen=True, slots=True)
class ConsignmentDecision:
    """The back-end's decision about one consignment, in its own words."""

    declaration_id: str
    decision: str
    reference: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def parse_bulk_answer(body: object, submission_id: str) -> dict[str, ConsignmentDecision]:
    """Each readable decision by declaration id (the first, should one be answered twice)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("decisions"), list):
        raise DeliveryRejected("the agency's bulk answer carries no decisions")
    answered_for = body.get("submission_id", submission_id)
    if answered_for != submission_id:
        raise DeliveryRejected(f"the agency answered for submission {answered_for!r}, not {submission_id!r}")
    decisions: dict[str, ConsignmentDecision] = {}
    for item in body["decisions"]:
        decision = _decision(item)
        if decision is not None:
            decisions.setdefault(decision.declaration_id, decision)
    return decisions


def _decision(item: object) -> ConsignmentDecision | None:
    if not isinstance(item, Mapping):
        return None
    declaration_id, decision = item.get("declaration_id"), item.get("decision")
    if not isinstance(declaration_id, str) or not isinstance(decision, str) or not decision:
        return None
    detail = item.get("detail")
    return ConsignmentDecision(
        declaration_id=declaration_id,
        decision=decision,
        reference=_optional_text(item.get("reference")),
        reason=_optional_text(item.get("reason")),
        detail=dict(detail) if isinstance(detail, Mapping) else {},
    )


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None
