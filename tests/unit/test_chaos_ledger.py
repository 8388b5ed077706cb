"""The chaos ledger's arithmetic: what counts as routed, lost, duplicated and republished, and how a
load's answers and a ledger become a scenario's figures."""

from __future__ import annotations

from gateway.chaos.agency import delivered_once
from gateway.chaos.ledger import RoutedRecord, judge
from gateway.chaos.load import Accepted, LoadResult
from gateway.chaos.report import ScenarioReport
from gateway.chaos.tally import tally

SUBMITTED = "hk.tsw.declaration.submitted.v1"
ROUTES = {"d1": ("customs", "censtatd"), "d2": ("customs", "logistics")}


def record(agency: str, declaration: str, event_id: str, event_type: str = SUBMITTED) -> RoutedRecord:
    return RoutedRecord(agency=agency, declaration_id=declaration, event_id=event_id, event_type=event_type)


def test_each_accepted_declaration_on_every_target_topic_is_routed() -> None:
    records = [record("customs", "d1", "e1"), record("censtatd", "d1", "e2")]
    records += [record("customs", "d2", "e3"), record("logistics", "d2", "e4")]
    figures = judge(ROUTES, records)
    assert (figures.routed, figures.lost, figures.duplicated) == (2, [], [])
    assert (figures.records, figures.delivered, figures.republished, figures.unclaimed) == (4, 4, 0, 0)


def test_missing_from_one_target_agency_is_lost() -> None:
    records = [record("customs", "d1", "e1"), record("censtatd", "d1", "e2"), record("customs", "d2", "e3")]
    figures = judge(ROUTES, records)
    assert figures.routed == 1
    assert figures.lost == ["d2"]


def test_the_same_event_id_twice_is_republished_not_duplicated() -> None:
    records = [record("customs", "d1", "e1"), record("customs", "d1", "e1"), record("censtatd", "d1", "e2")]
    figures = judge({"d1": ROUTES["d1"]}, records)
    assert figures.duplicated == []
    assert (figures.records, figures.delivered, figures.republished) == (3, 2, 1)


def test_one_declaration_under_two_event_ids_at_one_agency_is_duplicated() -> None:
    records = [record("customs", "d1", "e1"), record("customs", "d1", "e9"), record("censtatd", "d1", "e2")]
    figures = judge({"d1": ROUTES["d1"]}, records)
    assert figures.duplicated == ["d1"]
    assert figures.routed == 1  # routed, and also duplicated


def test_different_event_types_for_one_declaration_are_not_duplicates() -> None:
    records = [record("customs", "d1", "e1"), record("customs", "d1", "e5", "hk.tsw.declaration.amended.v1")]
    records.append(record("censtatd", "d1", "e2"))
    assert judge({"d1": ROUTES["d1"]}, records).duplicated == []


def test_declarations_no_202_named_are_unclaimed() -> None:
    records = [record("customs", "d1", "e1"), record("censtatd", "d1", "e2"), record("customs", "x", "e7")]
    assert judge({"d1": ROUTES["d1"]}, records).unclaimed == 1


def load_result(*ids: str, in_doubt: int = 0, times: tuple[float, ...] = ()) -> LoadResult:
    result = LoadResult(submitted=len(ids) + in_doubt, in_doubt=in_doubt, started_at=100.0, ended_at=110.0)
    for index, declaration in enumerate(ids):
        at = times[index] if times else 100.0 + index
        result.accepted[declaration] = Accepted(declaration, ROUTES.get(declaration, ("customs",)), at)
    return result


def test_unclaimed_beyond_the_submissions_in_doubt_count_as_duplicated() -> None:
    records = [record("customs", "d1", "e1"), record("censtatd", "d1", "e2"), record("customs", "x", "e7")]
    explained = ScenarioReport("explained")
    tally(explained, [load_result("d1", in_doubt=1)], judge({"d1": ROUTES["d1"]}, records))
    assert (explained.accepted, explained.routed, explained.lost, explained.duplicated) == (1, 1, 0, 0)
    assert explained.passed
    unexplained = ScenarioReport("unexplained")
    tally(unexplained, [load_result("d1")], judge({"d1": ROUTES["d1"]}, records))
    assert unexplained.duplicated == 1
    assert not unexplained.passed


def test_a_lost_declaration_fails_the_report() -> None:
    report = ScenarioReport("lost")
    tally(report, [load_result("d1", "d2")], judge(ROUTES, [record("customs", "d1", "e1")]))
    assert (report.accepted, report.routed, report.lost) == (2, 0, 2)
    assert not report.passed


def test_a_failed_check_fails_the_report() -> None:
    report = ScenarioReport("checked", accepted=1, routed=1)
    assert report.passed
    report.checks["202s throughout"] = False
    assert not report.passed


def test_longest_accept_gap_counts_the_edges_of_the_load() -> None:
    result = load_result("a", "b", "c", times=(100.5, 101.0, 104.0))
    assert result.longest_accept_gap_s() == 6.0  # 104.0 -> the end at 110.0
    assert result.longest_accept_gap_s(until=105.0) == 3.0  # 101.0 -> 104.0


class FakeBackend:
    """Stands in for the simulator's `GET /v1/received`."""

    def __init__(self, received: dict[str, int]) -> None:
        self.url = "http://backend.test"
        self._received = received

    async def received(self) -> dict[str, int]:
        return dict(self._received)


CHECK = "each customs event id delivered to its back-end once (real adapter)"
CUSTOMS = [record("customs", "d1", "e1"), record("customs", "d1", "e1"), record("customs", "d2", "e3")]


async def test_every_customs_event_id_received_once_passes_despite_republished_records() -> None:
    report = ScenarioReport("delivered")
    await delivered_once(report, FakeBackend({"e1": 1, "e3": 1}), CUSTOMS, timeout_s=0)
    assert report.checks[CHECK]


async def test_an_event_id_delivered_twice_or_never_fails() -> None:
    twice = ScenarioReport("twice")
    await delivered_once(twice, FakeBackend({"e1": 2, "e3": 1}), CUSTOMS, timeout_s=0)
    assert not twice.checks[CHECK]
    never = ScenarioReport("never")
    await delivered_once(never, FakeBackend({"e1": 1}), CUSTOMS, timeout_s=0)
    assert not never.checks[CHECK]
