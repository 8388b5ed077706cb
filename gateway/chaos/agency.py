"""One agency's real delivery path beside a scenario, so that "each event id delivered once to
agencies" is counted where it happens: at the agency's back-end, after the adapter's consumer group
and its dedupe store.

`real_agency` starts the customs simulator (`python -m simulators run`, answering at once, no random
inspections) and its adapter (`python -m adapters run`: the `tsw-adapter-customs` consumer group,
signature check against the gateway's JWKS, the dedupe store by `ce_id`, the response published to
`tsw.responses`) as child processes, through the same `LocalServices` as `tsw up`. They run through
the whole scenario, so a killed broker or gateway hits them too: the adapter's uncommitted offsets
are read again after a broker restart, and republished records reach it, and its dedupe store must
keep each from the back-end a second time. The simulator counts every delivery by `submission_id`
(= the routed `ce_id`), and `delivered_once` compares those counts with the event ids on the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import httpx

from gateway.bench.processes import free_port
from gateway.chaos import harness
from gateway.chaos.ledger import RoutedRecord
from gateway.chaos.load import LoadResult
from gateway.chaos.report import ScenarioReport
from gateway.chaos.scenario import ChaosContext
from gateway.stack import LocalServices

__all__ = ["AgencyBackend", "delivered_once", "real_agency", "verdict_through_agency"]

AGENCY = "customs"
_ENV = {
    "TSW_SIM_CUSTOMS_INSPECTION_RATE": "0",  # every answer at once: no random inspection
    "TSW_ADAPTER_RETRY_MAX_BACKOFF_S": "2",  # back at work soon after a broker or gateway returns
}


class AgencyBackend:
    """The simulated agency back-end, asked what it received."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def received(self) -> dict[str, int]:
        """Every submission id (routed `ce_id`) delivered to the back-end, with its delivery count."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            answer = await http.get("/v1/received")
            answer.raise_for_status()
        submissions: dict[str, int] = answer.json()["submissions"]
        return submissions


@contextlib.asynccontextmanager
async def real_agency(
    context: ChaosContext, *, gateway_url: str, bootstrap_servers: str
) -> AsyncIterator[AgencyBackend]:
    """The customs simulator and adapter, logging to `work_dir/agencies/logs`; stopped on exit."""
    port = free_port()
    settings = context.settings.model_copy(
        update={"data_dir": context.work_dir / "agencies", "kafka_bootstrap_servers": bootstrap_servers}
    )
    services = LocalServices(settings, gateway_url=gateway_url, ports={AGENCY: port}, latency_ms=0, env=_ENV)
    context.progress(f"starting the {AGENCY} simulator and its adapter (a real consumer with dedupe)")
    await asyncio.to_thread(services.start)
    try:
        await asyncio.to_thread(services.wait_healthy)
        yield AgencyBackend(f"http://127.0.0.1:{port}")
    finally:
        await asyncio.to_thread(services.stop)


class Received(Protocol):
    async def received(self) -> dict[str, int]: ...


async def delivered_once(
    report: ScenarioReport, backend: Received, records: Sequence[RoutedRecord], *, timeout_s: float
) -> None:
    """Wait (bounded) until the back-end has received every event id on the agency's topic; record in
    `report` whether each arrived exactly once."""
    wanted = {record.event_id for record in records if record.agency == AGENCY}
    deadline = time.monotonic() + timeout_s
    received = await backend.received()
    while wanted - received.keys() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        received = await backend.received()
    missing = wanted - received.keys()
    twice = sum(1 for count in received.values() if count > 1)
    on_topic = sum(1 for record in records if record.agency == AGENCY)
    report.notes.append(
        f"{AGENCY}: {on_topic} records, {len(wanted)} event ids on its topic; its back-end, through the"
        f" real adapter, received {len(received)} event ids in {sum(received.values())} deliveries"
    )
    if missing:
        report.notes.append(f"{AGENCY}: {len(missing)} event ids never reached the back-end")
    report.checks[f"each {AGENCY} event id delivered to its back-end once (real adapter)"] = (
        not missing and twice == 0 and received.keys() <= wanted
    )


async def verdict_through_agency(
    context: ChaosContext,
    report: ScenarioReport,
    *,
    gateway_url: str,
    bootstrap_servers: str,
    loads: Sequence[LoadResult],
    backend: Received,
) -> None:
    """`harness.verdict`, then `delivered_once` for the real back-end over the records it read."""
    records = await harness.verdict(
        context, report, gateway_url=gateway_url, bootstrap_servers=bootstrap_servers, loads=loads
    )
    await delivered_once(report, backend, records, timeout_s=context.options.drain_timeout_s)
