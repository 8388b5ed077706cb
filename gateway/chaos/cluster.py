"""One node of a three-node KRaft cluster killed under load: `cluster-node-kill`.

Three combined broker+controller nodes (`gateway.localkafka_cluster`); the gateway creates its topics
with a replication factor of 3 (`TSW_TOPIC_REPLICATION_FACTOR=3`) and the cluster's
`min.insync.replicas` is 2, while the relay's producer uses `acks=all` with idempotence (as always): a
record Kafka acknowledged is on at least two nodes. The scenario checks that layout after the warm-up,
then runs the paced load with the same timeline as `kafka-broker-kill`: at `kill_at_s` it SIGKILLs the
active KRaft controller (also a broker, leading some of the route partitions), and starts it again
`--broker-down-s` later; the load goes on 10 s more.

Must hold: no loss, no declaration under two event ids, submissions accepted throughout (the longest
stretch without a 202 stays under 5 s) and, since two in-sync replicas remain, events still routed
while the node is down (the route topics grow during the outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from gateway.bench.processes import free_ports
from gateway.chaos import harness
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext, Scenario
from gateway.chaos.topology import appended_records, route_topology
from gateway.localkafka_cluster import LocalKafkaCluster

__all__ = ["SCENARIOS", "node_kill"]

NODES = 3
MIN_INSYNC = 2
MAX_ACCEPT_GAP_S = 5.0
_AFTER_RESTART_S = 10.0
_START_TIMEOUT_S = 240.0


@contextlib.asynccontextmanager
async def own_cluster(context: ChaosContext) -> AsyncIterator[LocalKafkaCluster]:
    ports = free_ports(2 * NODES)  # a client and a controller port per node
    cluster = LocalKafkaCluster(
        data_dir=context.work_dir / "cluster",
        cache_dir=context.settings.kafka_cache_dir,
        ports=list(zip(ports[::2], ports[1::2], strict=True)),
    )
    context.progress(f"starting a {NODES}-node KRaft cluster on {cluster.bootstrap_servers}")
    await asyncio.to_thread(cluster.start, timeout_s=_START_TIMEOUT_S)
    try:
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)


async def node_kill(context: ChaosContext) -> ScenarioReport:
    options = context.options
    report = ScenarioReport("cluster-node-kill")
    kill_at_s = min(10.0, options.seconds / 3)
    restart_at_s = kill_at_s + options.broker_down_s
    seconds = max(options.seconds, restart_at_s + _AFTER_RESTART_S)
    env = {"TSW_TOPIC_REPLICATION_FACTOR": str(NODES)}
    async with (
        own_cluster(context) as cluster,
        harness.served_gateway(context, cluster.bootstrap_servers, env=env) as gateway,
    ):
        warm = await harness.warm_up(context, gateway)
        topology = await route_topology(cluster.bootstrap_servers)
        durable = topology.durable(replicas=NODES, min_insync=MIN_INSYNC)
        report.checks[f"route topics on {NODES} replicas, min.insync.replicas {MIN_INSYNC}"] = durable
        load = harness.new_load(context, gateway, seconds=seconds)
        context.progress(f"load: {options.rate:g}/s for {seconds:.0f} s; node SIGKILL at {kill_at_s:.0f} s")
        async with asyncio.TaskGroup() as group:
            loading = group.create_task(load.run())
            await harness.at_load_time(load, kill_at_s)
            victim = cluster.quorum_leader() or 1
            before = await appended_records(cluster.bootstrap_servers)
            await asyncio.to_thread(cluster.kill_node, victim)
            killed = time.monotonic()
            report.faults.append(
                f"node {victim} (active controller, leader of {topology.leaders.get(victim, 0)} of"
                f" {topology.partitions} route partitions) SIGKILL at {load.elapsed_s():.1f} s of the load"
            )
            context.progress(report.faults[-1])
            await asyncio.sleep(max(0.0, killed + options.broker_down_s - time.monotonic()))
            during = await appended_records(cluster.bootstrap_servers)
            down_s = time.monotonic() - killed
            restarted_at_s = load.elapsed_s()
            await asyncio.to_thread(cluster.start_node, victim)
            report.faults.append(
                f"node {victim} started again at {restarted_at_s:.1f} s ({down_s:.1f} s down),"
                f" answering at {load.elapsed_s():.1f} s"
            )
            context.progress(report.faults[-1])
        result = loading.result()
        await harness.verdict(
            context,
            report,
            gateway_url=gateway.served.url,
            bootstrap_servers=cluster.bootstrap_servers,
            loads=[warm, result],
        )
    routed_while_down = (during or 0) - (before or 0)
    report.notes.append(f"{routed_while_down} records appended to the route topics while the node was down")
    report.longest_accept_gap_s = result.longest_accept_gap_s()
    report.checks[f"202s throughout (longest gap < {MAX_ACCEPT_GAP_S:g} s)"] = (
        report.longest_accept_gap_s < MAX_ACCEPT_GAP_S
    )
    report.checks["events routed while the node was down"] = routed_while_down > 0
    return report


SCENARIOS = (
    Scenario(
        "cluster-node-kill",
        f"one node of a {NODES}-node KRaft cluster (RF {NODES}, min.insync.replicas {MIN_INSYNC}) SIGKILLed"
        " under load: no loss, 202s and routing throughout",
        node_kill,
    ),
)
