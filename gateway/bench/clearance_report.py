"""The tables `tsw bench clearance` prints, and its verdict against issue 3's target."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from gateway.bench.clearance import ClearanceResult
from gateway.bench.stats import percentile_ms

__all__ = ["TARGET_P50_MS", "TARGET_P99_MS", "report_clearance"]

#: The target of issue 3 ("Speed"), for 202 -> CLEARED at 200 declarations/s.
TARGET_P50_MS = 100.0
TARGET_P99_MS = 500.0
TARGET_RATE = 200.0


def report_clearance(console: Console, result: ClearanceResult) -> None:
    options, workload = result.options, result.workload
    console.print(_load_table(result))
    console.print(_latency_table(result))
    memory = ", ".join(f"{name} {mb:.0f} MB" for name, mb in result.rss_mb.items())
    console.print(f"RSS at the end of the run: {memory}")
    console.print(_cpu_line(result.cpu_ms_per_declaration))
    console.print(
        f"document {workload.path.name} ({workload.pack.id}, routed to {', '.join(workload.routes)});"
        f" {options.warmup_s:g} s warm-up not counted; {result.events} status events received"
    )
    if result.not_cleared:
        states = ", ".join(f"{count} {status}" for status, count in sorted(result.not_cleared.items()))
        console.print(f"[red]not CLEARED within {options.timeout_s:g} s:[/] {states}")
    if result.server_unread:
        console.print(f"[yellow]{result.server_unread} status histories could not be read[/]")
    if result.refused:
        codes = ", ".join(f"{count} x HTTP {code}" for code, count in sorted(result.refused.items()))
        console.print(f"[red]refused submissions:[/] {codes}")
    console.print(_verdict(result))


def _load_table(result: ClearanceResult) -> Table:
    table = Table(title=f"Response loop at {result.options.rate:g}/s for {result.options.seconds:g} s")
    for column in ("submitted", "202", "cleared", "not cleared", "achieved rate/s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.submitted),
        str(result.accepted),
        str(result.cleared),
        str(result.submitted - result.cleared),
        f"{result.achieved_rate:,.1f}",
    )
    return table


def _latency_table(result: ClearanceResult) -> Table:
    table = Table(title="Latency (ms)")
    table.add_column("measure")
    for column in ("n", "p50", "p90", "p99", "max"):
        table.add_column(column, justify="right")
    for name, values in (
        ("202 -> CLEARED (trader, SSE)", result.client_s),
        ("ACCEPTED -> CLEARED (server history)", result.server_s),
        ("CLEARED recorded -> on the stream", result.stream_s),
        ("POST -> 202 (from due time)", result.post_s),
    ):
        table.add_row(name, str(len(values)), *_quantiles(values))
    return table


def _cpu_line(per_declaration_ms: dict[str, float]) -> str:
    """Where the CPU goes: on two cores, the total bounds the rate the machine can sustain."""
    parts = ", ".join(
        f"{name} {ms:.1f}" for name, ms in sorted(per_declaration_ms.items(), key=lambda i: -i[1])
    )
    return f"CPU per declaration (ms, measured phase): total {sum(per_declaration_ms.values()):.1f}: {parts}"


def _quantiles(values: Sequence[float]) -> list[str]:
    return [f"{percentile_ms(values, q):.1f}" for q in (0.50, 0.90, 0.99)] + [
        f"{max(values, default=0) * 1000:.1f}"
    ]


def _verdict(result: ClearanceResult) -> str:
    p50, p99 = percentile_ms(result.client_s, 0.50), percentile_ms(result.client_s, 0.99)
    met = result.all_cleared and p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS
    colour, word = ("green", "met") if met else ("red", "missed")
    caveat = "" if result.options.rate >= TARGET_RATE else f" (but the target is set at {TARGET_RATE:g}/s)"
    return (
        f"[{colour}]target {word}[/]{caveat}: 202 -> CLEARED p50 {p50:.1f} ms (<= {TARGET_P50_MS:g}),"
        f" p99 {p99:.1f} ms (<= {TARGET_P99_MS:g}), every declaration cleared: {result.all_cleared}"
    )
