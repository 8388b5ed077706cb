"""Running a `tsw chaos` scenario from a test: the same registry, runner and options the command uses,
with the progress lines printed (pytest shows them when a test fails) and the work dir kept in the
test's tmp_path (brokers' and gateways' logs)."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.chaos.registry import find_scenarios
from gateway.chaos.report import ScenarioReport
from gateway.chaos.runner import run_scenario
from gateway.chaos.scenario import ChaosOptions
from gateway.config import Settings


def run_chaos(name: str, tmp_path: Path, options: ChaosOptions) -> ScenarioReport:
    (scenario,) = find_scenarios([name])
    started = time.monotonic()

    def progress(text: str) -> None:
        print(f"{time.monotonic() - started:7.1f} s  {text}")

    report = run_scenario(
        scenario, settings=Settings(), options=options, progress=progress, work_dir=tmp_path
    )
    print(report)
    return report


def assert_nothing_lost_or_duplicated(report: ScenarioReport) -> None:
    """What every fault scenario must show, each figure checked on its own for a clear failure."""
    assert report.accepted > 0, report
    assert report.lost == 0, report.notes
    assert report.duplicated == 0, report.notes
    assert report.routed == report.accepted, report
    assert all(report.checks.values()), report.checks
    assert report.passed
