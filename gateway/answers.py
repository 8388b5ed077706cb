"""Applying an agency's answer: the agency's state, then the declaration's aggregate status.

One transaction per answer: claim its event id in the inbox (a redelivered answer changes nothing),
record the agency's state, and move the declaration along the state machine
(`gateway.domain.declaration.statuses_after_answer`), with a history entry for every step. An answer
can overtake the relay's own record that it published the event answered: it then confirms that
publication itself, so that the declaration moves through ROUTED. Answers
that the state machine refuses (for a terminal declaration, from an agency the declaration was not
routed to, for an unknown declaration) are recorded in the inbox with the reason and logged; they
are never applied.
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
        current = await uow.answers.status(answer.declaration_id)
        if current is None:
            return "refused: unknown declaration"
        await uow.answers.confirm_published(answer.in_reply_to, at=at)
        targets, all_published = await uow.answers.targets(answer.declaration_id)
        if answer.agency not in targets:
            return f"refused: {answer.agency} is not a target of this declaration"
        if is_terminal(Status(current)):
            return f"refused: declaration is {current}"
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
