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

A bulk answer (`apply_bulk`) decides many fast-path consignments of one lodgement at once: one
transaction, the same rules per consignment, and the consignments taking the same path moved together.
Answers about consignments outside the lodgement, or already final, are counted and skipped.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.contracts.bulk import BulkAnswer, BulkResponse
from gateway.contracts.responses import AgencyResponse
from gateway.contracts.statuses import Status
from gateway.domain.declaration import IllegalTransition, is_terminal, statuses_after_answer
from gateway.store.repository import RoutedEventRef
from gateway.store.uow import UnitOfWork, UnitOfWorkFactory

__all__ = ["AnswerService"]

log = logging.getLogger(__name__)


class AnswerService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def apply(self, event_id: str, answer: AgencyResponse) -> str:
        """Apply one answer; returns what happened ("applied: …", "duplicate", "refused: …")."""
        [outcome] = await self.apply_many([(event_id, answer)])
        return outcome

    async def apply_many(self, answers: Sequence[tuple[str, AgencyResponse]]) -> list[str]:
        """Apply several answers in order in ONE transaction (one write lock, one commit); each is
        judged exactly as `apply` judges it, seeing the ones before it. An outcome for each.

        Set-based: the answers go in rounds in which each declaration appears at most once (so a later
        answer about a declaration sees the earlier one), and each round reads and writes all its
        declarations with a handful of statements, whatever its size.
        """
        now = datetime.now(UTC)
        outcomes: dict[int, str] = {}
        async with self._uow_factory() as uow:
            for round_ in _rounds(answers):
                outcomes.update(await self._apply_round(uow, round_, at=now))
            await uow.answers.set_outcomes(
                [
                    (answers[index][0], outcome[:200])
                    for index, outcome in outcomes.items()
                    if outcome != _DUPLICATE
                ]
            )
            await uow.commit()
        ordered = [outcomes[index] for index in range(len(answers))]
        for (event_id, answer), outcome in zip(answers, ordered, strict=True):
            if outcome.startswith("refused"):
                log.warning(
                    "answer %s from %s for %s %s", event_id, answer.agency, answer.declaration_id, outcome
                )
        return ordered

    async def _apply_round(
        self, uow: UnitOfWork, round_: list[tuple[int, str, AgencyResponse]], *, at: datetime
    ) -> dict[int, str]:
        claimed = await uow.answers.claim_many(
            [(event_id, answer.declaration_id) for _, event_id, answer in round_], at=at, outcome="applying"
        )
        outcomes: dict[int, str] = {}
        live: list[tuple[int, AgencyResponse]] = []
        for index, event_id, answer in round_:
            if event_id in claimed:
                claimed.discard(event_id)  # the same event twice in one round: the second is a duplicate
                live.append((index, answer))
            else:
                outcomes[index] = _DUPLICATE
        if not live:
            return outcomes
        states = await uow.answers.states_many([answer.declaration_id for _, answer in live])
        events = await uow.answers.routed_events_many([answer.in_reply_to for _, answer in live])
        valid: list[tuple[int, AgencyResponse, RoutedEventRef]] = []
        for index, answer in live:
            refusal = _refusal(answer, states.get(answer.declaration_id), events.get(answer.in_reply_to))
            if refusal is None:
                valid.append((index, answer, events[answer.in_reply_to]))
            else:
                outcomes[index] = refusal
        await uow.answers.confirm_published_many([answer.in_reply_to for _, answer, _ in valid], at=at)
        deciding = await self._record_valid(uow, valid, states=states, outcomes=outcomes, at=at)
        await self._move(uow, deciding, states=states, outcomes=outcomes, at=at)
        return outcomes

    @staticmethod
    async def _record_valid(
        uow: UnitOfWork,
        valid: list[tuple[int, AgencyResponse, RoutedEventRef]],
        *,
        states: dict[str, tuple[str, int]],
        outcomes: dict[int, str],
        at: datetime,
    ) -> list[tuple[int, AgencyResponse]]:
        """Record the agency states that count; return the answers that may move their declaration.
        A cancellation's acknowledgement is recorded only; answers to a final declaration or a
        replaced version are refused."""
        recorded: list[AgencyResponse] = []
        deciding: list[tuple[int, AgencyResponse]] = []
        for index, answer, event in valid:
            current, version = states[answer.declaration_id]
            if event.action == "cancelled":
                recorded.append(answer)
                outcomes[index] = (
                    f"applied: {answer.agency} acknowledged the cancellation ({answer.decision})"
                )
            elif is_terminal(Status(current)):
                outcomes[index] = f"refused: declaration is {current}"
            elif event.version != version:
                outcomes[index] = f"refused: answers version {event.version}, replaced by version {version}"
            else:
                recorded.append(answer)
                deciding.append((index, answer))
        await uow.answers.record_many(
            [_state_row(a, agency=a.agency, at=at, event_id=a.in_reply_to) for a in recorded]
        )
        return deciding

    @staticmethod
    async def _move(
        uow: UnitOfWork,
        deciding: list[tuple[int, AgencyResponse]],
        *,
        states: dict[str, tuple[str, int]],
        outcomes: dict[int, str],
        at: datetime,
    ) -> None:
        """Move each deciding answer's declaration along the state machine; the same paths together."""
        if not deciding:
            return
        ids = [answer.declaration_id for _, answer in deciding]
        targets = await uow.answers.targets_many(ids)
        answers = await uow.answers.answers_many(ids)
        moves: dict[tuple[tuple[Status, ...], str], list[str]] = defaultdict(list)
        for index, answer in deciding:
            current = states[answer.declaration_id][0]
            agencies, all_published = targets.get(answer.declaration_id, ([], False))
            try:
                path = statuses_after_answer(
                    Status(current),
                    targets=agencies,
                    answers=answers.get(answer.declaration_id, {}),
                    all_published=all_published,
                )
            except IllegalTransition as exc:
                outcomes[index] = f"refused: {exc}"
                continue
            if path:
                moves[(tuple(path), _detail(answer.agency, answer.decision, answer.reason))].append(
                    answer.declaration_id
                )
            outcomes[index] = "applied: " + (
                " -> ".join([current, *path]) if path else f"{current} (unchanged)"
            )
        for (steps, detail), moved in moves.items():
            await uow.answers.move_many(moved, steps, at=at, detail=detail)

    async def apply_bulk(self, event_id: str, response: BulkResponse) -> str:
        """Apply one bulk answer; returns what happened ("applied: …", "duplicate", "refused: …")."""
        now = datetime.now(UTC)
        async with self._uow_factory() as uow:
            if not await uow.answers.claim_many([(event_id, response.bulk_id)], at=now, outcome="applying"):
                return _DUPLICATE
            outcome = await self._apply_bulk(uow, response, at=now)
            await uow.answers.set_outcomes([(event_id, outcome[:200])])
            await uow.commit()
        if outcome.startswith("refused") or "skipped" in outcome:
            log.warning(
                "bulk answer %s from %s for lodgement %s %s",
                event_id,
                response.agency,
                response.bulk_id,
                outcome,
            )
        return outcome

    async def _apply_bulk(self, uow: UnitOfWork, response: BulkResponse, *, at: datetime) -> str:
        event = (await uow.answers.routed_events_many([response.in_reply_to])).get(response.in_reply_to)
        if event is None or event.bulk_id != response.bulk_id or event.agency != response.agency:
            return (
                f"refused: {response.in_reply_to} is not a bulk event of this lodgement for {response.agency}"
            )
        # The declarations before the outbox row, as everywhere (no deadlock with the relay).
        current = await uow.answers.bulk_states(
            response.bulk_id, [a.declaration_id for a in response.answers]
        )
        await uow.answers.confirm_published_many([response.in_reply_to], at=at)
        targets, all_published = await uow.answers.bulk_targets(response.bulk_id)
        live = [
            a
            for a in response.answers
            if a.declaration_id in current and not is_terminal(Status(current[a.declaration_id]))
        ]
        await uow.answers.record_many(
            [_state_row(a, agency=response.agency, at=at, event_id=response.in_reply_to) for a in live]
        )
        answers = await uow.answers.answers_many([a.declaration_id for a in live])
        moves = _plan_moves(
            live,
            agency=response.agency,
            current=current,
            answers=answers,
            targets=targets,
            all_published=all_published,
        )
        for (steps, detail), ids in moves.items():
            await uow.answers.move_many(ids, steps, at=at, detail=detail)
        skipped = len(response.answers) - len(live)
        return f"applied: {len(live)} answers, {sum(map(len, moves.values()))} moved" + (
            f", {skipped} skipped (unknown or final)" if skipped else ""
        )


