"""The gateway's metrics: one scrape shows the API's and the messaging workers', wherever those run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import Metrics, MetricsSnapshot, private_snapshot


def _values(exposition: bytes) -> dict[str, float]:
    families = list(text_string_to_metric_families(exposition.decode()))
    names = [family.name for family in families]
    assert len(names) == len(set(names)), f"a family twice in one scrape: {names}"
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in families
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_workers_in_the_same_process_are_counted_in_the_scrape() -> None:
    metrics = Metrics()
    metrics.submissions.labels("hk.tdec", "accepted").inc()
    metrics.events_published.labels("tsw.route.customs").inc(2)
    values = _values(metrics.render())
    assert values["tsw_submissions_total[('document_type', 'hk.tdec'), ('outcome', 'accepted')]"] == 1
    assert values["tsw_events_published_total[('topic', 'tsw.route.customs')]"] == 2
    assert abs(values["tsw_messaging_metrics_time_seconds[]"] - time.time()) < 5  # taken just now


def test_a_messaging_process_counts_reach_the_api_scrape_through_its_snapshot(tmp_path: Path) -> None:
    snapshot = MetricsSnapshot(tmp_path / "metrics.prom")
    api = Metrics(messaging_snapshot=snapshot)
    messaging = Metrics()  # as built in the messaging process
    api.submissions.labels("hk.tdec", "accepted").inc()
    topic = "tsw_events_published_total[('topic', 'tsw.route.customs')]"

    before = _values(api.render())  # nothing published yet: the workers' families, at zero
    assert before["tsw_relay_failures_total[]"] == 0
    assert topic not in before

    messaging.events_published.labels("tsw.route.customs").inc(3)
    messaging.answers.labels("applied").inc()
    snapshot.publish(messaging.messaging_exposition())
    after = _values(api.render())
    assert after[topic] == 3
    assert after["tsw_agency_answers_total[('outcome', 'applied')]"] == 1
    assert after["tsw_submissions_total[('document_type', 'hk.tdec'), ('outcome', 'accepted')]"] == 1

    messaging.events_published.labels("tsw.route.customs").inc()
    snapshot.publish(messaging.messaging_exposition())
    published_at = time.time()
    time.sleep(0.01)
    later = _values(api.render())
    assert later[topic] == 4
    # When the snapshot was taken, not when it was read: a stuck messaging process shows.
    assert later["tsw_messaging_metrics_time_seconds[]"] <= published_at
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.prom"], "no partial file left behind"


def test_a_private_snapshot_is_removed_and_so_are_those_of_dead_gateways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    orphaned = tmp_path / f"tsw-messaging-metrics-{dead.stdout.strip()}-abc"  # its process exited
    alive = tmp_path / f"tsw-messaging-metrics-{os.getppid()}-def"  # a gateway still running
    unrelated = tmp_path / "tsw-messaging-metrics-notapid"
    for directory in (orphaned, alive, unrelated):
        directory.mkdir()
    with private_snapshot() as snapshot:
        assert snapshot.path.parent.name.startswith(f"tsw-messaging-metrics-{os.getpid()}-")
        snapshot.publish(b"# nothing\n")
        assert snapshot.read() == b"# nothing\n"
        mine = snapshot.path.parent
    assert not mine.exists()
    assert not orphaned.exists()
    assert alive.exists() and unrelated.exists()
