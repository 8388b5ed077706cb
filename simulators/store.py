"""The simulator's memory of submissions: each answered once, every delivery counted.

The first delivery of a `submission_id` is decided and its answer kept (serialized once); every later
delivery of the same id returns that answer unchanged, whatever its body, and only adds to the count.
Bulk submissions are kept apart from single ones, the same way (`deliver_bulk`).
Deciding and recording happen with no `await` in between, so concurrent deliveries of one id cannot
both decide. Everything lives in memory for the life of the process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from simulators.answers import Answer
from simulators.contract import BulkSubmissionRequest, SubmissionRequest

__all__ = ["BulkDelivery", "Delivery", "SubmissionStore"]


@dataclass(slots=True)
class Delivery:
    """One submission as the agency saw it: its declaration, how often it came, the answer given."""

    declaration_id: str
    deliveries: int
    answer_json: bytes

    def view(self, submission_id: str) -> dict[str, Any]:
        """The body of `GET /v1/submissions/{submission_id}`."""
        return {
            "submission_id": submission_id,
            "declaration_id": self.declaration_id,
            "deliveries": self.deliveries,
            "answer": orjson.Fragment(self.answer_json),
        }


@dataclass(slots=True)
class BulkDelivery:
    """One bulk submission as the agency saw it: its size, how often it came, the answer given."""

    consignments: int
    deliveries: int
    answer_json: bytes

    def view(self, submission_id: str) -> dict[str, Any]:
        """The body of `GET /v1/bulk-submissions/{submission_id}`."""
        return {
            "submission_id": submission_id,
            "consignments": self.consignments,
            "deliveries": self.deliveries,
            "answer": orjson.Fragment(self.answer_json),
        }


class SubmissionStore:
    def __init__(self) -> None:
        self._seen: dict[str, Delivery] = {}
        self._total = 0
        self._bulk_seen: dict[str, BulkDelivery] = {}
        self._bulk_total = 0

    def deliver(self, request: SubmissionRequest, decide: Callable[[], Answer]) -> bytes:
        """Count one delivery of `request`; answer the stored answer, deciding it on the first one."""
        seen = self._seen.get(request.submission_id)
        if seen is None:
            answer_json = orjson.dumps(decide().body(request.submission_id))
            seen = self._seen[request.submission_id] = Delivery(request.declaration_id, 0, answer_json)
        seen.deliveries += 1
        self._total += 1
        return seen.answer_json

    def get(self, submission_id: str) -> Delivery | None:
        return self._seen.get(submission_id)

    def received(self) -> dict[str, Any]:
        """The body of `GET /v1/received`."""
        return {
            "submissions": {submission_id: seen.deliveries for submission_id, seen in self._seen.items()},
            "distinct": len(self._seen),
            "total_deliveries": self._total,
        }

    def deliver_bulk(self, request: BulkSubmissionRequest, decide: Callable[[], dict[str, Any]]) -> bytes:
        """Count one delivery of a bulk `request`; answer the stored answer, deciding it the first time."""
        seen = self._bulk_seen.get(request.submission_id)
        if seen is None:
            answer_json = orjson.dumps(decide())
            seen = self._bulk_seen[request.submission_id] = BulkDelivery(
                len(request.consignments), 0, answer_json
            )
        seen.deliveries += 1
        self._bulk_total += 1
        return seen.answer_json

    def get_bulk(self, submission_id: str) -> BulkDelivery | None:
        return self._bulk_seen.get(submission_id)

    def received_bulk(self) -> dict[str, Any]:
        """The body of `GET /v1/received/bulk`."""
        return {
            "submissions": {
                submission_id: seen.deliveries for submission_id, seen in self._bulk_seen.items()
            },
            "distinct": len(self._bulk_seen),
            "total_deliveries": self._bulk_total,
            "consignments": sum(seen.consignments for seen in self._bulk_seen.values()),
        }
