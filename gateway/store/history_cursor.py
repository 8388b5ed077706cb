"""Where a poller of `status_history` stands: the highest id it has handled, and the ids below it
that it has not seen yet.

PostgreSQL hands out ids at insert, but transactions commit in their own order: a reader can see id
12 before id 11 commits. A poller that only read past its highest id would skip 11 for good. So the
cursor notes every id it stepped over (a gap) and the next read asks for those again, alongside the
new ones. A gap closes when its row turns up, or after `patience_s`: ids of rolled-back inserts never
appear. SQLite has one writer at a time and commits its ids in order, so a cursor made with
`patience_s=0` notes no gaps and reads only past its highest id.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

__all__ = ["HistoryCursor"]


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_HasId)


class HistoryCursor:
    """The ids a poller has handled: every id up to `high`, except the `gaps()`."""

    def __init__(
        self,
        high: int,
        *,
        missing: Iterable[int] = (),
        patience_s: float,
        max_gaps: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.high = high
        self._patience_s = patience_s
        self._max_gaps = max_gaps
        self._clock = clock
        self._gaps: dict[int, float] = {}  # id -> when to give up on it
        self._note_gaps(i for i in missing if i <= high)

    @classmethod
    def at_latest(
        cls,
        high: int,
        *,
        present: Iterable[int],
        lookback: int,
        patience_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> HistoryCursor:
        """A cursor at the latest committed id `high`, waiting for the ids among the last `lookback`
        up to it that are not `present` (committed): their transactions may still be open."""
        missing = set(range(max(1, high - lookback + 1), high + 1)).difference(present)
        return cls(high, missing=missing, patience_s=patience_s, clock=clock)

    def gaps(self) -> list[int]:
        """The ids below `high` still awaited, lowest first (those past their patience dropped)."""
        now = self._clock()
        expired = [i for i, until in self._gaps.items() if until <= now]
        for i in expired:
            del self._gaps[i]
        return sorted(self._gaps)

    @property
    def low(self) -> int:
        """Every id up to here is handled or given up: where a restarted poller would resume."""
        return min(self._gaps) - 1 if self._gaps else self.high

    def take(self, rows: Sequence[Row]) -> list[Row]:
        """The rows not handled before, from a read (in id order) of the gaps and the ids past
        `high`; moves the cursor past them."""
        fresh: list[Row] = []
        for row in rows:
            if row.id > self.high:
                self._note_gaps(range(max(self.high + 1, row.id - self._max_gaps), row.id))
                self.high = row.id
            elif self._gaps.pop(row.id, None) is None:
                continue
            fresh.append(row)
        return fresh

    def _note_gaps(self, ids: Iterable[int]) -> None:
        if self._patience_s <= 0:
            return
        until = self._clock() + self._patience_s
        self._gaps.update(dict.fromkeys(ids, until))
        if len(self._gaps) > self._max_gaps:  # keep the newest: the likeliest still to commit
            for i in heapq.nsmallest(len(self._gaps) - self._max_gaps, self._gaps):
                del self._gaps[i]
