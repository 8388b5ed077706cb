"""The broker killed under load: `kafka-broker-kill`.

A single-node broker and a gateway of the scenario's own; a warm-up; then the paced load. At
`kill_at_s` (a third of `--seconds`, at most 10 s) the broker is SIGKILLed, and `--broker-down-s`
(30 s by default, as issue 5 asks) later it is started again on the same data. The load goes on for
at least 10 s after the restart (so it lasts `max(--seconds, kill_at_s + broker_down_s + 10)`).

Must hold: every declaration that got a 202 is routed to each of its agencies, and each under one
event id (`gateway.chaos.ledger`). Also reported: the longest stretch without a 202 (the gateway
accepts while Kafka is down: submissions land in the outbox) and the records republished under the
same event id (the relay's producer lost its session mid-batch; adapters drop those).
"""

from __future__ import annotations

import asyncio
import time

from gateway.chaos import harness
from gateway.chaos.agency import real_agency, verdict_through_agency
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext, Scenario

__all__ = ["SCENARIOS", "broker_kill"]

_AFTER_RESTART_S = 10.0
#: Submissions do not need Kafka: a stretch without a 202 longer than this is a failure.
MAX_ACCEPT_GAP_S = 5.0


async def broker_kill(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("kafka-broker-kill")
    kill_at_s = min(10.0, options.seconds / 3)
    restart_at_s = kill_at_s + options.broker_down_s
    seconds = max(options.seconds, restart_at_s + _AFTER_RESTART_S)
    async with (
        harness.own_broker(context) as kafka,
        harness.served_gateway(context, kafka.bootstrap_servers) as gateway,
        real_agency(
            context, gateway_url=gateway.served.url, bootstrap_servers=kafka.bootstrap_servers
        ) as agency,
    ):
        warm = await harness.warm_up(context, gateway)
        load = harness.new_load(context, gateway, seconds=seconds)
        context.progress(f"load: {options.rate:g}/s for {seconds:.0f} s; broker SIGKILL at {kill_at_s:.0f} s")
        async with asyncio.TaskGroup() as group:
            loading = group.create_task(load.run())
            await harness.at_load_time(load, kill_at_s)
            await asyncio.to_thread(kafka.kill)
            killed = time.monotonic()
            report.faults.append(f"broker SIGKILL at {load.elapsed_s():.1f} s of the load")
            context.progress(f"broker killed; restarting it in {options.broker_down_s:g} s")
            await asyncio.sleep(max(0.0, killed + options.broker_down_s - time.monotonic()))
            restarted_at_s, down_s = load.elapsed_s(), time.monotonic() - killed
            await asyncio.to_thread(kafka.start)
            report.faults.append(
                f"broker started again at {restarted_at_s:.1f} s ({down_s:.1f} s down),"
                f" answering at {load.elapsed_s():.1f} s"
            )
            context.progress("broker back; load continues")
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
    report.checks[f"202s throughout (longest gap < {MAX_ACCEPT_GAP_S:g} s)"] = (
        report.longest_accept_gap_s < MAX_ACCEPT_GAP_S
    )
    return report


SCENARIOS = (
    Scenario(
        "kafka-broker-kill",
        "the broker SIGKILLed under load and restarted --broker-down-s later: every 202 routed, once",
        broker_kill,
    ),
)
