"""`tsw bench clearance`: how long a trader waits from the 202 to seeing CLEARED, under a steady load.

It starts the whole loop for itself (`gateway.bench.whole_stack`: a private broker, the gateway with
its messaging process, and the simulator and adapter of every agency the document type routes to;
by default the WCO DEC-DMS pack, customs only), subscribes to `GET /v1/events` as the trader, then
submits the same document at a paced `rate` (an open loop: each request is due at its own moment),
first for `warmup_s` (not measured; the run waits until those are final), then for `seconds`.

Per declaration it measures the time from reading the 202 to reading the CLEARED event on the
stream, as the trader sees it, and afterwards the server's own ACCEPTED -> CLEARED from the status
history (`gateway.bench.history`). A declaration without CLEARED `timeout_s` after the last
submission counts as not cleared, by the last status seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import orjson
from rich.console import Console

from gateway.bench.client import Target
from gateway.bench.events import StatusWatch
from gateway.bench.history import accepted_to_cleared_s
from gateway.bench.load import Answer, drive, paced
from gateway.bench.processes import fresh_postgres_database
from gateway.bench.whole_stack import RunningStack, whole_stack
from gateway.bench.workload import BenchSetupError, Workload, load_workload
from gateway.config import Settings

__all__ = ["ClearanceOptions", "ClearanceResult", "run_clearance_bench"]

#: How long the warm-up may take to clear: the first declarations wait for the consumers to join.
_WARM_UP_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class ClearanceOptions:
    rate: float = 200.0
    seconds: float = 30.0
    warmup_s: float = 5.0
    timeout_s: float = 30.0
    history_sample: int = 0  # how many histories to read for the server-side figure; 0: all
    pack_dir: Path | None = None
    document: Path | None = None
    work_dir: Path | None = None  # kept after the run (logs, databases); default a temporary one
    postgres_url: str | None = None  # a server to make the gateway's database on; default SQLite


@dataclass
class _Phase:
    """The answers to one paced phase: each 202's declaration id and when it was read."""

    accepted_at: dict[str, float] = field(default_factory=dict)
    post_latencies_s: list[float] = field(default_factory=list)
    refused: Counter[int] = field(default_factory=Counter)
    first_due: float | None = None
    last_answered: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, from the start to the drain

    def record(self, answer: Answer) -> None:
        self.first_due = answer.due if self.first_due is None else min(self.first_due, answer.due)
        self.last_answered = max(self.last_answered, answer.answered)
        if answer.status != 202:
            self.refused[answer.status] += 1
            return
        self.accepted_at[orjson.loads(answer.body)["id"]] = answer.answered
        self.post_latencies_s.append(answer.latency_s)

    @property
    def span_s(self) -> float:
        return self.last_answered - (self.first_due or self.last_answered)


@dataclass
class ClearanceResult:
    options: ClearanceOptions
    workload: Workload
    submitted: int
    accepted: int
    refused: dict[int, int]
    achieved_rate: float
    client_s: list[float]  # 202 -> CLEARED event, per cleared declaration
    server_s: list[float]  # ACCEPTED -> CLEARED in the history
    server_unread: int  # histories that could not be read
    stream_s: list[float]  # CLEARED recorded -> arrived on the stream
    post_s: list[float]  # POST due -> 202
    not_cleared: dict[str, int]  # last status seen -> how many
    rss_mb: dict[str, float]
    cpu_ms_per_declaration: dict[str, float]  # per process, over the measured phase and its drain
    events: int

    @property
    def cleared(self) -> int:
        return len(self.client_s)

    @property
    def all_cleared(self) -> bool:
        return self.submitted > 0 and self.cleared == self.submitted


def run_clearance_bench(
    settings: Settings, *, options: ClearanceOptions, console: Console
) -> ClearanceResult:
    """Start the stack, measure, stop everything; the caller reports the result."""
    workload = load_workload(options.pack_dir, options.document)
    with (
        _work_dir(options.work_dir) as work_dir,
        _database(options.postgres_url, console) as database_url,
        whole_stack(
            settings,
            work_dir=work_dir,
            pack_dir=workload.pack.directory,
            agencies=workload.routes,
            console=console,
            database_url=database_url,
        ) as stack,
    ):
        return asyncio.run(_measure(stack, workload, options=options, console=console))