_DUPLICATE = "duplicate"


def _rounds(answers: Sequence[tuple[str, AgencyResponse]]) -> list[list[tuple[int, str, AgencyResponse]]]:
    """Split answers, in order, into rounds where each declaration appears at most once: an answer
    goes to the round after the last one holding an earlier answer about its declaration."""
    rounds: list[list[tuple[int, str, AgencyResponse]]] = []
    next_round: dict[str, int] = {}
    for index, (event_id, answer) in enumerate(answers):
        number = next_round.get(answer.declaration_id, 0)
        if number == len(rounds):
            rounds.append([])
        rounds[number].append((index, event_id, answer))
        next_round[answer.declaration_id] = number + 1
    return rounds


def _refusal(
    answer: AgencyResponse, state: tuple[str, int] | None, event: RoutedEventRef | None
) -> str | None:
    """Why an answer cannot be applied at all (unknown declaration, an event it was not about)."""
    if state is None:
        return "refused: unknown declaration"
    if event is None or event.declaration_id != answer.declaration_id:
        return f"refused: {answer.in_reply_to} is not an event routed for this declaration"
    if event.agency != answer.agency:
        return f"refused: event {answer.in_reply_to} was routed to {event.agency}, not {answer.agency}"
    return None


def _plan_moves(
    live: list[BulkAnswer],
    *,
    agency: str,
    current: dict[str, str],
    answers: dict[str, dict[str, str]],
    targets: list[str],
    all_published: bool,
) -> dict[tuple[tuple[Status, ...], str], list[str]]:
    """Group the consignments of a bulk answer by the status path they take (and its history detail)."""
    moves: dict[tuple[tuple[Status, ...], str], list[str]] = defaultdict(list)
    for item in live:
        try:
            path = statuses_after_answer(
                Status(current[item.declaration_id]),
                targets=targets,
                answers=answers.get(item.declaration_id, {}),
                all_published=all_published,
            )
        except IllegalTransition as exc:
            log.warning("bulk answer for %s refused: %s", item.declaration_id, exc)
            continue
        if path:
            moves[(tuple(path), _detail(agency, item.decision, item.reason))].append(item.declaration_id)
    return moves


def _detail(agency: str, decision: str, reason: str | None) -> str:
    return f"{agency}: {decision}" + (f" ({reason})" if reason else "")


def _state_row(
    answer: AgencyResponse | BulkAnswer, *, agency: str, at: datetime, event_id: str
) -> dict[str, object]:
    return {
        "declaration_id": answer.declaration_id,
        "agency": agency,
        "status": answer.status,
        "decision": answer.decision,
        "reference": answer.reference,
        "reason": answer.reason,
        "at": at,
        "response_event_id": event_id,
    }
