"""The database unavailable or full under load: `database-unavailable`, `database-full` (SQLite) and
`postgres-restart` (PostgreSQL).

Each runs a broker and a `tsw serve` of its own, warms up, and starts the paced load; a third of the
way in (a quarter for PostgreSQL) the fault begins and lasts `--database-down-s`:

- `database-unavailable`: another process takes SQLite's write lock (`BEGIN EXCLUSIVE`,
  `gateway.chaos.sqlite_lock`) and holds it; every write waits the busy timeout and fails with
  "database is locked"; readers go on (WAL). The gateway runs with a 1 s busy timeout
  (`TSW_DATABASE_TIMEOUT_MS`; 5 s by default) so that the lock outlasts it many times over: with
  the default, a 10 s lock mostly delays writes (a batch waiting 5 s twice) rather than refuses them.
- `database-full`: the gateway's data directory is a small tmpfs of its own
  (`gateway.chaos.disk`); a ballast file fills it until the kernel answers ENOSPC, which SQLite
  reports as SQLITE_FULL ("database or disk is full") once its write-ahead log needs to grow; the
  fault is held from the first refused write, then the ballast is deleted.
- `postgres-restart`: the gateway runs on a private PostgreSQL server (`gateway.chaos.postgres`),
  stopped twice and started again on the same data: `pg_ctl stop -m fast` (sessions terminated
  "due to administrator command", as a planned restart), and later `-m immediate` (every server
  process quits at once: crash recovery at the next start, commits in flight lost or kept).

Must hold, besides the ledger's (every 202 routed to each of its agencies, none under two event
ids): the fault was felt (503s while it lasted) and every refusal was a 503 with `Retry-After` (the
load counts those without; `RouteProbe` walks the other routes during the fault: never a 500, never
past the request deadline); 202s resumed once it ended from the same gateway processes (no restart;
the recovery time is reported); nothing half-written (`gateway.chaos.integrity`: each declaration
with its outbox rows, first status and audit entry; the audit chain verifies); and the declarations
stored are exactly those a 202 named (a submission refused with a 503 was not stored, or, committed
before the connection broke, was replayed to its Idempotency-Key retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from gateway.bench.processes import free_port
from gateway.chaos import harness
from gateway.chaos.disk import SmallDisk
from gateway.chaos.integrity import Integrity
from gateway.chaos.load import LoadResult, SustainedLoad
from gateway.chaos.postgres import LocalPostgres
from gateway.chaos.probe import ProbeResult, RouteProbe
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext, Scenario
from gateway.chaos.served import ServedGateway
from gateway.chaos.sqlite_lock import WriteLockHolder

__all__ = ["SCENARIOS", "database_full", "database_unavailable", "postgres_restart"]

_AFTER_FAULT_S = 10.0  # the load goes on this long after the last fault ends
_FIRST_REFUSAL_WAIT_S = 60.0  # the longest a full disk may take to refuse a write
_DISK_MB = 128
_BUSY_TIMEOUT_MS = 1000  # database-unavailable's gateway: a lock many busy timeouts long
_GATEWAY = "gateway"
_REQUEST_DEADLINE_S = 30.0  # TSW_REQUEST_TIMEOUT_MS's default
_INTEGRITY_TIMEOUT_S = 300.0


@dataclass
class _Faults:
    """When each fault ended (time.monotonic()), and what the route probe saw while they lasted."""

    cleared_at: list[float] = field(default_factory=list)
    probe: ProbeResult = field(default_factory=ProbeResult)


@contextlib.asynccontextmanager
async def _probing(gateway: harness.TraderGateway, warm: LoadResult, faults: _Faults) -> AsyncIterator[None]:
    """Walk the other routes while the block runs (the fault lasts)."""
    probe = RouteProbe(
        gateway.served.url,
        api_key=gateway.api_key,
        declaration_id=next(iter(warm.accepted)),
        deadline_s=_REQUEST_DEADLINE_S,
    )
    probe.result = faults.probe  # one result across the faults of a scenario
    stop = asyncio.Event()
    task = asyncio.create_task(probe.run_until(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def database_unavailable(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("database-unavailable")
    fault_at_s = options.seconds / 3
    seconds = max(options.seconds, fault_at_s + options.database_down_s + _AFTER_FAULT_S)
    faults = _Faults()
    async with (
        harness.own_broker(context) as kafka,
        harness.served_gateway(
            context,
            kafka.bootstrap_servers,
            name=_GATEWAY,
            env={"TSW_DATABASE_TIMEOUT_MS": str(_BUSY_TIMEOUT_MS)},
        ) as gateway,
    ):
        warm = await harness.warm_up(context, gateway)
        pids = gateway.served.pids()
        lock = WriteLockHolder(context.work_dir / _GATEWAY / "tsw.db")
        load = harness.new_load(context, gateway, seconds=seconds)
        context.progress(f"load: {options.rate:g}/s for {seconds:.0f} s; SQLite locked at {fault_at_s:.0f} s")
        async with asyncio.TaskGroup() as group:
            loading = group.create_task(load.run())
            await harness.at_load_time(load, fault_at_s)
            async with _probing(gateway, warm, faults):
                await asyncio.to_thread(lock.acquire)
                taken_at_s = load.elapsed_s()
                report.faults.append(
                    f"SQLite write lock taken by another process (BEGIN EXCLUSIVE) at {taken_at_s:.1f} s"
                )
                context.progress(report.faults[-1])
                await asyncio.sleep(options.database_down_s)
                await asyncio.to_thread(lock.release)
                faults.cleared_at.append(time.monotonic())
            report.faults.append(
                f"lock released at {load.elapsed_s():.1f} s ({options.database_down_s:g} s held; "
                f"busy timeout {_BUSY_TIMEOUT_MS} ms)"
            )
            context.progress(report.faults[-1])
        await _judge(context, report, gateway, loads=[warm, loading.result()], faults=faults, pids=pids)
    return report


async def database_full(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("database-full")
    fault_at_s = options.seconds / 3
    seconds = max(
        options.seconds, fault_at_s + _FIRST_REFUSAL_WAIT_S + options.database_down_s + _AFTER_FAULT_S
    )
    faults = _Faults()
    disk = SmallDisk(context.work_dir / _GATEWAY, size_mb=_DISK_MB)
    await asyncio.to_thread(disk.start)
    try:
        async with (
            harness.own_broker(context) as kafka,
            harness.served_gateway(
                context, kafka.bootstrap_servers, name=_GATEWAY, command_prefix=disk.command_prefix()
            ) as gateway,
        ):
            warm = await harness.warm_up(context, gateway)
            pids = gateway.served.pids()
            load = harness.new_load(context, gateway, seconds=seconds)
            context.progress(f"load: {options.rate:g}/s; the disk fills at {fault_at_s:.0f} s")
            async with asyncio.TaskGroup() as group:
                loading = group.create_task(load.run())
                await harness.at_load_time(load, fault_at_s)
                async with _probing(gateway, warm, faults):
                    await _fill_and_free(context, report, disk, load)
                    faults.cleared_at.append(time.monotonic())
                context.progress(report.faults[-1])
                await _stop_load_after(load, seconds_after=_AFTER_FAULT_S)
            await _judge(context, report, gateway, loads=[warm, loading.result()], faults=faults, pids=pids)
    finally:
        await asyncio.to_thread(disk.close)
    return report


async def _fill_and_free(
    context: ChaosContext, report: ScenarioReport, disk: SmallDisk, load: SustainedLoad
) -> None:
    used_mb = (_DISK_MB * 2**20 - disk.free_bytes()) / 2**20
    written = await asyncio.to_thread(disk.fill)
    filled_at = time.monotonic()
    report.faults.append(
        f"disk full at {load.elapsed_s():.1f} s: {written / 2**20:.0f} MiB of ballast written to the "
        f"gateway's {_DISK_MB} MiB volume ({used_mb:.0f} MiB used) until ENOSPC"
    )
    context.progress(report.faults[-1])
    refused_before = load.result.refused[503]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_FIRST_REFUSAL_WAIT_S):
            while load.result.refused[503] == refused_before:  # noqa: ASYNC110 - counted by the load
                await asyncio.sleep(0.05)
    if load.result.refused[503] > refused_before:
        report.notes.append(f"first 503 {time.monotonic() - filled_at:.1f} s after the disk filled")
    await asyncio.sleep(context.options.database_down_s)
    freed = await asyncio.to_thread(disk.free)
    full_s = time.monotonic() - filled_at
    report.faults.append(
        f"{freed / 2**20:.0f} MiB freed at {load.elapsed_s():.1f} s ({full_s:.1f} s full; "
        f"{context.options.database_down_s:g} s after the first 503)"
    )


async def _stop_load_after(load: SustainedLoad, *, seconds_after: float) -> None:
    """Cut a load scheduled with room to spare `seconds_after` from now."""
    await asyncio.sleep(seconds_after)
    load.stop()


async def postgres_restart(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("postgres-restart")
    down_s = options.database_down_s
    first_at_s = options.seconds / 4
    second_at_s = first_at_s + down_s + max(5.0, options.seconds / 4)
    seconds = max(options.seconds, second_at_s + down_s + _AFTER_FAULT_S)
    faults = _Faults()
    server = LocalPostgres(context.work_dir / "postgres", port=free_port())
    try:
        context.progress(f"starting a PostgreSQL server of its own on 127.0.0.1:{server.port}")
        await asyncio.to_thread(server.start)
        url = await asyncio.to_thread(server.create_database, "tsw_chaos")
        async with (
            harness.own_broker(context) as kafka,
            harness.served_gateway(
                context, kafka.bootstrap_servers, name=_GATEWAY, env={"TSW_DATABASE_URL": url}
            ) as gateway,
        ):
            warm = await harness.warm_up(context, gateway)
            pids = gateway.served.pids()
            load = harness.new_load(context, gateway, seconds=seconds)
            context.progress(f"load: {options.rate:g}/s for {seconds:.0f} s; PostgreSQL stopped twice")
            async with asyncio.TaskGroup() as group:
                loading = group.create_task(load.run())
                for at_s, mode in ((first_at_s, "fast"), (second_at_s, "immediate")):
                    await harness.at_load_time(load, at_s)
                    async with _probing(gateway, warm, faults):
                        await _restart(context, report, server, load, mode=mode, down_s=down_s)
                        faults.cleared_at.append(time.monotonic())
            await _judge(context, report, gateway, loads=[warm, loading.result()], faults=faults, pids=pids)
    finally:
        await asyncio.to_thread(server.close)
    return report


async def _restart(
    context: ChaosContext,
    report: ScenarioReport,
    server: LocalPostgres,
    load: SustainedLoad,
    *,
    mode: str,
    down_s: float,
) -> None:
    stopped_at_s = load.elapsed_s()
    await asyncio.to_thread(server.stop, mode=mode)
    context.progress(f"PostgreSQL stopped ({mode}) at {stopped_at_s:.1f} s")
    await asyncio.sleep(down_s)
    started_at_s = load.elapsed_s()
    await asyncio.to_thread(server.start)
    report.faults.append(
        f"PostgreSQL `pg_ctl stop -m {mode}` at {stopped_at_s:.1f} s, started again at {started_at_s:.1f} s, "
        f"accepting connections at {load.elapsed_s():.1f} s"
    )
    context.progress(report.faults[-1])


async def _judge(
    context: ChaosContext,
    report: ScenarioReport,
    gateway: harness.TraderGateway,
    *,
    loads: Sequence[LoadResult],
    faults: _Faults,
    pids: list[int],
) -> None:
    """The ledger's verdict, then what a database fault must leave behind (module docstring)."""
    await harness.verdict(
        context,
        report,
        gateway_url=gateway.served.url,
        bootstrap_servers=gateway.served.environment["TSW_KAFKA_BOOTSTRAP_SERVERS"],
        loads=loads,
    )
    result = loads[-1]
    report.longest_accept_gap_s = result.longest_accept_gap_s()
    refused = sum(load.refused[503] for load in loads)
    report.checks["the fault was felt: 503s while it lasted"] = refused > 0
    report.checks["every refusal a 503, none without Retry-After"] = (
        set(report.refused) <= {503} and sum(load.without_retry_after for load in loads) == 0
    )
    report.checks[
        "every other route answered (503 with Retry-After where it needs the database, never a 500)"
    ] = not faults.probe.failures
    report.notes.append(f"route probe during the fault: {faults.probe.summary()}")
    if faults.probe.failures:
        report.notes.append(f"route probe failures, e.g.: {'; '.join(faults.probe.failures[:3])}")
    recoveries = [_recovery_s(result, cleared) for cleared in faults.cleared_at]
    same_processes = sorted(gateway.served.pids()) == sorted(pids)
    report.checks["202s resumed after each fault, from the same gateway processes (no restart)"] = (
        all(seconds is not None for seconds in recoveries) and same_processes
    )
    report.notes.append(
        "recovery (fault over -> next 202 read): "
        + ", ".join("never" if seconds is None else f"{seconds:.2f} s" for seconds in recoveries)
        + f"; gateway processes {'unchanged' if same_processes else 'CHANGED'}: {sorted(pids)}"
    )
    context.progress("checking the database: nothing half-written, the audit chain")
    integrity = await asyncio.to_thread(_integrity, gateway.served)
    report.notes.append(f"database: {integrity.summary()}")
    report.checks["nothing half-written (outbox rows, history, audit entry each); audit chain verifies"] = (
        integrity.whole and integrity.unpublished == 0
    )
    report.checks["the declarations stored are exactly those a 202 named (no 503 stored)"] = (
        report.accepted <= integrity.declarations <= report.accepted + report.in_doubt
    )


