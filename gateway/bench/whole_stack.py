"""The whole response loop, started for a benchmark: a private Kafka broker, the gateway, and for each
agency a document type routes to, its simulator and adapter.

Everything runs on free ports under `work_dir`: the broker (`kafka/`), the gateway (`gateway/`,
`tsw serve` with its default `messaging=process`, the pack given through `TSW_SCHEMA_PACKS`), and the
agencies (`agencies/`, logs in `agencies/logs/`). A broker of its own means no other consumer shares
the topics or the consumer groups. Simulators answer at once (`--latency-ms 0`) and never pick a
declaration for random inspection. Any other `TSW_*` variable in the environment reaches the
processes, which is how a run is tuned (`TSW_RELAY_IDLE_POLL_MS=5 tsw bench clearance`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil
from rich.console import Console

from gateway.bench.processes import create_client, free_port, free_ports, gateway_process, rss_mb
from gateway.config import Settings
from gateway.localkafka import LocalKafka
from gateway.stack import LocalServices

__all__ = ["RunningStack", "whole_stack"]

#: No random inspections, whatever the environment says: every declaration must be able to clear.
_SIMULATOR_ENV = {"TSW_SIM_CUSTOMS_INSPECTION_RATE": "0", "TSW_SIM_LOGISTICS_HOLD_RATE": "0"}


@dataclass(frozen=True, slots=True)
class RunningStack:
    port: int
    api_key: str
    gateway: psutil.Process
    others: Mapping[str, psutil.Process] = field(default_factory=dict)  # the broker, adapters, simulators

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the gateway's processes: the HTTP API and the messaging process."""
        found = {"gateway (HTTP API)": rss_mb(self.gateway)}
        for child in self.gateway.children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    found["gateway (messaging)"] = rss_mb(child)
        return found

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each process of the stack, by name."""
        processes = {"gateway (HTTP API)": self.gateway, **self.others}
        for child in self.gateway.children():
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    processes["gateway (messaging)"] = child
        used: dict[str, float] = {}
        for name, process in processes.items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                used[name] = times.user + times.system
        return used


@contextlib.contextmanager
def whole_stack(
    settings: Settings,
    *,
    work_dir: Path,
    pack_dir: Path,
    agencies: Sequence[str],
    console: Console,
    database_url: str | None = None,
) -> Iterator[RunningStack]:
    """`database_url`: the gateway's database (default SQLite in `work_dir/gateway`)."""
    port, controller_port = free_ports(2)
    kafka = LocalKafka(
        data_dir=work_dir / "kafka",
        cache_dir=settings.kafka_cache_dir,
        port=port,
        controller_port=controller_port,
    )
    console.print(f"starting a Kafka broker of its own on {kafka.bootstrap_servers}")
    kafka.start()
    try:
        with _gateway_and_agencies(
            settings.model_copy(update={"kafka_bootstrap_servers": kafka.bootstrap_servers}),
            work_dir=work_dir,
            pack_dir=pack_dir,
            agencies=agencies,
            console=console,
            database_url=database_url,
        ) as running:
            broker = {} if kafka.pid is None else {"Kafka broker": psutil.Process(kafka.pid)}
            yield replace(running, others={**running.others, **broker})
    finally:
        kafka.stop()


@contextlib.contextmanager
def _gateway_and_agencies(
    settings: Settings,
    *,
    work_dir: Path,
    pack_dir: Path,
    agencies: Sequence[str],
    console: Console,
    database_url: str | None,
) -> Iterator[RunningStack]:
    gateway_dir = work_dir / "gateway"
    gateway_dir.mkdir()
    api_key = create_client(gateway_dir, database_url=database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"TSW_SCHEMA_PACKS": str(pack_dir), "TSW_MESSAGING": "process"}
    console.print(f"starting the gateway on {url}; {', '.join(agencies)}: simulator and adapter")
    with gateway_process(settings, gateway_dir, port=port, env=env, database_url=database_url) as process:
        services = LocalServices(
            settings.model_copy(update={"data_dir": work_dir / "agencies"}),
            gateway_url=url,
            ports=dict(zip(agencies, free_ports(len(agencies)), strict=True)),
            latency_ms=0,
            env=_SIMULATOR_ENV,
        )
        services.start()
        try:
            services.wait_healthy()
            yield RunningStack(port, api_key, process, others=_service_processes(services))
        finally:
            services.stop()


def _service_processes(services: LocalServices) -> dict[str, psutil.Process]:
    return {
        service.name: psutil.Process(service.process.pid)
        for service in services.services
        if service.process is not None
    }