@contextlib.contextmanager
def _work_dir(given: Path | None) -> Iterator[Path]:
    if given is None:
        with tempfile.TemporaryDirectory(prefix="tsw-bench-clearance-") as tmp:
            yield Path(tmp)
        return
    given.mkdir(parents=True, exist_ok=True)
    if any(given.iterdir()):
        raise BenchSetupError(f"--work-dir {given} is not empty")
    yield given


@contextlib.contextmanager
def _database(postgres_url: str | None, console: Console) -> Iterator[str | None]:
    """None (SQLite in the gateway's directory), or a fresh database on the given PostgreSQL server."""
    if postgres_url is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:  # only the making of the database: what fails during the run is the run's
            url = stack.enter_context(fresh_postgres_database(postgres_url))
        except (OSError, asyncpg.PostgresError) as exc:
            raise BenchSetupError(f"cannot make a database on --postgres-url: {exc}") from exc
        console.print(f"the gateway's database: {url.rsplit('/', 1)[-1]} on the PostgreSQL server given")
        yield url


async def _measure(
    stack: RunningStack, workload: Workload, *, options: ClearanceOptions, console: Console
) -> ClearanceResult:
    async with StatusWatch(stack.url, stack.api_key) as watch:
        phase = await _warm_up_then_measure(stack, watch, workload=workload, options=options, console=console)
        rss = stack.rss_mb()
    cleared = [i for i in phase.accepted_at if i in watch.cleared_at]
    console.print(f"reading the status history of {_sample_size(len(cleared), options)} declarations")
    server = await accepted_to_cleared_s(stack.url, stack.api_key, ids=_sample(cleared, options))
    return ClearanceResult(
        options=options,
        workload=workload,
        submitted=len(phase.accepted_at) + phase.refused.total(),
        accepted=len(phase.accepted_at),
        refused=dict(phase.refused),
        achieved_rate=len(phase.accepted_at) / phase.span_s if phase.span_s > 0 else 0.0,
        client_s=[watch.cleared_at[i] - phase.accepted_at[i] for i in cleared],
        stream_s=[watch.cleared_lag_s[i] for i in cleared],
        server_s=server.elapsed_s,
        server_unread=server.unread,
        post_s=phase.post_latencies_s,
        not_cleared=dict(
            Counter(watch.status.get(i, "no event") for i in phase.accepted_at if i not in watch.cleared_at)
        ),
        rss_mb=rss,
        cpu_ms_per_declaration={
            name: 1000 * used / max(1, len(phase.accepted_at)) for name, used in phase.cpu_s.items()
        },
        events=watch.events,
    )


async def _warm_up_then_measure(
    stack: RunningStack,
    watch: StatusWatch,
    *,
    workload: Workload,
    options: ClearanceOptions,
    console: Console,
) -> _Phase:
    """The warm-up (until each of its declarations is final), then the measured phase and its drain."""
    target = Target("127.0.0.1", stack.port, stack.api_key)
    console.print(f"warming up: {options.rate:g}/s for {options.warmup_s:g} s")
    warm_up = await _paced_phase(target, workload, rate=options.rate, seconds=options.warmup_s)
    warm_up_timeout_s = max(_WARM_UP_TIMEOUT_S, options.timeout_s)
    if not await watch.wait_final(warm_up.accepted_at, timeout_s=warm_up_timeout_s):
        raise BenchSetupError(
            f"the warm-up declarations did not reach a final status within {warm_up_timeout_s:g} s;"
            " run again with --work-dir DIR to keep the logs"
        )
    console.print(f"measuring: {options.rate:g}/s for {options.seconds:g} s")
    cpu_before = stack.cpu_s()
    phase = await _paced_phase(target, workload, rate=options.rate, seconds=options.seconds)
    await watch.wait_final(phase.accepted_at, timeout_s=options.timeout_s)
    phase.cpu_s = {name: used - cpu_before.get(name, 0.0) for name, used in stack.cpu_s().items()}
    return phase


async def _paced_phase(target: Target, workload: Workload, *, rate: float, seconds: float) -> _Phase:
    phase = _Phase()
    await drive(
        target,
        [(workload.body, workload.content_type)],
        concurrency=max(8, int(rate // 10)),
        next_due=paced(rate=rate, seconds=seconds),
        on_answer=phase.record,
    )
    return phase


def _sample_size(count: int, options: ClearanceOptions) -> int:
    return count if options.history_sample <= 0 else min(count, options.history_sample)


def _sample(ids: list[str], options: ClearanceOptions) -> list[str]:
    size = _sample_size(len(ids), options)
    return ids if size == len(ids) else random.Random(0).sample(ids, size)
