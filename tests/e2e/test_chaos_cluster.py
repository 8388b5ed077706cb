"""Issue 5: a 3-node KRaft cluster (replication factor 3, min.insync.replicas 2), one node SIGKILLed
during load: no loss, and submissions keep being accepted throughout (`tsw chaos cluster-node-kill`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.chaos.scenario import ChaosOptions
from tests.e2e.chaos_runs import assert_nothing_lost_or_duplicated, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.timeout(600)]


def test_one_node_of_three_killed_under_load_loses_nothing_and_never_stops_accepting(tmp_path: Path) -> None:
    report = run_chaos("cluster-node-kill", tmp_path, ChaosOptions(seconds=20, rate=50, broker_down_s=30))

    assert_nothing_lost_or_duplicated(report)
    assert "active controller" in report.faults[0]
    assert report.checks["route topics on 3 replicas, min.insync.replicas 2"]
    assert report.checks["events routed while the node was down"]
    assert report.longest_accept_gap_s is not None and report.longest_accept_gap_s < 5
