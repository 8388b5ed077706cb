"""How `tsw chaos` shows a scenario's report: one table per scenario, then a summary of all."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from gateway.chaos.report import ScenarioReport

__all__ = ["report_table", "summary_table"]


def _verdict(report: ScenarioReport) -> str:
    return "[bold green]PASS[/]" if report.passed else "[bold red]FAIL[/]"


def _refused(report: ScenarioReport) -> str:
    if not report.refused:
        return "none"
    return ", ".join(f"{count} x {status}" for status, count in sorted(report.refused.items()))


def report_table(report: ScenarioReport) -> Table:
    table = Table(title=f"{report.name}: {_verdict(report)} ({report.elapsed_s:.0f} s)", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for index, fault in enumerate(report.faults, start=1):
        table.add_row(f"fault {index}", fault)
    gap = "" if report.longest_accept_gap_s is None else f"{report.longest_accept_gap_s:.2f} s"
    rows = [
        ("submissions made", str(report.submitted)),
        ("202 (accepted)", str(report.accepted)),
        ("refused, by status", _refused(report)),
        ("connection broken, retried", str(report.connection_errors)),
        ("in doubt (never answered)", str(report.in_doubt)),
        ("longest gap between 202s", gap),
        ("routed to every target agency", str(report.routed)),
        ("lost", _flag(report.lost)),
        ("duplicated (two event ids)", _flag(report.duplicated)),
        ("republished, same event id", str(report.republished)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    for check, held in report.checks.items():
        table.add_row("check", f"{'[green]yes[/]' if held else '[red]NO[/]'}  {check}")
    for note in report.notes:
        table.add_row("note", note)
    return table


def _flag(count: int) -> str:
    return "[green]0[/]" if count == 0 else f"[bold red]{count}[/]"


def summary_table(reports: Sequence[ScenarioReport]) -> Table:
    table = Table(title="tsw chaos")
    for column in ("scenario", "faults", "submitted", "202s", "routed", "lost", "duplicated", "result"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for report in reports:
        table.add_row(
            report.name,
            str(len(report.faults)),
            str(report.submitted),
            str(report.accepted),
            str(report.routed),
            _flag(report.lost),
            _flag(report.duplicated),
            _verdict(report),
        )
    return table
