"""The gateway itself killed: `gateway-kill` (under load) and `gateway-relay-kill` (while its outbox
relay publishes a backlog).

Each kill is a SIGKILL of the gateway's whole process group (the HTTP API process and the messaging
process with the relay), then a cold `tsw serve` on the same data directory and port.

- `gateway-kill`: the paced load runs for `--seconds`; the gateway is killed at a third and at two
  thirds of it and started again at once. Clients whose connection broke retry with the same
  Idempotency-Key, so a 202 lost in flight comes back with the id the dead gateway had committed.
- `gateway-relay-kill`: the broker is stopped (cleanly: not the fault here) while the load runs, so
  every submission waits in the outbox; the broker is started again, and while the relay publishes
  that backlog the gateway is killed twice (at 70% and 35% of the backlog left) and restarted.

Must hold: nothing accepted is lost, and no declaration is routed under two event ids (a batch the
dead relay had sent but not recorded goes out again under the same ids: counted as republished).
Also: every submission eventually answered (none in doubt), and for the relay, each kill landing
while events were still waiting.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from gateway.chaos import harness
from gateway.chaos.ledger import outbox_backlog
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext, Scenario
from gateway.localkafka import LocalKafka

__all__ = ["SCENARIOS", "gateway_kill", "relay_kill"]

_KILLS_AT = (1 / 3, 2 / 3)  # of the load
_RELAY_KILLS_AT = (0.7, 0.35)  # of the backlog left
_BACKLOG_POLL_S = 0.02
_RELAY_WAIT_S = 120.0


async def gateway_kill(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("gateway-kill")
    async with (
        harness.own_broker(context) as kafka,
        harness.served_gateway(context, kafka.bootstrap_servers) as gateway,
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
        await harness.verdict(
            context,
            report,
            gateway_url=gateway.served.url,
            bootstrap_servers=kafka.bootstrap_servers,
            loads=[warm, result],
        )
    report.longest_accept_gap_s = result.longest_accept_gap_s()
    report.checks["every submission answered in the end (none in doubt)"] = result.in_doubt == 0
    return report


async def relay_kill(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("gateway-relay-kill")
    async with (
        harness.own_broker(context) as kafka,
        harness.served_gateway(context, kafka.bootstrap_servers) as gateway,
    ):
        warm = await harness.warm_up(context, gateway)
        await asyncio.to_thread(kafka.stop)
        report.faults.append("broker stopped, so that the load builds an outbox backlog")
        context.progress(f"broker stopped; load: {options.rate:g}/s for {options.seconds:g} s")
        result = await harness.new_load(context, gateway, seconds=options.seconds).run()
        await _kill_while_relaying(context, report, gateway=gateway, kafka=kafka)
        await harness.verdict(
            context,
            report,
            gateway_url=gateway.served.url,
            bootstrap_servers=kafka.bootstrap_servers,
            loads=[warm, result],
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
) -> None:
    async with httpx.AsyncClient(base_url=gateway.served.url, timeout=5) as http:
        peak = await outbox_backlog(http) or 0
        await asyncio.to_thread(kafka.start)
        report.faults.append(f"broker started again with {peak} events waiting in the outbox")
        context.progress(report.faults[-1])
        killed_mid_relay = peak > 0
        for fraction in _RELAY_KILLS_AT:
            left = await _backlog_at_most(http, int(peak * fraction))
            killed_mid_relay = killed_mid_relay and left > 0
            fault = await _kill_and_restart(gateway, at_s=None)
            report.faults.append(f"{fault}, {left} of {peak} events still to publish")
            context.progress(report.faults[-1])
    report.checks["each kill while the relay still had events to publish"] = killed_mid_relay


async def _backlog_at_most(http: httpx.AsyncClient, limit: int) -> int:
    """Wait until the relay has brought the backlog down to `limit` or less; returns it."""
    async with asyncio.timeout(_RELAY_WAIT_S):
        while True:
            backlog = await outbox_backlog(http)
            if backlog is not None and backlog <= limit:
                return backlog
            await asyncio.sleep(_BACKLOG_POLL_S)


async def _kill_and_restart(gateway: harness.TraderGateway, *, at_s: float | None) -> str:
    """SIGKILL the gateway's process group, start it again; says what was done."""
    pids = gateway.served.pids()
    started = time.monotonic()
    await asyncio.to_thread(gateway.served.kill)
    await asyncio.to_thread(gateway.served.start)
    when = f" at {at_s:.1f} s of the load" if at_s is not None else ""
    return (
        f"gateway SIGKILL ({len(pids)} processes){when}, answering again"
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
