"""`tsw bench batch`: a generated `hk.ecom.lvc` CSV uploaded to `POST /v1/batches`, timed from the
start of the upload until every accepted consignment is routed to Kafka, with the gateway's peak RSS.

It starts its own gateway (`tsw serve`: the API and batch runner in one process, the outbox relay in
the messaging process) in a temporary directory, against the local broker (started if it does not
answer). The file is generated first (not timed). "Routed" is read from the gateway's database: the
time the relay recorded the publication of the last bulk event, Kafka having acknowledged it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from gateway.bench.processes import create_client, free_port, gateway_process
from gateway.config import Settings
from gateway.ecommerce.generate import FileFormat, encode, generate_consignments

__all__ = ["BatchBenchResult", "report_batch_bench", "run_batch_bench"]

_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class BatchBenchResult:
    consignments: int
    lines: int
    file_bytes: int
    accepted: int
    rejected: int
    upload_s: float
    answered_s: float  # upload start -> the job completed
    routed_s: float  # upload start -> the last accepted consignment routed
    peak_rss_mb: dict[str, float]

    @property
    def per_second(self) -> float:
        return self.consignments / self.routed_s


def run_batch_bench(
    settings: Settings, *, count: int, invalid_rate: float, seed: int, console: Console
) -> BatchBenchResult:
    from gateway.localkafka import LocalKafka

    kafka = LocalKafka.from_settings(settings)
    started_kafka = not kafka.answers()
    if started_kafka:
        console.print(f"starting Kafka on {kafka.bootstrap_servers}")
        kafka.start()
    try:
        with tempfile.TemporaryDirectory(prefix="tsw-bench-batch-") as tmp:
            data_dir = Path(tmp)
            upload = data_dir / "consignments.csv"
            with console.status(f"generating {count:,} consignments"):
                lines = _generate(upload, count=count, invalid_rate=invalid_rate, seed=seed)
            api_key = create_client(data_dir, name="bench-forwarder")
            with gateway_process(settings, data_dir, port=(port := free_port())) as process:
                with _PeakRss(process) as peak:
                    result = _measure(
                        f"http://127.0.0.1:{port}", api_key, upload, data_dir / "tsw.db", console=console
                    )
                return BatchBenchResult(
                    consignments=count,
                    lines=lines,
                    file_bytes=upload.stat().st_size,
                    peak_rss_mb=peak.mb,
                    **result._asdict(),
                )
    finally:
        if started_kafka:
            kafka.stop()


def report_batch_bench(console: Console, result: BatchBenchResult) -> None:
    table = Table(title="tsw bench batch: CSV upload -> every accepted consignment routed to Kafka")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("consignments (lines)", f"{result.consignments:,} ({result.lines:,})"),
        ("file", f"{result.file_bytes / 2**20:,.1f} MB"),
        ("accepted / rejected", f"{result.accepted:,} / {result.rejected:,}"),
        ("upload", f"{result.upload_s:.2f} s"),
        ("upload start -> all answered", f"{result.answered_s:.2f} s"),
        ("upload start -> all routed", f"{result.routed_s:.2f} s"),
        ("consignments/s, end to end", f"{result.per_second:,.0f}"),
        *((f"peak RSS, {name}", f"{mb:,.0f} MB") for name, mb in result.peak_rss_mb.items()),
    ]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


def _generate(path: Path, *, count: int, invalid_rate: float, seed: int) -> int:
    with path.open("wb") as out:
        for chunk in encode(
            generate_consignments(count, invalid_rate=invalid_rate, seed=seed), FileFormat.CSV
        ):
            out.write(chunk)
    with path.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(_CHUNK_BYTES), b""))


class _Run(NamedTuple):
    accepted: int
    rejected: int
    upload_s: float
    answered_s: float
    routed_s: float


def _measure(url: str, api_key: str, upload: Path, database: Path, *, console: Console) -> _Run:
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        answer = http.post("/v1/batches", content=_chunks(upload), headers={"Content-Type": "text/csv"})
        answer.raise_for_status()
        upload_s = time.perf_counter() - started
        job = answer.json()
        with console.status("the gateway works through the file"):
            while job["status"] not in ("completed", "failed"):
                time.sleep(0.05)
                job = http.get(f"/v1/batches/{job['id']}").json()
            answered_s = time.perf_counter() - started
            if job["status"] == "failed":
                raise RuntimeError(f"the batch failed: {job['error']}")
            routed_at = _all_routed(database)
    return _Run(
        accepted=job["accepted"],
        rejected=job["rejected"],
        upload_s=upload_s,
        answered_s=answered_s,
        routed_s=(routed_at - started_at).total_seconds(),
    )


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        yield from iter(lambda: stream.read(_CHUNK_BYTES), b"")


def _all_routed(database: Path, *, timeout_s: float = 600) -> datetime:
    """When the relay recorded the last publication, once nothing is left to publish."""
    deadline = time.monotonic() + timeout_s
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as connection:
        while time.monotonic() < deadline:
            pending, last = connection.execute(
                "SELECT sum(published_at IS NULL), max(published_at) FROM outbox"
            ).fetchone()
            if not pending and last:
                return datetime.fromisoformat(last).replace(tzinfo=UTC)
            time.sleep(0.05)
    raise RuntimeError("the outbox did not drain in time")


class _PeakRss:
    """Samples the RSS of the gateway and of each of its child processes every 50 ms in a thread: the
    messaging process (there from the start) and the batch reader (started for a large file)."""

    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self._messaging = {child.pid for child in process.children()}
        self.mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                named = {"gateway (API, batch writer)": self._process}
                for child in self._process.children():
                    label = (
                        "messaging process (relay)"
                        if child.pid in self._messaging
                        else "batch reader process"
                    )
                    named[label] = child
                for name, process in named.items():
                    self.mb[name] = max(self.mb.get(name, 0.0), process.memory_info().rss / 2**20)
            self._stop.wait(0.05)
