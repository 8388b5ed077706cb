"""Issue 5: the Kafka broker SIGKILLed during a sustained submission load and restarted 30 s later:
every declaration that got a 202 is routed, each under one event id (`tsw chaos kafka-broker-kill`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.chaos.scenario import ChaosOptions
from tests.e2e.chaos_runs import assert_nothing_lost_or_duplicated, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.timeout(600)]


def test_a_broker_killed_under_load_and_back_30_s_later_loses_nothing(tmp_path: Path) -> None:
    report = run_chaos("kafka-broker-kill", tmp_path, ChaosOptions(seconds=20, rate=50, broker_down_s=30))

    assert_nothing_lost_or_duplicated(report)
    assert report.faults[0].startswith("broker SIGKILL")
    down = re.search(r"\(([\d.]+) s down\)", report.faults[1])
    assert down is not None and float(down.group(1)) >= 30, report.faults
    # Submissions never needed Kafka: 202s went on while it was down (≥ 30 s of the ~47 s load).
    assert report.accepted >= 0.9 * 50 * 46
    assert report.longest_accept_gap_s is not None and report.longest_accept_gap_s < 5
    # Counted at the agency: the customs back-end, behind the real adapter (consumer group, dedupe).
    assert report.checks["each customs event id delivered to its back-end once (real adapter)"]
