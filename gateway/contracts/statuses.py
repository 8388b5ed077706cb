"""Aggregate declaration statuses."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TERMINAL_STATUSES", "Status"]


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"  # validated, signed, stored
    ROUTED = "ROUTED"  # published to every target agency
    UNDER_REVIEW = "UNDER_REVIEW"
    CLEARED = "CLEARED"
    HELD = "HELD"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


TERMINAL_STATUSES: frozenset[Status] = frozenset(
    {Status.CLEARED, Status.HELD, Status.REJECTED, Status.CANCELLED}
)
