"""Running one scenario as `tsw chaos` and the tests do: a fresh work dir, a clock, a report even when
the scenario could not run at all."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext, ChaosOptions, Scenario
from gateway.config import Settings

__all__ = ["run_scenario"]


def run_scenario(
    scenario: Scenario,
    *,
    settings: Settings,
    options: ChaosOptions,
    progress: Callable[[str], None],
    work_dir: Path | None = None,
) -> ScenarioReport:
    """Run `scenario` in `work_dir/<name>` (kept), or in a temporary directory (removed afterwards).

    A scenario that raises (a broker that would not start) yields a failed report naming the error,
    so one broken scenario does not hide the figures of the others.
    """
    if scenario.needs_postgres and not options.postgres_url:
        report = ScenarioReport(scenario.name)
        report.checks["a PostgreSQL server to run on (--postgres-url)"] = False
        return report
    if work_dir is not None:
        directory = work_dir / scenario.name
        directory.mkdir(parents=True, exist_ok=False)
        return _run(scenario, ChaosContext(settings, directory, options, progress))
    with tempfile.TemporaryDirectory(prefix=f"tsw-chaos-{scenario.name}-") as tmp:
        return _run(scenario, ChaosContext(settings, Path(tmp), options, progress))


def _run(scenario: Scenario, context: ChaosContext) -> ScenarioReport:
    started = time.monotonic()
    try:
        report = asyncio.run(scenario.run(context))
    except Exception as exc:  # the report names it; the other scenarios still run
        report = ScenarioReport(scenario.name)
        report.checks[f"ran to the end ({type(exc).__name__}: {exc})"] = False
    report.elapsed_s = time.monotonic() - started
    return report
