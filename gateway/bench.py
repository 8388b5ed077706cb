"""`tsw bench submit`: throughput and latency of POST /v1/declarations, accepted and routed.

The benchmark starts what it measures: the local Kafka broker (if none answers), and one gateway
process (`tsw serve`, one uvicorn worker, uvloop + httptools, SQLite in a fresh data directory).
Two phases follow, each for `seconds`:

1. **max**: `concurrency` closed-loop clients send as fast as the gateway answers;
2. **rate**: an open-loop load at `rate` submissions/s (default 500); each latency is measured from
   the moment the request was *due*, so a stalled gateway cannot hide its queueing delay.

After each phase it waits until every accepted declaration is ROUTED (published to Kafka) and reports
end-to-end routed/s including that drain. The load generator is a minimal keep-alive HTTP/1.1 client
on asyncio streams: a general-purpose client (httpx) costs more CPU per request than the gateway
under test, on the same two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from gateway.config import Settings

__all__ = ["run_bench"]


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
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class _Connection:
    """One keep-alive HTTP/1.1 connection that posts a body and reads the status line and body."""

    def __init__(self, host: str, port: int, api_key: str) -> None:
        self._host, self._port, self._api_key = host, port, api_key
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, content_type: str) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        head = (
            f"POST /v1/declarations HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Authorization: Bearer {self._api_key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(head + body)
        status_line = await self._reader.readline()
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self._reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()


def _documents(settings: Settings) -> list[tuple[bytes, str]]:
    found = []
    for path in sorted(settings.builtin_packs_dir.glob("*/examples/valid/*")):
        if path.suffix in (".xml", ".json"):
            found.append(
                (path.read_bytes(), "application/json" if path.suffix == ".json" else "application/xml")
            )
    if not found:
        raise RuntimeError(f"no example documents under {settings.builtin_packs_dir}")
    return found


async def _drive(
    host: str,
    port: int,
    api_key: str,
    docs: Sequence[tuple[bytes, str]],
    result: PhaseResult,
    *,
    concurrency: int,
    next_due: Callable[[], Awaitable[float | None]],
) -> PhaseResult:
    """`concurrency` keep-alive clients post documents while `next_due()` gives a due time.

    Each latency is measured from the due time, so a stalled gateway cannot hide queueing delay.
    """
    cycle = itertools.cycle(docs)

    async def client() -> None:
        connection = _Connection(host, port, api_key)
        try:
            while (due := await next_due()) is not None:
                body, content_type = next(cycle)
                if await connection.post(body, content_type) == 202:
                    result.latencies_s.append(time.perf_counter() - due)
                else:
                    result.failures += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return result


async def _max_phase(
    host: str, port: int, api_key: str, docs: Sequence[tuple[bytes, str]], *, seconds: float, concurrency: int
) -> PhaseResult:
    """Closed loop: each client sends its next document as soon as the previous one is answered."""
    deadline = time.perf_counter() + seconds

    async def now_until_deadline() -> float | None:
        now = time.perf_counter()
        return now if now < deadline else None

    result = PhaseResult("max", seconds)
    return await _drive(
        host, port, api_key, docs, result, concurrency=concurrency, next_due=now_until_deadline
    )


async def _rate_phase(
    host: str,
    port: int,
    api_key: str,
    docs: Sequence[tuple[bytes, str]],
    *,
    seconds: float,
    rate: float,
    concurrency: int,
) -> PhaseResult:
    """Open loop: `rate` requests per second, each due at its own moment whatever the answers."""
    start = time.perf_counter() + 0.05
    slots: asyncio.Queue[float] = asyncio.Queue()
    for index in range(int(rate * seconds)):
        slots.put_nowait(start + index / rate)

    async def next_slot() -> float | None:
        if slots.empty():
            return None
        due = slots.get_nowait()
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        return due

    result = PhaseResult(f"rate {rate:g}/s", seconds)
    return await _drive(host, port, api_key, docs, result, concurrency=concurrency, next_due=next_slot)


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _gateway_process(settings: Settings, data_dir: Path, port: int) -> Iterator[psutil.Process]:
    env = {
        **os.environ,
        "TSW_DATA_DIR": str(data_dir),
        "TSW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
    }
    env.pop("TSW_DATABASE_URL", None)
    log = (data_dir / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        _wait_healthy(port, process)
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the gateway exited during start-up; see gateway.log in the data directory")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the gateway did not become healthy within 60 s")


def _create_client(data_dir: Path) -> str:
    from gateway.clients import ClientService
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    async def run() -> str:
        engine = create_engine(Settings(data_dir=data_dir).effective_database_url)
        try:
            await migrate(engine)
            _, api_key = await ClientService(UnitOfWorkFactory(engine)).add("bench-trader", role="trader")
        finally:
            await engine.dispose()
        return api_key

    return asyncio.run(run())


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
            api_key = _create_client(data_dir)
            port = _free_port()
            with _gateway_process(settings, data_dir, port) as process:
                results = asyncio.run(
                    _phases(
                        port,
                        api_key,
                        docs,
                        data_dir / "tsw.db",
                        seconds=seconds,
                        rate=rate or 500.0,
                        concurrency=concurrency,
                    )
                )
                rss_mb = process.memory_info().rss / 2**20
    finally:
        if started_kafka:
            kafka.stop()
    _report(console, results, rss_mb=rss_mb, documents=len(docs))


async def _phases(
    port: int,
    api_key: str,
    docs: Sequence[tuple[bytes, str]],
    database: Path,
    *,
    seconds: float,
    rate: float,
    concurrency: int,
) -> list[PhaseResult]:
    await _max_phase("127.0.0.1", port, api_key, docs, seconds=min(2.0, seconds), concurrency=8)  # warm-up
    await _drain(database, PhaseResult("warm-up", 0))
    results = []
    before, _ = await asyncio.to_thread(_count_not_routed, database)
    maximum = await _max_phase("127.0.0.1", port, api_key, docs, seconds=seconds, concurrency=concurrency)
    await _drain(database, maximum)
    maximum.routed -= before
    results.append(maximum)
    before, _ = await asyncio.to_thread(_count_not_routed, database)
    paced = await _rate_phase(
        "127.0.0.1",
        port,
        api_key,
        docs,
        seconds=seconds,
        rate=rate,
        concurrency=max(concurrency, int(rate // 10)),
    )
    await _drain(database, paced)
    paced.routed -= before
    results.append(paced)
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
