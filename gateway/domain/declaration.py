"""The declaration's aggregate status and the transitions it may take.

Standard library only. The response loop (agency answers) and amendments build on this table; an
illegal transition raises `IllegalTransition` and is never applied.
"""

from __future__ import annotations

from gateway.contracts.statuses import TERMINAL_STATUSES, Status

__all__ = ["ALLOWED_TRANSITIONS", "IllegalTransition", "check_transition", "is_terminal"]

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.ACCEPTED: frozenset({Status.ROUTED, Status.CANCELLED}),
    Status.ROUTED: frozenset(
        {Status.UNDER_REVIEW, Status.CLEARED, Status.HELD, Status.REJECTED, Status.CANCELLED}
    ),
    Status.UNDER_REVIEW: frozenset({Status.CLEARED, Status.HELD, Status.REJECTED, Status.CANCELLED}),
    Status.HELD: frozenset(),
    Status.CLEARED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    """A status change the state machine does not allow."""

    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"illegal status transition {current} -> {target}")
        self.current = current
        self.target = target


def check_transition(current: Status, target: Status) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(current, target)


def is_terminal(status: Status) -> bool:
    return status in TERMINAL_STATUSES
