"""Running the gateway process, alone (`tsw serve`) or with the whole local stack (`tsw up`)."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn
from rich.console import Console
from rich.table import Table

from gateway.api.app import create_app
from gateway.bootstrap import build_gateway
from gateway.config import Settings
from gateway.doorbell import Doorbells
from gateway.localkafka import LocalKafka
from gateway.logs import configure_logging
from gateway.messaging_process import MessagingSupervisor
from gateway.metrics import MetricsSnapshot, private_snapshot
from gateway.stack import LocalServices

__all__ = ["run_gateway", "run_stack"]


def run_gateway(settings: Settings, *, host: str, port: int, access_log: bool = False) -> None:
    configure_logging()
    with _messaging_link(settings) as link:
        doorbells, snapshot = link or (None, None)
        app = create_app(build_gateway(settings, doorbells=doorbells, messaging_metrics=snapshot))
        # Compiled schemas, code lists and the app live as long as the process: move them out of the
        # collector's generations so that full collections stay short under load.
        gc.collect()
        gc.freeze()
        # uvicorn re-raises the signal that stopped it; turn SIGTERM into SystemExit so that the
        # `finally` blocks here and in `run_stack` still stop the messaging process and the local broker.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        messaging = MessagingSupervisor(settings, *link) if link is not None else None
        if messaging is not None:
            messaging.start()
        try:
            uvicorn.run(
                app,
                host=host,
                port=port,
                loop="uvloop",
                http="httptools",
                access_log=access_log,
                proxy_headers=False,
                log_level="info",
                timeout_graceful_shutdown=10,
            )
        finally:
            if messaging is not None:
                messaging.stop()


@contextmanager
def _messaging_link(settings: Settings) -> Iterator[tuple[Doorbells, MetricsSnapshot] | None]:
    """What the API shares with a messaging process of its own (`TSW_MESSAGING=process`): the
    doorbells, and a file in a private temporary directory for the messaging metrics."""
    if settings.messaging != "process":
        yield None
        return
    with private_snapshot() as snapshot:
        yield Doorbells(), snapshot


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run_stack(settings: Settings, *, host: str, port: int) -> None:
    """Kafka, the agency simulators and adapters, then the gateway in the foreground; Ctrl-C stops all."""
    console = Console()
    kafka = LocalKafka.from_settings(settings)
    console.print(f"starting Kafka on {kafka.bootstrap_servers} (first start fetches the jars with Maven)")
    kafka.start()
    services = LocalServices(settings, gateway_url=f"http://{host}:{port}")
    try:
        services.start()
        _print_stack(console, kafka, services, host=host, port=port)
        run_gateway(settings, host=host, port=port)
    finally:
        console.print("stopping the adapters, the simulators and Kafka")
        services.stop()
        kafka.stop()


def _print_stack(
    console: Console, kafka: LocalKafka, services: LocalServices, *, host: str, port: int
) -> None:
    table = Table(title="Trade Single Window: local stack", show_header=True)
    table.add_column("component")
    table.add_column("where")
    table.add_column("log")
    table.add_row("gateway", f"http://{host}:{port}  (docs /docs, events /asyncapi.yaml)", "this terminal")
    table.add_row("Kafka", kafka.bootstrap_servers, str(kafka.log_file))
    for service in services.services:
        table.add_row(service.name, service.url or "consumer group", str(service.log))
    console.print(table)
    console.print("Ctrl-C stops everything")
