"""The declaration's aggregate status and the transitions it may take.

Standard library only. The response loop (agency answers) and amendments build on this table; an
illegal transition raises `IllegalTransition` and is never applied.

A trader may amend or cancel a declaration while the agencies are still deciding (`ACCEPTED`,
`ROUTED`, `UNDER_REVIEW`); once it has a final status (the terminal four) it may do neither. An
amendment keeps the aggregate status and asks every target agency to decide again on the new version;
a cancellation moves the declaration to `CANCELLED` at once and tells every target agency.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from gateway.contracts.statuses import TERMINAL_STATUSES, Status

__all__ = [
    "ALLOWED_TRANSITIONS",
    "CHANGEABLE_STATUSES",
    "IllegalTransition",
    "NotChangeable",
    "check_changeable",
    "check_transition",
    "is_terminal",
    "statuses_after_answer",
]

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


#: The statuses in which a trader may still amend or cancel a declaration.
CHANGEABLE_STATUSES: frozenset[Status] = frozenset({Status.ACCEPTED, Status.ROUTED, Status.UNDER_REVIEW})


class NotChangeable(ValueError):
    """An amendment or cancellation of a declaration that already has a final status."""

    def __init__(self, current: Status, action: str) -> None:
        super().__init__(f"a declaration that is {current} can no longer be {action}")
        self.current = current
        self.action = action


def check_changeable(current: Status, action: str) -> None:
    """Raise `NotChangeable` unless a declaration in `current` may still be amended or cancelled."""
    if current not in CHANGEABLE_STATUSES:
        raise NotChangeable(current, action)


def check_transition(current: Status, target: Status) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(current, target)


def is_terminal(status: Status) -> bool:
    return status in TERMINAL_STATUSES


def statuses_after_answer(
    current: Status,
    *,
    targets: Collection[str],
    answers: Mapping[str, str],
    all_published: bool,
) -> list[Status]:
    """The aggregate statuses a declaration moves through after an agency answered, in order.

    `answers` maps each agency that has answered to its state (UNDER_REVIEW, CLEARED, HELD or
    REJECTED). The first answer moves a ROUTED declaration to UNDER_REVIEW; then any REJECTED makes it
    REJECTED, any HELD makes it HELD, and CLEARED from every target agency makes it CLEARED. An answer
    can overtake the relay's own bookkeeping: a declaration still ACCEPTED whose events are all
    published goes through ROUTED first. Terminal declarations do not move. Every step is checked
    against `ALLOWED_TRANSITIONS`.
    """
    if is_terminal(current) or (current is Status.ACCEPTED and not all_published):
        return []
    path: list[Status] = []
    answered = {agency: state for agency, state in answers.items() if agency in targets}
    if current is Status.ACCEPTED:
        path.append(Status.ROUTED)
    if answered and (path or current is Status.ROUTED):
        path.append(Status.UNDER_REVIEW)
    final = _final(targets, answered)
    if final is not None:
        path.append(final)
    previous = current
    for step in path:
        check_transition(previous, step)
        previous = step
    return path


def _final(targets: Collection[str], answered: Mapping[str, str]) -> Status | None:
    states = set(answered.values())
    if Status.REJECTED.value in states:
        return Status.REJECTED
    if Status.HELD.value in states:
        return Status.HELD
    if targets and all(answered.get(agency) == Status.CLEARED.value for agency in targets):
        return Status.CLEARED
    return None
