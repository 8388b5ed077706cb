"""The gateway itself killed: `gateway-kill` (under load) and `gateway-relay-kill` (while its outbox
relay publishes a backlog).

Each kill is a SIGKILL of the gateway's whole process group (the HTTP API process and the messaging
process with the relay), then a cold `tsw serve` on the same data directory and port.

- `gateway-kill`: the paced load runs for `--seconds`; the gateway is killed at a third and at two
  thirds of it and started again at once. Clients whose connection broke retry with the same
  Idempotency-Key, so a 202 lost in flight comes back with the id the dead gateway had committed.
- `gateway-relay-kill`: the relay is throttled (25 events per batch, so that publishing a backlog
  takes seconds). The broker is stopped (cleanly: not the fault here) while the load runs, so every
  submission waits in the outbox; the gateway is SIGKILLed with that backlog, the broker started, the
  gateway started, and while its relay publishes the backlog the gateway is killed twice more and
  restarted: first, once 30% is published, at a moment when Kafka holds records the outbox still
  calls pending (acknowledged, not yet recorded: the relay's riskiest window), then at 35% left.

Must hold: nothing accepted is lost, and no declaration is routed under two event ids (a batch the
dead relay had sent but not recorded goes out again under the same ids: counted as republished).
Also: every submission eventually answered (none in doubt), and for the relay, each kill landing
while events were still waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx

from gateway.chaos import harness
from gateway.chaos.agency import real_agency, verdict_through_agency
from gateway.chaos.ledger import outbox_backlog
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext, Scenario
from gateway.chaos.topology import appended_records, route_offsets
from gateway.localkafka import LocalKafka

__all__ = ["SCENARIOS", "gateway_kill", "relay_kill"]

_KILLS_AT = (1 / 3, 2 / 3)  # of the load
_RELAY_KILLS_AT = (0.7, 0.35)  # of the backlog left
_BACKLOG_POLL_S = 0.01
_RELAY_WAIT_S = 180.0
#: Small relay batches: a backlog of thousands takes seconds to publish, not a fraction of one, so the
#: kills can land mid-way, and often inside a batch's acknowledged-but-not-recorded window.
_THROTTLED_RELAY = {"TSW_RELAY_BATCH_SIZE": "25"}


async def gateway_kill(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("gateway-kill")
    async with (
        harness.own_broker(context) as kafka,
        harness.served_gateway(context, kafka.bootstrap_servers) as gateway,
        real_agency(
            context, gateway_url=gateway.served.url, bootstrap_servers=kafka.bootstrap_servers
        ) as agency,
    ):
        warm = await harness.warm_up(context, gateway)
        load = harness.new_load(context, gateway, seconds=options.seconds)
        context.progress(f"load: {options.rate:g}/s for {options.seconds:g} s; gateway SIGKILLed twice")
        async with asyncio.TaskGroup() as group:
            loading = group.create_task(load.run())
            for fraction in _KILLS_AT:
                await harness.at_load_time(load, options.seconds * fraction)
                report.faults.append(await _kill_and_restart(gateway, at_s=load.elapsed_s()))
                context.progress(report.faults[-1])
        result = loading.result()
        await verdict_through_agency(
            context,
            report,
            gateway_url=gateway.served.url,
            bootstrap_servers=kafka.bootstrap_servers,
            loads=[warm, result],
            backend=agency,
        )
    report.longest_accept_gap_s = result.longest_accept_gap_s()
    report.checks["every submission answered in the end (none in doubt)"] = result.in_doubt == 0
    return report


async def relay_kill(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("gateway-relay-kill")
    async with (
        harness.own_broker(context) as kafka,
        harness.served_gateway(context, kafka.bootstrap_servers, env=_THROTTLED_RELAY) as gateway,
        real_agency(
            context, gateway_url=gateway.served.url, bootstrap_servers=kafka.bootstrap_servers
        ) as agency,
    ):
        warm = await harness.warm_up(context, gateway)
        baseline = await appended_records(kafka.bootstrap_servers)
        if baseline is None:
            raise RuntimeError("the broker did not say how many records its route topics hold")
        await asyncio.to_thread(kafka.stop)
        report.faults.append("broker stopped, so that the load builds an outbox backlog")
        context.progress(f"broker stopped; load: {options.rate:g}/s for {options.seconds:g} s")
        result = await harness.new_load(context, gateway, seconds=options.seconds).run()
        await _kill_while_relaying(context, report, gateway=gateway, kafka=kafka, baseline=baseline)
        await verdict_through_agency(
            context,
            report,
            gateway_url=gateway.served.url,
            bootstrap_servers=kafka.bootstrap_servers,
            loads=[warm, result],
            backend=agency,
        )
    report.longest_accept_gap_s = result.longest_accept_gap_s()
    report.checks["every submission answered in the end (none in doubt)"] = result.in_doubt == 0
    return report


async def _kill_while_relaying(
    context: ChaosContext,
    report: ScenarioReport,
    *,
    gateway: harness.TraderGateway,
    kafka: LocalKafka,
    baseline: int,
) -> None:
    """With the backlog built: kill the gateway (the broker still down), start the broker and watch
    its route topics, start the gateway, and kill it twice more while its relay publishes: first in
    the window between Kafka's acknowledgement of a batch and the relay's commit of it (records on the
    topics that the outbox still calls pending), then at 35% of the backlog left.

    The broker comes back before the gateway so that the watch is on before the relay can publish
    (at full speed it drains thousands of events in well under a second). `baseline` is what the
    route topics held before the broker went down."""
    async with httpx.AsyncClient(base_url=gateway.served.url, timeout=5) as http:
        peak = await outbox_backlog(http) or 0
        killed = await asyncio.to_thread(gateway.served.kill)
        report.faults.append(f"gateway SIGKILL ({killed} processes), broker down, {peak} events in outbox")
        await asyncio.to_thread(kafka.start)
        report.faults.append("broker started again")
        context.progress(f"broker started again; {peak} events wait in the outbox")
        async with asyncio.timeout(_RELAY_WAIT_S), route_offsets(kafka.bootstrap_servers) as on_kafka:
            await asyncio.to_thread(gateway.served.start)
            watch = _RelayWatch(http, on_kafka, peak=peak, baseline=baseline)
            left, unrecorded = await watch.sent_not_recorded(after_backlog=int(peak * _RELAY_KILLS_AT[0]))
            fault = await _kill_and_restart(gateway, at_s=None)
            report.faults.append(
                f"{fault}; {left} of {peak} events still to publish, {unrecorded} of them acknowledged by"
                " Kafka but not recorded as published when the kill was ordered"
            )
            context.progress(report.faults[-1])
            second = await watch.backlog_at_most(int(peak * _RELAY_KILLS_AT[1]))
            fault = await _kill_and_restart(gateway, at_s=None)
            report.faults.append(f"{fault}; {second} of {peak} events still to publish")
            context.progress(report.faults[-1])
    report.checks["each kill while the relay still had events to publish"] = left > 0 and second > 0


class _RelayWatch:
    """The outbox backlog as the gateway reports it, beside the records Kafka holds."""

    def __init__(
        self, http: httpx.AsyncClient, on_kafka: Callable[[], Awaitable[int]], *, peak: int, baseline: int
    ) -> None:
        self._http = http
        self._on_kafka = on_kafka
        self._peak = peak
        self._baseline = baseline

    async def backlog_at_most(self, limit: int) -> int:
        """Wait until the relay has brought the backlog down to `limit` or less; returns it."""
        async with asyncio.timeout(_RELAY_WAIT_S):
            while True:
                backlog = await outbox_backlog(self._http)
                if backlog is not None and backlog <= limit:
                    return backlog
                await asyncio.sleep(_BACKLOG_POLL_S)

    async def sent_not_recorded(self, *, after_backlog: int) -> tuple[int, int]:
        """Once the backlog is down to `after_backlog`, wait for a moment when Kafka holds records
        the outbox still calls pending (Kafka is read first, so a commit in between can only hide
        some); returns the backlog then and how many such records there were (0: it ran out)."""
        await self.backlog_at_most(after_backlog)
        async with asyncio.timeout(_RELAY_WAIT_S):
            while True:
                on_kafka = await self._on_kafka() - self._baseline
                backlog = await outbox_backlog(self._http)
                if backlog is not None and (backlog == 0 or on_kafka > self._peak - backlog):
                    return backlog, max(0, on_kafka - (self._peak - backlog))


async def _kill_and_restart(gateway: harness.TraderGateway, *, at_s: float | None) -> str:
    """SIGKILL the gateway's process group, start it again; says what was done."""
    started = time.monotonic()
    killed = await asyncio.to_thread(gateway.served.kill)
    await asyncio.to_thread(gateway.served.start)
    when = f" at {at_s:.1f} s of the load" if at_s is not None else ""
    return (
        f"gateway SIGKILL ({killed} processes){when}, answering again"
        f" {time.monotonic() - started:.1f} s later"
    )


SCENARIOS = (
    Scenario(
        "gateway-kill",
        "the gateway (API and messaging processes) SIGKILLed twice under load, restarted on its data:"
        " nothing accepted lost, no declaration under two event ids",
        gateway_kill,
    ),
    Scenario(
        "gateway-relay-kill",
        "the gateway SIGKILLed twice while its relay publishes a backlog, restarted: nothing lost,"
        " no declaration under two event ids",
        relay_kill,
    ),
)
