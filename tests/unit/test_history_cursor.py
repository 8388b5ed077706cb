"""`HistoryCursor`: every committed id taken once, whatever order the ids commit in."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from gateway.store.history_cursor import HistoryCursor


@dataclass(frozen=True)
class Row:
    id: int


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def read(committed: set[int], cursor: HistoryCursor, limit: int) -> list[Row]:
    """What `read_status_changes` returns: the committed ids past `high` or among the gaps, in order."""
    gaps = set(cursor.gaps())
    return [Row(i) for i in sorted(committed) if i > cursor.high or i in gaps][:limit]


def test_an_id_committed_late_is_taken_when_it_turns_up() -> None:
    cursor = HistoryCursor(10, patience_s=60)
    assert [r.id for r in cursor.take([Row(11), Row(14)])] == [11, 14]
    assert (cursor.high, cursor.gaps(), cursor.low) == (14, [12, 13], 11)
    assert [r.id for r in cursor.take([Row(13), Row(14), Row(15)])] == [13, 15]
    assert (cursor.gaps(), cursor.low) == ([12], 11)
    assert [r.id for r in cursor.take([Row(12)])] == [12]
    assert (cursor.gaps(), cursor.low) == ([], 15)


def test_a_gap_is_given_up_after_its_patience() -> None:
    clock = Clock()
    cursor = HistoryCursor(0, patience_s=60, clock=clock)
    cursor.take([Row(2)])
    clock.now = 59.9
    assert cursor.gaps() == [1]
    clock.now = 60.0
    assert (cursor.gaps(), cursor.low) == ([], 2)
    assert cursor.take([Row(1)]) == []  # too late: given up, not taken after all


def test_without_patience_no_gap_is_noted() -> None:
    cursor = HistoryCursor(0, patience_s=0)
    cursor.take([Row(5)])
    assert (cursor.gaps(), cursor.low) == ([], 5)


def test_gaps_are_bounded_keeping_the_newest() -> None:
    cursor = HistoryCursor(0, patience_s=60, max_gaps=100)
    cursor.take([Row(10**9)])
    assert cursor.gaps() == list(range(10**9 - 100, 10**9))
    cursor.take([Row(10**9 + 50)])
    assert cursor.gaps() == list(range(10**9 - 51, 10**9)) + list(range(10**9 + 1, 10**9 + 50))


def test_a_cursor_at_the_latest_awaits_the_ids_not_yet_committed() -> None:
    cursor = HistoryCursor.at_latest(100, present=[96, 98, 100, 101], lookback=6, patience_s=60)
    assert (cursor.high, cursor.gaps()) == (100, [95, 97, 99])
    assert HistoryCursor.at_latest(3, present=[2], lookback=10, patience_s=60).gaps() == [1, 3]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[int], set[int], list[int]]:
    """Ids 1..n committed in a drawn order (some rolled back), and after how many commits each read
    happens."""
    n = draw(st.integers(1, 60))
    order = draw(st.permutations(range(1, n + 1)))
    rolled_back = draw(st.sets(st.sampled_from(order), max_size=n // 3))
    reads = draw(st.lists(st.integers(0, n), max_size=20))
    return order, rolled_back, sorted(reads)


@given(histories(), st.integers(1, 10))
def test_every_committed_id_is_taken_once(history: tuple[list[int], set[int], list[int]], limit: int) -> None:
    order, rolled_back, reads = history
    cursor = HistoryCursor(0, patience_s=60)
    committed: set[int] = set()
    taken: list[int] = []
    for step in [*reads, len(order)]:
        committed.update(i for i in order[:step] if i not in rolled_back)
        taken += [row.id for row in cursor.take(read(committed, cursor, limit))]
    while rows := cursor.take(read(committed, cursor, limit)):  # catch up, `limit` at a time
        taken += [row.id for row in rows]
    assert sorted(taken) == sorted(committed)
    assert cursor.gaps() == sorted(rolled_back.intersection(range(1, cursor.high)))
    assert cursor.low == min(cursor.gaps(), default=cursor.high + 1) - 1
