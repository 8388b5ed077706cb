"""`tsw chaos [SCENARIO...]`: run the fault scenarios (`gateway.chaos`) on this machine and print what
each found: faults injected, submissions, 202s, refusals, events routed, losses and duplicates.

Every scenario starts its own broker (or cluster) and gateway on free ports in a temporary directory
(or under `--work-dir`, kept), so it never touches the local stack. The scenarios that need
PostgreSQL run when `--postgres-url` (or `TSW_CHAOS_POSTGRES_URL`) names a server; with no scenario
named and no server, they are left out, and said so. The exit code is 1 when any scenario lost or
duplicated a declaration, failed one of its own checks, or could not run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gateway.config import Settings

__all__ = ["chaos_command"]

console = Console()


def chaos_command(
    scenarios: Annotated[
        list[str] | None, typer.Argument(help="Scenarios to run, in order (default: all; see --list).")
    ] = None,
    seconds: Annotated[float, typer.Option(help="Length of the sustained load, seconds.")] = 30.0,
    rate: Annotated[float, typer.Option(help="Submissions per second, paced.")] = 50.0,
    concurrency: Annotated[int, typer.Option(help="Keep-alive clients sharing the rate.")] = 8,
    broker_down_s: Annotated[
        float, typer.Option("--broker-down-s", help="How long a killed broker stays down.")
    ] = 30.0,
    database_down_s: Annotated[
        float,
        typer.Option("--database-down-s", help="How long the database stays locked, full or stopped."),
    ] = 10.0,
    drain_timeout_s: Annotated[
        float, typer.Option("--drain-timeout-s", help="Longest wait for the outbox to drain.")
    ] = 240.0,
    postgres_url: Annotated[
        str | None,
        typer.Option(envvar="TSW_CHAOS_POSTGRES_URL", help="PostgreSQL server for the database scenarios."),
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep each scenario's brokers, data and logs under this directory.")
    ] = None,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
) -> None:
    """Kill brokers, gateways and databases under load; count what was accepted, routed, lost, duplicated."""
    from gateway.chaos.registry import all_scenarios, find_scenarios
    from gateway.chaos.render import report_table, summary_table
    from gateway.chaos.runner import run_scenario
    from gateway.chaos.scenario import ChaosOptions

    if list_scenarios:
        for scenario in all_scenarios():
            console.print(f"[bold]{scenario.name}[/]: {scenario.summary}")
        return
    try:
        chosen = find_scenarios(scenarios or [])
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0])) from exc
    if not scenarios and not postgres_url:
        skipped = [scenario.name for scenario in chosen if scenario.needs_postgres]
        chosen = tuple(scenario for scenario in chosen if not scenario.needs_postgres)
        if skipped:
            console.print(f"[yellow]not run without --postgres-url:[/] {', '.join(skipped)}")
    options = ChaosOptions(
        seconds=seconds,
        rate=rate,
        concurrency=concurrency,
        broker_down_s=broker_down_s,
        database_down_s=database_down_s,
        drain_timeout_s=drain_timeout_s,
        postgres_url=postgres_url,
    )
    # The scenarios' own probes meet dead brokers on purpose; aiokafka would log each refused connection.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    reports = []
    for scenario in chosen:
        console.rule(f"[bold]{scenario.name}[/]: {scenario.summary}")
        with console.status(f"{scenario.name}: starting") as status:
            started = time.monotonic()

            def progress(text: str, *, name: str = scenario.name, since: float = started) -> None:
                console.print(f"[dim]{time.monotonic() - since:6.1f} s[/]  {text}")
                status.update(f"{name}: {text}")

            report = run_scenario(
                scenario, settings=Settings(), options=options, progress=progress, work_dir=work_dir
            )
        console.print(report_table(report))
        reports.append(report)
    console.print(summary_table(reports))
    if not all(report.passed for report in reports):
        raise typer.Exit(1)
