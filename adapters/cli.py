"""`python -m adapters run --agency customs`: run one agency adapter in the foreground.

Options override the `TSW_ADAPTER_*` environment (see `adapters.config.AdapterSettings`). SIGTERM or
SIGINT stops it cleanly: the record in flight gets a short grace period to finish, otherwise it is
abandoned without committing its offset (it is redelivered to whoever reads the partition next).
Exit status: 0 after a clean stop, 1 when the adapter cannot start (bad settings, Kafka unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from adapters.config import AdapterSettings
from adapters.errors import AdapterError
from adapters.worker import AgencyAdapter

__all__ = ["app", "main", "serve"]

app = typer.Typer(
    help="Agency adapters: routed declarations -> agency back-ends -> responses.", add_completion=False
)


@app.callback(no_args_is_help=True)
def _root() -> None:
    """Agency adapters for the Trade Single Window gateway."""


@app.command()
def run(
    agency: Annotated[str | None, typer.Option(help="customs, tid, censtatd or logistics.")] = None,
    backend_url: Annotated[str | None, typer.Option(help="Agency back-end base URL.")] = None,
    jwks_url: Annotated[str | None, typer.Option(help="The gateway's JWKS URL.")] = None,
    jwks_file: Annotated[Path | None, typer.Option(help="Read the JWKS from this file instead.")] = None,
    bootstrap_servers: Annotated[str | None, typer.Option(help="Kafka bootstrap servers.")] = None,
    group_id: Annotated[str | None, typer.Option(help="Consumer group (tsw-adapter-<agency>).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Dedupe store directory.")] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
) -> None:
    """Run one agency adapter until SIGTERM or SIGINT."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {
        "agency": agency,
        "backend_url": backend_url,
        "jwks_url": jwks_url,
        "jwks_file": jwks_file,
        "kafka_bootstrap_servers": bootstrap_servers,
        "group_id": group_id,
        "data_dir": data_dir,
    }
    try:
        settings = AdapterSettings(**{name: value for name, value in overrides.items() if value is not None})
    except ValidationError as exc:
        typer.echo(f"invalid adapter settings:\n{exc}", err=True)
        raise typer.Exit(1) from exc
    try:
        uvloop.run(serve(settings))
    except (KafkaError, AdapterError, OSError) as exc:
        typer.echo(f"the {settings.agency.value} adapter cannot run: {exc!r}", err=True)
        raise typer.Exit(1) from exc


async def serve(settings: AdapterSettings) -> None:
    """Run an adapter built from `settings` until SIGTERM/SIGINT, then stop it cleanly."""
    adapter = AgencyAdapter(settings)
    loop = asyncio.get_running_loop()
    # `run()` gets a task of its own: `stop()` waits for it, and cancels it after the grace period.
    running = loop.create_task(adapter.run(), name=f"adapter-{settings.agency.value}")
    stopping: list[asyncio.Task[None]] = []

    def request_stop() -> None:
        if not stopping:
            stopping.append(loop.create_task(adapter.stop()))

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await running
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await (stopping[0] if stopping else adapter.stop())
    if not running.cancelled():
        running.result()  # re-raise whatever ended run() other than a stop


def main() -> None:
    app()
