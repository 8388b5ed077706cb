"""The steps every scenario shares: a broker and a gateway of its own, a warm-up, the load, the verdict.

`own_broker` and `served_gateway` are async context managers that start a single-node broker and a
`tsw serve` under the scenario's work dir, on free ports, and stop them however the scenario ends.
`warm_up` sends a few declarations and waits until they are published, so that the topics exist and
the relay is connected before any fault. `at_load_time` waits until the load has run so long, so a
fault lands at a known moment. `verdict` waits for the relay to drain, reads the route topics and
fills the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence

from gateway.bench.processes import free_port, free_ports
from gateway.chaos.ledger import RoutedRecord, judge, read_routed, wait_drained
from gateway.chaos.load import LoadResult, SustainedLoad, example_documents
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext
from gateway.chaos.served import ServedGateway
from gateway.chaos.tally import accepted_routes, tally
from gateway.localkafka import LocalKafka

__all__ = [
    "TraderGateway",
    "at_load_time",
    "new_load",
    "own_broker",
    "served_gateway",
    "verdict",
    "warm_up",
]

_BROKER_START_TIMEOUT_S = 180.0
_WARM_UP_SUBMISSIONS = 4
_RELOOK_S = 2.0  # after the outbox looked drained, how long lost declarations are looked for again


@contextlib.asynccontextmanager
async def own_broker(context: ChaosContext, *, name: str = "kafka") -> AsyncIterator[LocalKafka]:
    """A single-node broker of the scenario's own, on free ports in `work_dir/name`."""
    port, controller_port = free_ports(2)
    kafka = LocalKafka(
        data_dir=context.work_dir / name,
        cache_dir=context.settings.kafka_cache_dir,
        port=port,
        controller_port=controller_port,
    )
    context.progress(f"starting a Kafka broker on {kafka.bootstrap_servers}")
    await asyncio.to_thread(kafka.start, timeout_s=_BROKER_START_TIMEOUT_S)
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.stop)


class TraderGateway:
    """A served gateway and the API key of the trader the load submits as."""

    def __init__(self, served: ServedGateway, api_key: str) -> None:
        self.served = served
        self.api_key = api_key


@contextlib.asynccontextmanager
async def served_gateway(
    context: ChaosContext,
    bootstrap_servers: str,
    *,
    env: Mapping[str, str] | None = None,
    name: str = "gateway",
    command_prefix: Sequence[str] = (),
) -> AsyncIterator[TraderGateway]:
    """`tsw serve` on a free port with its data in `work_dir/name`, a trader added first."""
    served = ServedGateway(
        data_dir=context.work_dir / name,
        port=free_port(),
        bootstrap_servers=bootstrap_servers,
        env=env,
        command_prefix=command_prefix,
    )
    api_key = await asyncio.to_thread(served.add_trader, "chaos-trader")
    context.progress(f"starting the gateway on {served.url}")
    await asyncio.to_thread(served.start)
    try:
        yield TraderGateway(served, api_key)
    finally:
        await asyncio.to_thread(served.stop)


def new_load(context: ChaosContext, gateway: TraderGateway, *, seconds: float) -> SustainedLoad:
    """The scenario's paced load at `context.options.rate` for `seconds`."""
    return SustainedLoad(
        host="127.0.0.1",
        port=gateway.served.port,
        api_key=gateway.api_key,
        documents=example_documents(context.settings.builtin_packs_dir),
        rate=context.options.rate,
        seconds=seconds,
        concurrency=context.options.concurrency,
    )


async def warm_up(context: ChaosContext, gateway: TraderGateway) -> LoadResult:
    """A few declarations, published before any fault (topics created, relay connected)."""
    load = SustainedLoad(
        host="127.0.0.1",
        port=gateway.served.port,
        api_key=gateway.api_key,
        documents=example_documents(context.settings.builtin_packs_dir),
        rate=_WARM_UP_SUBMISSIONS,
        seconds=1.0,
        concurrency=1,
    )
    result = await load.run()
    if await wait_drained(gateway.served.url, timeout_s=120) is None:
        raise RuntimeError("the warm-up declarations were not published within 120 s")
    return result


async def at_load_time(load: SustainedLoad, seconds: float) -> None:
    """Return once `load` has been running for `seconds`."""
    while not load.result.started_at:  # noqa: ASYNC110 - the load task starts at its first step
        await asyncio.sleep(0.01)
    await asyncio.sleep(max(0.0, seconds - load.elapsed_s()))


async def verdict(
    context: ChaosContext,
    report: ScenarioReport,
    *,
    gateway_url: str,
    bootstrap_servers: str,
    loads: Sequence[LoadResult],
) -> list[RoutedRecord]:
    """Wait (bounded) for the outbox to drain, read every route topic, and fill `report`; returns the
    records read."""
    context.progress("waiting for the outbox relay to publish everything")
    waited_s = await wait_drained(gateway_url, timeout_s=context.options.drain_timeout_s)
    if waited_s is None:
        report.notes.append(f"the outbox did not drain within {context.options.drain_timeout_s:.0f} s")
    else:
        report.notes.append(f"outbox drained {waited_s:.1f} s after the load")
    routes = accepted_routes(loads)
    context.progress("reading every tsw.route.* topic from the beginning")
    records = await read_routed(bootstrap_servers)
    figures = judge(routes, records)
    deadline = time.monotonic() + _RELOOK_S
    while figures.lost and time.monotonic() < deadline:  # a drained outbox should have left none
        await asyncio.sleep(0.5)
        records = await read_routed(bootstrap_servers)
        figures = judge(routes, records)
    tally(report, loads, figures)
    return records
