"""Prometheus metrics, on registries of their own (one set per gateway instance, none module-level).

Two registries: what the API counts (submissions, validation, the outbox backlog) and what the
messaging workers count (events published, relay failures, agency answers, webhook attempts). With
`tsw serve` those workers run in a process of their own (`gateway.messaging_process`), which
publishes its registry every second as a `MetricsSnapshot`; the API's `/metrics` serves its own
registry followed by that snapshot, so one scrape sees both processes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics", "MetricsSnapshot", "private_snapshot"]

_SNAPSHOT_DIR_PREFIX = "tsw-messaging-metrics-"

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(frozen=True)
class MetricsSnapshot:
    """One process's metrics in the text exposition format, in a file another process reads.
    Picklable: pass it to a `spawn`ed process as an argument."""

    path: Path

    def publish(self, exposition: bytes) -> None:
        """Replace the file at once: a reader sees the previous snapshot or this one, never a mix."""
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_bytes(exposition)
        os.replace(partial, self.path)

    def read(self) -> bytes:
        """The last snapshot published (empty before the first)."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""


@contextmanager
def private_snapshot() -> Iterator[MetricsSnapshot]:
    """A snapshot in a temporary directory of this process's own, removed on exit. The directories
    of gateway processes that died without removing theirs (killed, crashed) are removed first."""
    parent = Path(tempfile.gettempdir())
    _remove_orphaned(parent)
    prefix = f"{_SNAPSHOT_DIR_PREFIX}{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as directory:
        yield MetricsSnapshot(Path(directory) / "metrics.prom")


def _remove_orphaned(parent: Path) -> None:
    for directory in parent.glob(f"{_SNAPSHOT_DIR_PREFIX}*-*"):
        pid = directory.name.removeprefix(_SNAPSHOT_DIR_PREFIX).split("-", 1)[0]
        try:
            if not pid.isdigit() or directory.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:  # its process is gone
            shutil.rmtree(directory, ignore_errors=True)
        except OSError:  # alive under another user, or the directory went meanwhile
            continue


class Metrics:
    """`messaging_snapshot`: where the messaging process publishes its part, when it runs apart."""

    def __init__(self, *, messaging_snapshot: MetricsSnapshot | None = None) -> None:
        self._messaging_snapshot = messaging_snapshot
        self.registry = CollectorRegistry()
        self.messaging_registry = CollectorRegistry()
        self.submissions = Counter(
            "tsw_submissions",
            "Submissions by document type and outcome (accepted, rejected, replayed, conflict).",
            ["document_type", "outcome"],
            registry=self.registry,
        )
        self.validation_seconds = Histogram(
            "tsw_validation_seconds",
            "Time to validate one document (parse, schema, business rules).",
            ["document_type"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "tsw_outbox_backlog", "Outbox events not yet published to Kafka.", registry=self.registry
        )
        self.events_published = Counter(
            "tsw_events_published",
            "Events published to Kafka, by topic.",
            ["topic"],
            registry=self.messaging_registry,
        )
        self.relay_failures = Counter(
            "tsw_relay_failures",
            "Outbox relay publish attempts that failed.",
            registry=self.messaging_registry,
        )

        self.answers = Counter(
            "tsw_agency_answers",
            "Agency answers by outcome (applied, duplicate, refused, malformed).",
            ["outcome"],
            registry=self.messaging_registry,
        )
        self.webhook_attempts = Counter(
            "tsw_webhook_attempts",
            "Webhook delivery attempts by result "
            "(delivered, http_error, timeout, connection_error, refused).",
            ["result"],
            registry=self.messaging_registry,
        )
        self.webhook_deliveries = Counter(
            "tsw_webhook_deliveries",
            "Webhook deliveries settled, by outcome (delivered, failed).",
            ["outcome"],
            registry=self.messaging_registry,
        )
        self._messaging_at = Gauge(
            "tsw_messaging_metrics_time_seconds",
            "When the messaging workers' metrics were taken (Unix time): far behind the scrape, their "
            "process is stuck or gone.",
            registry=self.messaging_registry,
        )

    def messaging_exposition(self) -> bytes:
        """The messaging workers' metrics now, in the text format."""
        self._messaging_at.set(time.time())
        return generate_latest(self.messaging_registry)

    def render(self) -> bytes:
        """The API's metrics and the messaging workers' (from their process's last snapshot, when they
        run apart and it has published one)."""
        messaging = self._messaging_snapshot.read() if self._messaging_snapshot is not None else b""
        return generate_latest(self.registry) + (messaging or self.messaging_exposition())
