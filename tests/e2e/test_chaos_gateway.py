"""Issue 5: the gateway SIGKILLed (API and messaging processes) during load and during the outbox
relay, then restarted on its data: nothing accepted is lost, no declaration is routed under two event
ids (`tsw chaos gateway-kill gateway-relay-kill`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.chaos.scenario import ChaosOptions
from tests.e2e.chaos_runs import assert_nothing_lost_or_duplicated, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.timeout(600)]


def test_a_gateway_killed_under_load_loses_nothing_accepted(tmp_path: Path) -> None:
    report = run_chaos("gateway-kill", tmp_path, ChaosOptions(seconds=20, rate=50))

    assert_nothing_lost_or_duplicated(report)
    assert [fault.split(" (")[0] for fault in report.faults] == ["gateway SIGKILL", "gateway SIGKILL"]
    assert report.connection_errors > 0, "the kills broke no client connection: they proved nothing"
    assert report.in_doubt == 0


def test_a_gateway_killed_while_its_relay_publishes_loses_and_renames_nothing(tmp_path: Path) -> None:
    report = run_chaos("gateway-relay-kill", tmp_path, ChaosOptions(seconds=20, rate=50))

    assert_nothing_lost_or_duplicated(report)
    kills = [fault for fault in report.faults if fault.startswith("gateway SIGKILL")]
    assert len(kills) == 3, report.faults
    # The first kill while publishing was ordered between Kafka's acknowledgement of a batch and the
    # relay's commit of it. Whether the commit won that race varies: when it lost, the batch went out
    # again under the same event ids (republished; adapters drop the repeats), never under new ones.
    unrecorded = re.search(r"(\d+) of them acknowledged by Kafka but not recorded", kills[1])
    assert unrecorded is not None and int(unrecorded.group(1)) > 0, kills[1]
    assert report.duplicated == 0
