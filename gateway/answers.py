"""Applying an agency's answer: the agency's state, then the declaration's aggregate status.

One transaction per answer: claim its event id in the inbox (a redelivered answer changes nothing),
record the agency's state, and move the declaration along the state machine
(`gateway.domain.declaration.statuses_after_answer`), with a history entry for every step. An answer
can overtake the relay's own record that it published the event answered: it then confirms that
publication itself, so that the declaration moves through ROUTED.

An answer to a cancellation event only records the agency's acknowledgement (the declaration is
already CANCELLED). An answer to a version that an amendment has since replaced is refused: every
agency decides again on the new version. Answers that the state machine refuses (for a terminal
declaration, to an unknown event, from an agency the event was not routed to, for a replaced
version) are recorded in the inbox with the reason and logged; they are never applied.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from gateway.contracts.responses import AgencyResponse
from gateway.contracts.statuses import Status
from gateway.domain.declaration import IllegalTransition, is_terminal, statuses_after_answer
from gateway.store.uow import UnitOfWork, UnitOfWorkFactory

__all__ = ["AnswerService"]

log = logging.getLogger(__name__)


class AnswerService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def apply(self, event_id: str, answer: AgencyResponse) -> str:
        """Apply one answer; returns what happened ("applied: …", "duplicate", "refused: …")."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            claimed = await uow.answers.claim(
                event_id, declaration_id=answer.declaration_id, at=now, outcome="applying"
            )
            if not claimed:
                return "duplicate"
            outcome = await self._apply(uow, answer, at=now)
            await uow.answers.set_outcome(event_id, outcome[:200])
            await uow.commit()
        if outcome.startswith("refused"):
            log.warning(
                "answer %s from %s for %s %s", event_id, answer.agency, answer.declaration_id, outcome
            )
        return outcome

    async def _apply(self, uow: UnitOfWork, answer: AgencyResponse, *, at: datetime) -> str:
        state = await uow.answers.state(answer.declaration_id)
        if state is None:
            return "refused: unknown declaration"
        current, version = state
        event = await uow.answers.routed_event(answer.in_reply_to)
        if event is None or event.declaration_id != answer.declaration_id:
            return f"refused: {answer.in_reply_to} is not an event routed for this declaration"
        if event.agency != answer.agency:
            return f"refused: event {answer.in_reply_to} was routed to {event.agency}, not {answer.agency}"
        await uow.answers.confirm_published(answer.in_reply_to, at=at)
        if event.action == "cancelled":
            await self._record(uow, answer, at=at)
            return f"applied: {answer.agency} acknowledged the cancellation ({answer.decision})"
        if is_terminal(Status(current)):
            return f"refused: declaration is {current}"
        if event.version != version:
            return f"refused: answers version {event.version}, replaced by version {version}"
        targets, all_published = await uow.answers.targets(answer.declaration_id)
        await self._record(uow, answer, at=at)
        answers = await uow.answers.answers(answer.declaration_id)
        try:
            path = statuses_after_answer(
                Status(current), targets=targets, answers=answers, all_published=all_published
            )
        except IllegalTransition as exc:
            return f"refused: {exc}"
        if path:
            detail = f"{answer.agency}: {answer.decision}" + (f" ({answer.reason})" if answer.reason else "")
            await uow.answers.move(answer.declaration_id, path, at=at, detail=detail)
        return "applied: " + (" -> ".join([current, *path]) if path else f"{current} (unchanged)")

    @staticmethod
    async def _record(uow: UnitOfWork, answer: AgencyResponse, *, at: datetime) -> None:
        await uow.answers.record(
            declaration_id=answer.declaration_id,
            agency=answer.agency,
            status=answer.status,
            decision=answer.decision,
            reference=answer.reference,
            reason=answer.reason,
            at=at,
            response_event_id=answer.in_reply_to,
        )
