"""The database fault scenarios, run exactly as `tsw chaos` runs them (`gateway.chaos.runner`): a broker,
a served gateway and, for PostgreSQL, a server of their own, under a paced load."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.chaos.registry import find_scenarios
from gateway.chaos.report import ScenarioReport
from gateway.chaos.runner import run_scenario
from gateway.chaos.scenario import ChaosOptions
from gateway.config import Settings

pytestmark = pytest.mark.slow

_OPTIONS = ChaosOptions(seconds=15, rate=20, concurrency=4, database_down_s=6, drain_timeout_s=120)


def _run(name: str, work_dir: Path) -> ScenarioReport:
    [scenario] = find_scenarios([name])
    report = run_scenario(scenario, settings=Settings(), options=_OPTIONS, progress=print, work_dir=work_dir)
    print(report)
    return report


def _assert_survived(report: ScenarioReport) -> None:
    failed = [check for check, held in report.checks.items() if not held]
    assert not failed, (failed, report.notes)
    assert report.refused.get(503, 0) > 0  # the fault was felt...
    assert set(report.refused) == {503}  # ...and only as 503s (with Retry-After: a check above)
    assert report.accepted > 0
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.routed == report.accepted
    assert report.passed


@pytest.mark.timeout(600)
def test_sqlite_locked_by_another_process(tmp_path: Path) -> None:
    report = _run("database-unavailable", tmp_path)
    _assert_survived(report)
    assert any("BEGIN EXCLUSIVE" in fault for fault in report.faults)


@pytest.mark.timeout(600)
def test_sqlite_disk_full(tmp_path: Path) -> None:
    report = _run("database-full", tmp_path)
    _assert_survived(report)
    log = (tmp_path / "database-full" / "gateway" / "gateway.log").read_text()
    assert "database or disk is full" in log  # SQLITE_FULL itself, from a real ENOSPC


@pytest.mark.timeout(600)
def test_postgres_restarted_mid_load(tmp_path: Path) -> None:
    report = _run("postgres-restart", tmp_path)
    _assert_survived(report)
    assert [fault.split("`")[1] for fault in report.faults] == [
        "pg_ctl stop -m fast",
        "pg_ctl stop -m immediate",
    ]
