"""Every fault scenario `tsw chaos` can run, in the order it runs them.

Each module listed here exports `SCENARIOS: tuple[Scenario, ...]` (see `gateway.chaos.scenario`).
A new module of scenarios is added here by name; nothing registers itself on import.
"""

from __future__ import annotations

from gateway.chaos.scenario import Scenario

__all__ = ["all_scenarios", "find_scenarios"]


def all_scenarios() -> tuple[Scenario, ...]:
    """Every scenario, Kafka's first, then the gateway's, the cluster's and the database's."""
    from gateway.chaos import cluster, database, gateway_kill, kafka

    modules: list[tuple[Scenario, ...]] = [
        kafka.SCENARIOS,
        gateway_kill.SCENARIOS,
        cluster.SCENARIOS,
        database.SCENARIOS,
    ]
    return tuple(scenario for group in modules for scenario in group)


def find_scenarios(names: list[str]) -> tuple[Scenario, ...]:
    """The scenarios named (all of them for none); `KeyError` names the unknown ones."""
    known = {scenario.name: scenario for scenario in all_scenarios()}
    if not names:
        return tuple(known.values())
    unknown = [name for name in names if name not in known]
    if unknown:
        raise KeyError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(known[name] for name in names)
