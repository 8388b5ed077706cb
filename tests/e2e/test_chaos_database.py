"""Issue 5: the database unavailable or full under load (503s with Retry-After, nothing half-written, the
same gateway serving again), and PostgreSQL restarted mid-load: the scenarios of `tsw chaos`, run as
the command runs them, each with a broker, a served gateway and (PostgreSQL) a server of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosOptions
from tests.e2e.chaos_runs import assert_nothing_lost_or_duplicated, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.timeout(600)]

_OPTIONS = ChaosOptions(seconds=15, rate=20, concurrency=4, database_down_s=6, drain_timeout_s=120)


def _assert_survived(report: ScenarioReport) -> None:
    assert_nothing_lost_or_duplicated(report)  # the scenario's own checks among them (module docstring
    # of gateway.chaos.database): 503s felt, Retry-After on each, 202s again from the same processes,
    # nothing half-written, the audit chain verifying, exactly the 202'd declarations stored
    assert report.refused.get(503, 0) > 0
    assert set(report.refused) == {503}


def test_sqlite_locked_by_another_process(tmp_path: Path) -> None:
    report = run_chaos("database-unavailable", tmp_path, _OPTIONS)
    _assert_survived(report)
    assert any("BEGIN EXCLUSIVE" in fault for fault in report.faults)


def test_sqlite_disk_full(tmp_path: Path) -> None:
    report = run_chaos("database-full", tmp_path, _OPTIONS)
    _assert_survived(report)
    log = (tmp_path / "database-full" / "gateway" / "gateway.log").read_text()
    assert "database or disk is full" in log  # SQLITE_FULL itself, from a real ENOSPC


def test_postgres_restarted_mid_load(tmp_path: Path) -> None:
    report = run_chaos("postgres-restart", tmp_path, _OPTIONS)
    _assert_survived(report)
    assert [fault.split("`")[1] for fault in report.faults] == [
        "pg_ctl stop -m fast",
        "pg_ctl stop -m immediate",
    ]
