"""`tsw audit verify`: recompute the chain, check every checkpoint, and name the first tampered entry.

Walking the chained entries in `seq` order, with `running` the hash of the last good entry:

- **deleted**: `seq` skips a number (the first missing one is reported), or the log ends before the
  last checkpoint's `seq`;
- **edited**: an entry's recomputed hash differs from its stored `hash`; or an entry's hash was
  rewritten to match, which the next entry shows: its `prev_hash` is neither ours nor our
  predecessor's;
- **inserted**: an entry whose `prev_hash` is not `running`, when the next entry links to `running`
  (so this one was slipped in between), or the previous entry, when this one links past it;
- **checkpoint**: a checkpoint whose signature does not verify against the JWKS (every gateway key,
  rotated ones included), whose signed `seq`/`hash` differ from its row, or whose hash is not the
  chain's hash at that `seq` (entries up to it were edited, inserted or deleted and re-chained).

The first problem in chain order is reported (a checkpoint problem at its `seq`). `status.changes`
entries are also checked against the `status_history` rows they cover (`history` problems: a
status change edited, inserted or deleted after it was audited).

Checkpoints kept outside the database (`gateway.audit.kept`) count as checkpoints too; a database
checkpoint that differs from the kept copy at its `seq` is a `checkpoint` problem.

What it cannot see: entries appended or removed after the last checkpoint by someone who also
recomputes the hashes (the chain alone cannot tell; checkpoints every few seconds bound the window),
and, without kept copies, a rewrite that deletes every checkpoint after the entries it removed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from gateway.audit.chain import GENESIS, ChainedEntry, history_digest, link
from gateway.audit.chainer import CHECKPOINT_TYP
from gateway.documents.signing import verify_compact
from gateway.errors import SignatureInvalid
from gateway.store.audit import Checkpoint
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["AuditProblem", "AuditReport", "verify_audit_log"]

ProblemKind = Literal["edited", "inserted", "deleted", "checkpoint", "history"]


@dataclass(frozen=True, slots=True)
class AuditProblem:
    seq: int
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class AuditReport:
    entries: int
    checkpoints: int
    unchained: int
    history_rows: int
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def verify_audit_log(
    uow_factory: UnitOfWorkFactory,
    *,
    jwks: Mapping[str, Any],
    page: int = 5000,
    kept: Sequence[Checkpoint] = (),
) -> AuditReport:
    """Check the whole audit log, and hold it to the checkpoints `kept` outside it; read-only."""
    async with uow_factory() as uow:
        checkpoints = await uow.audit.checkpoints()
        unchained = await uow.audit.unchained_count()
    stored = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
    walk = _Walk([*checkpoints, *kept], jwks=jwks)  # a kept copy stands in for the stored one
    async for entry in _entries(uow_factory, page=page):
        walk.step(entry)
        if walk.problem is not None:
            break
    else:
        walk.finish()
    problem = walk.problem or _differing(stored, kept)
    history_rows = 0
    if problem is None:
        problem, history_rows = await _check_history(uow_factory, walk.status_entries)
    return AuditReport(
        entries=walk.count,
        checkpoints=len(stored.keys() | {checkpoint.seq for checkpoint in kept}),
        unchained=unchained,
        history_rows=history_rows,
        problem=problem,
    )


def _differing(stored: Mapping[int, Checkpoint], kept: Sequence[Checkpoint]) -> AuditProblem | None:
    """The first database checkpoint that is not the kept copy of its `seq` (the chain matched the
    kept one, so it is the database's that was changed)."""
    for copy in sorted(kept, key=lambda checkpoint: checkpoint.seq):
        own = stored.get(copy.seq)
        if own is not None and (own.hash, own.signature) != (copy.hash, copy.signature):
            return AuditProblem(
                copy.seq, "checkpoint", "the database's checkpoint differs from the kept copy"
            )
    return None


async def _entries(uow_factory: UnitOfWorkFactory, *, page: int) -> AsyncIterator[ChainedEntry]:
    after = 0
    while True:
        async with uow_factory() as uow:
            batch = await uow.audit.entries(after_seq=after, limit=page)
        for entry in batch:
            yield entry
        if len(batch) < page:
            return
        after = batch[-1].seq


class _Walk:
    """The chain check, one entry at a time, judging each entry once the next one is known."""

    def __init__(self, checkpoints: list[Checkpoint], *, jwks: Mapping[str, Any]) -> None:
        self._jwks = jwks
        self._checkpoints = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
        self._last_checkpoint = max(self._checkpoints, default=0)
        self._verified_checkpoint = 0
        self._before: ChainedEntry | None = None  # the last entry judged good
        self._pending: ChainedEntry | None = None  # linked by hash, waiting for its successor
        self.running = GENESIS
        self.count = 0
        self.problem: AuditProblem | None = None
        self.status_entries: list[ChainedEntry] = []

    def step(self, entry: ChainedEntry) -> None:
        self.count += 1
        last = self._pending or self._before
        expected = last.seq + 1 if last is not None else 1
        if entry.seq < expected:
            self._fail(entry.seq, "inserted", f"seq {entry.seq} out of order")
            return
        if entry.seq != expected:
            self._judge_pending(None)
            self._fail(expected, "deleted", f"entries {expected}..{entry.seq - 1} are missing")
            return
        if self._pending is not None:
            self._judge_pending(entry)
            if self.problem is not None:
                return
        self._pending = entry

    def finish(self) -> None:
        self._judge_pending(None)
        last = self._before.seq if self._before else 0
        if self.problem is None and self._last_checkpoint > last:
            self._fail(
                last + 1, "deleted", f"the log ends at {last}, before checkpoint {self._last_checkpoint}"
            )

    def _judge_pending(self, following: ChainedEntry | None) -> None:
        entry = self._pending
        if entry is None or self.problem is not None:
            return
        if entry.prev_hash != self.running:
            self._broken_link(entry, following)
            return
        if link(entry.seq, entry.event, prev_hash=entry.prev_hash) != entry.hash:
            self._fail(entry.seq, "edited", "its content does not match its hash")
            return
        if following is not None and following.prev_hash not in (entry.hash, entry.prev_hash):
            if link(following.seq + 1, following.event, prev_hash=following.prev_hash) == following.hash:
                self._fail(entry.seq + 1, "deleted", "removed, and the entries after it renumbered")
                return
            if not self._vouched(entry):  # else the next entry is the stranger: judged in its turn
                self._fail(entry.seq, "edited", "its hash was rewritten: the next entry links to another")
                return
        self._accept(entry)

    def _vouched(self, entry: ChainedEntry) -> bool:
        """Whether a checkpoint signed this very entry's hash."""
        checkpoint = self._checkpoints.get(entry.seq)
        return (
            checkpoint is not None
            and checkpoint.hash == entry.hash
            and _checkpoint_error(checkpoint, jwks=self._jwks) is None
        )

    def _broken_link(self, entry: ChainedEntry, following: ChainedEntry | None) -> None:
        before = self._before
        if before is not None and entry.prev_hash == before.prev_hash:
            self._fail(before.seq, "inserted", "the next entry links past it")
        elif following is None or following.prev_hash == self.running:
            self._fail(entry.seq, "inserted", "it does not link to the entry before it")
        else:
            self._fail(entry.seq, "edited", "its link to the entry before it was changed")

    def _accept(self, entry: ChainedEntry) -> None:
        checkpoint = self._checkpoints.get(entry.seq)
        if checkpoint is not None:
            error = _checkpoint_error(checkpoint, jwks=self._jwks)
            if error is not None:
                self._fail(entry.seq, "checkpoint", error)
                return
            if checkpoint.hash != entry.hash:
                first = self._verified_checkpoint + 1
                detail = f"the chain differs from signed checkpoint {entry.seq}: {first}..{entry.seq} changed"
                self._fail(first, "checkpoint", detail)
                return
            self._verified_checkpoint = entry.seq
        self._before, self._pending, self.running = entry, None, entry.hash
        if entry.event.kind == "status.changes":
            self.status_entries.append(entry)

    def _fail(self, seq: int, kind: ProblemKind, detail: str) -> None:
        if self.problem is None:
            self.problem = AuditProblem(seq=seq, kind=kind, detail=detail)


def _checkpoint_error(checkpoint: Checkpoint, *, jwks: Mapping[str, Any]) -> str | None:
    try:
        header, payload = verify_compact(checkpoint.signature, jwks)
    except SignatureInvalid as exc:
        return f"checkpoint signature does not verify: {exc}"
    signed = orjson.loads(payload)
    if header.get("typ") != CHECKPOINT_TYP or signed.get("seq") != checkpoint.seq:
        return "checkpoint signature is for another checkpoint"
    if signed.get("hash") != checkpoint.hash:
        return "checkpoint hash differs from the one signed"
    return None


async def _check_history(
    uow_factory: UnitOfWorkFactory, entries: list[ChainedEntry]
) -> tuple[AuditProblem | None, int]:
    rows_checked = 0
    for entry in entries:
        data = entry.event.data
        async with uow_factory() as uow:
            rows = await uow.audit.history_between(int(data["first_id"]), int(data["last_id"]))
        rows_checked += len(rows)
        skipped = [range(int(a), int(b) + 1) for a, b in data.get("skipped", [])]
        rows = [row for row in rows if not any(row[0] in gap for gap in skipped)]
        if len(rows) != data["count"] or history_digest(rows) != data["digest"]:
            detail = f"status_history rows {data['first_id']}..{data['last_id']} changed since audited"
            return AuditProblem(seq=entry.seq, kind="history", detail=detail), rows_checked
    return None, rows_checked
