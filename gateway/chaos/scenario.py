"""The shape of a fault scenario: what `tsw chaos` hands it, and what it hands back.

A scenario is an async function taking a `ChaosContext` and returning a `ScenarioReport`::

    async def broker_kill(context: ChaosContext) -> ScenarioReport: ...

    SCENARIOS = (Scenario("kafka-broker-kill", "the broker SIGKILLed under load, back 30 s later",
                          broker_kill),)

Each module of scenarios (`gateway.chaos.kafka`, `gateway.chaos.gateway_kill`, `gateway.chaos.cluster`,
`gateway.chaos.database`) exports such a `SCENARIOS` tuple, and `gateway.chaos.registry` lists the
modules: `tsw chaos` and the slow tests find scenarios there and nowhere else, so a test runs exactly
what the command runs.

Rules every scenario keeps:

- it starts everything it needs (broker or brokers, gateway, database) on free ports under
  `context.work_dir`, which is fresh and its own, and stops all of it before returning, also when it
  fails: a scenario never touches the developer's broker, database or `var/`;
- it kills real processes (SIGKILL, or the server's own stop), never a stub;
- blocking work (starting a broker, waiting for a process) runs through `asyncio.to_thread`, and every
  wait is bounded (`asyncio.timeout`);
- it reports what it did in `report.faults` ("broker SIGKILL at 12.0 s"), fills the counts from the
  load (`gateway.chaos.load`) and the ledger of what reached Kafka (`gateway.chaos.ledger`), and
  records any scenario-specific property in `report.checks`; it raises only when it could not run at
  all (a broker that would not start), never to signal a loss: a loss is a figure in the report;
- `context.progress(text)` says what it is doing now (shown live by `tsw chaos`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.chaos.report import ScenarioReport
from gateway.config import Settings

__all__ = ["ChaosContext", "ChaosOptions", "Scenario", "ScenarioRun"]


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    """What the person running `tsw chaos` chose; the same for every scenario of a run."""

    seconds: float = 30.0  # length of the sustained submission load
    rate: float = 50.0  # submissions per second, paced (an open loop)
    concurrency: int = 8  # keep-alive clients sharing that rate
    broker_down_s: float = 30.0  # how long a killed broker stays down before it is restarted
    database_down_s: float = 10.0  # how long the database stays locked, full or stopped
    drain_timeout_s: float = 240.0  # bound on waiting for the outbox relay to publish everything
    postgres_url: str | None = None  # a server the database scenarios may create databases on


@dataclass(frozen=True, slots=True)
class ChaosContext:
    """What one scenario run gets: the caller's settings, a fresh directory, the options."""

    settings: Settings  # the caller's: Kafka jar cache, built-in schema packs (not its data dir)
    work_dir: Path  # fresh, empty and this run's alone: brokers, gateway data dirs, logs
    options: ChaosOptions
    progress: Callable[[str], None]  # one line on what the scenario is doing now


#: An `async def` taking the context and returning the report.
ScenarioRun = Callable[[ChaosContext], Coroutine[Any, Any, ScenarioReport]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str  # what `tsw chaos NAME` selects, e.g. "kafka-broker-kill"
    summary: str  # one line: the fault and what must hold
    run: ScenarioRun
    needs_postgres: bool = False  # not run without `ChaosOptions.postgres_url`
