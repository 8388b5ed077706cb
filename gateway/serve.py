"""Running the gateway process, alone (`tsw serve`) or with its local broker (`tsw up`)."""

from __future__ import annotations

import gc
import logging
import signal
from types import FrameType

import uvicorn
from rich.console import Console

from gateway.api.app import create_app
from gateway.bootstrap import build_gateway
from gateway.config import Settings
from gateway.localkafka import LocalKafka
from gateway.messaging_process import MessagingSupervisor

__all__ = ["run_gateway", "run_stack"]


def run_gateway(settings: Settings, *, host: str, port: int, access_log: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(build_gateway(settings))
    # Compiled schemas, code lists and the app live as long as the process: move them out of the
    # collector's generations so that full collections stay short under load.
    gc.collect()
    gc.freeze()
    # uvicorn re-raises the signal that stopped it; turn SIGTERM into SystemExit so that the
    # `finally` blocks here and in `run_stack` still stop the messaging process and the local broker.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    messaging = MessagingSupervisor(settings) if settings.messaging == "process" else None
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


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run_stack(settings: Settings, *, host: str, port: int) -> None:
    console = Console()
    kafka = LocalKafka.from_settings(settings)
    console.print(f"starting Kafka on {kafka.bootstrap_servers} (first start fetches the jars with Maven)")
    kafka.start()
    console.print(f"[green]Kafka[/]    {kafka.bootstrap_servers}")
    console.print(
        f"[green]gateway[/]  http://{host}:{port}  (API docs at /docs, keys at /.well-known/jwks.json)"
    )
    console.print("Ctrl-C stops everything")
    try:
        run_gateway(settings, host=host, port=port)
    finally:
        console.print("stopping Kafka")
        kafka.stop()
