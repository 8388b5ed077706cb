"""Agency answers on `tsw.responses`: the payload every agency adapter publishes.

Record key = declaration id; CloudEvents binary headers as for routed events, with
`ce_type` = `RESPONSE_EVENT_TYPE`, `ce_subject` = declaration id, `ce_source` = `urn:tsw:adapter:<agency>`
and `ce_id` = `response_event_id(in_reply_to, status)`, so an answer published twice (an adapter
redelivered the routed event) carries the same id and the gateway applies it once.

The value is JSON (`content-type: application/json`)::

    {"declaration_id": "…", "agency": "customs", "in_reply_to": "<ce_id of the routed event>",
     "status": "CLEARED", "decision": "CLEARED", "reference": "HKCED-…", "reason": null,
     "decided_at": "2026-11-26T03:10:00.000000Z", "detail": {…}}

`status` is the agency's state in the gateway's vocabulary (`AgencyStatus`); `decision` is the
agency's own word (customs: CLEARED/HELD_FOR_INSPECTION/…; tid: APPROVED/REFUSED/NOT_REQUIRED;
censtatd: ACKNOWLEDGED; logistics: RELEASED/HELD; any agency: CANCELLATION_ACKNOWLEDGED for a
cancellation event, status CANCELLED), kept for people and audits.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import orjson

__all__ = [
    "FINAL_AGENCY_STATUSES",
    "RESPONSE_EVENT_TYPE",
    "AgencyResponse",
    "AgencyStatus",
    "optional_text",
    "require_text",
    "response_event_id",
]

RESPONSE_EVENT_TYPE = "hk.tsw.agency.response.v1"
_RESPONSE_NAMESPACE = uuid.UUID("6f1f6a52-8d3e-4f55-9a4e-2f0c3c1d7b10")


class AgencyStatus(StrEnum):
    """One agency's state for one declaration, as the gateway tracks it."""

    PENDING = "PENDING"  # not yet published to the agency
    ROUTED = "ROUTED"  # published, no answer yet
    UNDER_REVIEW = "UNDER_REVIEW"  # the agency acknowledged and is deciding
    CLEARED = "CLEARED"  # positive: cleared, approved, acknowledged, released
    HELD = "HELD"  # held for inspection, documents or a licence
    REJECTED = "REJECTED"  # refused
    CANCELLED = "CANCELLED"  # the agency acknowledged the declaration's cancellation


FINAL_AGENCY_STATUSES = frozenset({AgencyStatus.CLEARED, AgencyStatus.HELD, AgencyStatus.REJECTED})


def response_event_id(in_reply_to: str, status: str) -> str:
    """The deterministic `ce_id` of an agency's answer with `status` to the routed event `in_reply_to`."""
    return str(uuid.uuid5(_RESPONSE_NAMESPACE, f"{in_reply_to}:{status}"))


@dataclass(frozen=True, slots=True)
class AgencyResponse:
    declaration_id: str
    agency: str
    in_reply_to: str
    status: AgencyStatus
    decision: str
    decided_at: str
    reference: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> AgencyResponse:
        """Parse a response value; raises `ValueError` naming what is wrong."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"response is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("response must be a JSON object")
        require_text(data, ("declaration_id", "agency", "in_reply_to", "status", "decision", "decided_at"))
        try:
            status = AgencyStatus(data["status"])
        except ValueError as exc:
            raise ValueError(f"unknown agency status {data['status']!r}") from exc
        detail = data.get("detail") or {}
        return cls(
            declaration_id=data["declaration_id"],
            agency=data["agency"],
            in_reply_to=data["in_reply_to"],
            status=status,
            decision=data["decision"],
            decided_at=data["decided_at"],
            reference=optional_text(data, "reference"),
            reason=optional_text(data, "reason"),
            detail=detail if isinstance(detail, dict) else {},
        )


def require_text(data: dict[str, Any], names: tuple[str, ...]) -> None:
    """`ValueError` unless every one of `names` is a string a database can store (no NUL character:
    PostgreSQL text cannot hold one, and the answer would be refused at every redelivery)."""
    missing = [name for name in names if not isinstance(data.get(name), str)]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    _refuse_nul(data, names)


def optional_text(data: dict[str, Any], name: str) -> str | None:
    """`data[name]` when it is a string or absent/null; `ValueError` otherwise (it is stored as text)."""
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null, not {type(value).__name__}")
    _refuse_nul(data, (name,))
    return value


def _refuse_nul(data: dict[str, Any], names: tuple[str, ...]) -> None:
    with_nul = [name for name in names if "\x00" in (data.get(name) or "")]
    if with_nul:
        raise ValueError(f"{', '.join(with_nul)} holds a NUL character")
