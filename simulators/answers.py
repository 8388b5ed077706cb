"""An agency's answer to one submission, and the answer every agency gives to a cancellation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CANCELLATION_ACKNOWLEDGED", "Answer"]

CANCELLATION_ACKNOWLEDGED = "CANCELLATION_ACKNOWLEDGED"


@dataclass(frozen=True, slots=True)
class Answer:
    """`decision` is the agency's own word (customs: CLEARED, HELD_FOR_INSPECTION, ...)."""

    decision: str
    reference: str | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def body(self, submission_id: str) -> dict[str, Any]:
        """The `200` body of `POST /v1/submissions`."""
        return {
            "submission_id": submission_id,
            "decision": self.decision,
            "reference": self.reference,
            "reason": self.reason,
            "detail": dict(self.detail),
        }

    def entry(self, declaration_id: str) -> dict[str, Any]:
        """One consignment's entry in the `decisions` of `POST /v1/bulk-submissions`."""
        return {
            "declaration_id": declaration_id,
            "decision": self.decision,
            "reference": self.reference,
            "reason": self.reason,
            "detail": dict(self.detail),
        }