def _recovery_s(result: LoadResult, cleared_at: float) -> float | None:
    later = [
        accepted.answered_at for accepted in result.accepted.values() if accepted.answered_at > cleared_at
    ]
    return min(later) - cleared_at if later else None


def _integrity(served: ServedGateway) -> Integrity:
    """`gateway.chaos.integrity` next to the gateway: its environment, its mount namespace."""
    answer = subprocess.run(
        [*served.command_prefix, sys.executable, "-m", "gateway.chaos.integrity"],
        env=served.environment,
        capture_output=True,
        timeout=_INTEGRITY_TIMEOUT_S,
        check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"the integrity check failed: {answer.stderr.decode(errors='replace')[-1500:]}")
    return Integrity.from_json(answer.stdout.strip().splitlines()[-1])


SCENARIOS = (
    Scenario(
        "database-unavailable",
        "SQLite's write lock held by another process under load for --database-down-s: 503s with "
        "Retry-After, nothing half-written, 202s again without a restart",
        database_unavailable,
    ),
    Scenario(
        "database-full",
        "the gateway's disk (a private tmpfs) filled to ENOSPC under load, then freed: SQLITE_FULL as 503s "
        "with Retry-After, nothing half-written, 202s again without a restart",
        database_full,
    ),
    Scenario(
        "postgres-restart",
        "the gateway's PostgreSQL stopped (fast, then immediate) and started again under load: 503s with "
        "Retry-After, nothing lost or half-written, 202s again without a restart",
        postgres_restart,
    ),
)
