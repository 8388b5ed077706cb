"""`python -m simulators`: run one agency simulator in the foreground.

    python -m simulators run --agency customs [--host 127.0.0.1] [--port 9101]
        [--latency-ms 0] [--error-rate 0] [--seed 0]

Default ports: customs 9101, tid 9102, censtatd 9103, logistics 9104. Every option falls back to its
`TSW_SIM_*` environment variable (`TSW_SIM_AGENCY`, `TSW_SIM_PORT`, ...), then to the default; the rule
tables come from the environment only (see `simulators.config`). Served by uvicorn with uvloop and
httptools; Ctrl-C stops it.
"""

from __future__ import annotations

import gc
from typing import Annotated, Any

import typer
import uvicorn

from simulators.app import create_app
from simulators.config import AGENCY_IDS, DEFAULT_PORTS, SimulatorSettings

__all__ = ["app", "main"]

app = typer.Typer(
    help="Agency back-end simulators for the Trade Single Window.", no_args_is_help=True, add_completion=False
)

_PORTS = ", ".join(f"{agency} {port}" for agency, port in DEFAULT_PORTS.items())


@app.callback()
def _root() -> None:
    """Agency back-end simulators for the Trade Single Window."""


@app.command()
def run(
    agency: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(AGENCY_IDS)} (default customs).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help=f"Port (default {_PORTS}).")] = None,
    latency_ms: Annotated[int | None, typer.Option(help="Delay before every answer (default 0).")] = None,
    error_rate: Annotated[
        float | None, typer.Option(help="Share of requests answered 503 (default 0).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of every random draw (default 0).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve one agency's simulator until interrupted."""
    given: dict[str, Any] = {
        "agency": agency,
        "host": host,
        "port": port,
        "latency_ms": latency_ms,
        "error_rate": error_rate,
        "seed": seed,
    }
    try:
        settings = SimulatorSettings(**{name: value for name, value in given.items() if value is not None})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"{settings.agency} simulator on http://{settings.host}:{settings.listen_port}", err=True)
    app = create_app(settings)
    # What start-up built (FastAPI, pydantic schemas) lives for good: keeping it out of the collector's
    # full passes saves a bulk of 1,000 consignments the occasional 40 ms pause.
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.listen_port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level="info",
    )


def main() -> None:
    app()
