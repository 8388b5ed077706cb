"""`tsw bench submit`: throughput and latency of POST /v1/declarations, accepted and routed.

The benchmark starts what it measures: the local Kafka broker (if none answers), and one gateway
process (`tsw serve`, one uvicorn worker, uvloop + httptools, SQLite in a fresh data directory).
Two phases follow, each for `seconds`:

1. **max**: `concurrency` closed-loop clients send as fast as the gateway answers;
2. **rate**: an open-loop load at `rate` submissions/s (default 500); each latency is measured from
   the moment the request was *due*, so a stalled gateway cannot hide its queueing delay.

After each phase it waits until every accepted declaration is ROUTED (published to Kafka) and reports
end-to-end routed/s including that drain. The load generator is `gateway.bench.client`'s minimal
keep-alive client: a general-purpose client (httpx) costs more CPU per request than the gateway
under test, on the same two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gateway.bench.client import Target
from gateway.bench.load import Answer, Document, NextDue, closed_loop, drive, paced
from gateway.bench.processes import create_client, free_port, gateway_process, rss_mb
from gateway.bench.stats import percentile_ms
from gateway.config import Settings

__all__ = ["PhaseResult", "run_bench"]


@dataclass
class PhaseResult:
    name: str
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    failures: int = 0
    drain_s: float = 0.0
    routed: int = 0

    @property
    def accepted(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        return percentile_ms(self.latencies_s, q)

    def record(self, answer: Answer) -> None:
        if answer.status == 202:
            self.latencies_s.append(answer.latency_s)
        else:
            self.failures += 1


def _documents(settings: Settings) -> list[Document]:
    found = []
    for path in sorted(settings.builtin_packs_dir.glob("*/examples/valid/*")):
        if path.suffix in (".xml", ".json"):
            found.append(
                (path.read_bytes(), "application/json" if path.suffix == ".json" else "application/xml")
            )
    if not found:
        raise RuntimeError(f"no example documents under {settings.builtin_packs_dir}")
    return found


async def _phase(
    target: Target, docs: Sequence[Document], *, result: PhaseResult, concurrency: int, next_due: NextDue
) -> PhaseResult:
    await drive(target, docs, concurrency=concurrency, next_due=next_due, on_answer=result.record)
    return result


def _count_not_routed(database: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        total = db.execute("SELECT count(*) FROM declarations").fetchone()[0]
        pending = db.execute("SELECT count(*) FROM declarations WHERE status = 'ACCEPTED'").fetchone()[0]
    return int(total), int(pending)


async def _drain(database: Path, result: PhaseResult, *, timeout_s: float = 300) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        total, pending = await asyncio.to_thread(_count_not_routed, database)
        if pending == 0:
            break
        await asyncio.sleep(0.05)
    result.drain_s = time.perf_counter() - started
    total, pending = await asyncio.to_thread(_count_not_routed, database)
    result.routed = total - pending


def run_bench(
    settings: Settings, *, url: str | None, seconds: float, concurrency: int, rate: float, console: Console
) -> None:
    from gateway.localkafka import LocalKafka

    if url is not None:
        raise SystemExit("--url is not supported yet: the benchmark starts and measures its own gateway")
    kafka = LocalKafka.from_settings(settings)
    started_kafka = not kafka.answers()
    if started_kafka:
        console.print(f"starting Kafka on {kafka.bootstrap_servers}")
        kafka.start()
    docs = _documents(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="tsw-bench-") as tmp:
            data_dir = Path(tmp)
            api_key = create_client(data_dir)
            port = free_port()
            with gateway_process(settings, data_dir, port=port) as process:
                results = asyncio.run(
                    _phases(
                        Target("127.0.0.1", port, api_key),
                        docs,
                        data_dir / "tsw.db",
                        seconds=seconds,
                        rate=rate or 500.0,
                        concurrency=concurrency,
                    )
                )
                gateway_rss_mb = rss_mb(process)
    finally:
        if started_kafka:
            kafka.stop()
    _report(console, results, rss_mb=gateway_rss_mb, documents=len(docs))


async def _phases(
    target: Target,
    docs: Sequence[Document],
    database: Path,
    *,
    seconds: float,
    rate: float,
    concurrency: int,
) -> list[PhaseResult]:
    warm_up = PhaseResult("warm-up", 0)
    await _phase(target, docs, result=warm_up, concurrency=8, next_due=closed_loop(seconds=min(2.0, seconds)))
    await _drain(database, warm_up)
    results = []
    before, _ = await asyncio.to_thread(_count_not_routed, database)
    maximum = await _phase(
        target,
        docs,
        result=PhaseResult("max", seconds),
        concurrency=concurrency,
        next_due=closed_loop(seconds=seconds),
    )
    await _drain(database, maximum)
    maximum.routed -= before
    results.append(maximum)
    before, _ = await asyncio.to_thread(_count_not_routed, database)
    paced_result = await _phase(
        target,
        docs,
        result=PhaseResult(f"rate {rate:g}/s", seconds),
        concurrency=max(concurrency, int(rate // 10)),
        next_due=paced(rate=rate, seconds=seconds),
    )
    await _drain(database, paced_result)
    paced_result.routed -= before
    results.append(paced_result)
    return results


def _report(console: Console, results: list[PhaseResult], *, rss_mb: float, documents: int) -> None:
    table = Table(title=f"POST /v1/declarations ({documents} example documents in rotation)")
    for column in (
        "phase",
        "accepted",
        "failed",
        "accepted/s",
        "routed",
        "routed/s (incl. drain)",
        "p50 ms",
        "p99 ms",
        "max ms",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.name,
            str(r.accepted),
            str(r.failures),
            f"{r.accepted / r.seconds:,.0f}",
            str(r.routed),
            f"{r.routed / (r.seconds + r.drain_s):,.0f}",
            f"{r.percentile_ms(0.50):.1f}",
            f"{r.percentile_ms(0.99):.1f}",
            f"{max(r.latencies_s, default=0) * 1000:.1f}",
        )
    console.print(table)
    mean_ms = statistics.fmean(results[-1].latencies_s or [0]) * 1000
    console.print(f"gateway RSS at the end: {rss_mb:.0f} MB; mean latency at the paced rate {mean_ms:.1f} ms")
