"""`tsw chaos` lists its scenarios from the one registry and refuses names it does not know."""

from __future__ import annotations

from typer.testing import CliRunner

from gateway.chaos.registry import all_scenarios
from gateway.cli import app


def test_list_names_every_registered_scenario() -> None:
    result = CliRunner().invoke(app, ["chaos", "--list"])
    assert result.exit_code == 0, result.output
    names = [scenario.name for scenario in all_scenarios()]
    assert {"kafka-broker-kill", "gateway-kill", "gateway-relay-kill", "cluster-node-kill"} <= set(names)
    assert len(names) == len(set(names))
    for name in names:
        assert f"{name}:" in result.output


def test_an_unknown_scenario_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(app, ["chaos", "kafka-broker-kill", "no-such-fault"])
    assert result.exit_code == 2
    assert "no-such-fault" in result.output
