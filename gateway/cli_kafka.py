"""`tsw kafka start|stop|status`: the local single-node Kafka broker (see `gateway.localkafka`).

Every command builds `Settings()` (so `TSW_DATA_DIR`, `TSW_KAFKA_BOOTSTRAP_SERVERS` and
`TSW_KAFKA_CACHE_DIR` apply) and the `LocalKafka` they describe: data in ``$TSW_DATA_DIR/kafka``,
listening on the host and port of the first bootstrap server, controller on that port + 1.
`status` exits 0 only when the broker answers a real Kafka request.
"""

from __future__ import annotations

import logging
import time
from typing import NoReturn

import typer
from rich.console import Console

from gateway.config import Settings
from gateway.localkafka import LocalKafka, LocalKafkaError

__all__ = ["kafka_app"]

kafka_app = typer.Typer(
    name="kafka",
    help="Run the local single-node Kafka broker (KRaft) for development and tests.",
    no_args_is_help=True,
    add_completion=False,
)


def _local_kafka() -> LocalKafka:
    # The readiness probe polls a broker that is still starting; aiokafka logs each refused
    # attempt as an error, which is noise in a terminal.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return LocalKafka.from_settings(Settings())
    except LocalKafkaError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=1)


@kafka_app.command()
def start(
    timeout: float = typer.Option(90.0, "--timeout", help="Seconds to wait for the broker to answer."),
) -> None:
    """Fetch the jars if needed, format storage on first use, start the broker and wait for it."""
    kafka = _local_kafka()
    console = Console(highlight=False)
    if kafka.is_running() and kafka.answers():
        console.print(f"[green]Kafka is already up[/] at {kafka.bootstrap_servers} (pid {kafka.pid})")
        return
    started_at = time.monotonic()
    try:
        with console.status(f"Starting Kafka on {kafka.bootstrap_servers} ..."):
            kafka.start(timeout_s=timeout)
    except LocalKafkaError as exc:
        _fail(str(exc))
    elapsed_s = time.monotonic() - started_at
    console.print(
        f"[green]Kafka is up[/] at {kafka.bootstrap_servers} (pid {kafka.pid}, {elapsed_s:.1f} s);"
        f" data and logs in {kafka.data_dir}"
    )


@kafka_app.command()
def stop(
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait before SIGKILL."),
) -> None:
    """Stop the broker cleanly (SIGTERM, then SIGKILL after the timeout)."""
    kafka = _local_kafka()
    console = Console(highlight=False)
    if not kafka.is_running():
        console.print(f"Kafka is not running (data dir {kafka.data_dir})")
        return
    pid = kafka.pid
    try:
        with console.status(f"Stopping Kafka (pid {pid}) ..."):
            kafka.stop(timeout_s=timeout)
    except LocalKafkaError as exc:
        _fail(str(exc))
    console.print(f"[green]Kafka stopped[/] (pid {pid})")


@kafka_app.command()
def status() -> None:
    """Exit 0 when the broker answers a Kafka request, 1 otherwise."""
    kafka = _local_kafka()
    console = Console(highlight=False)
    cluster_id = kafka.cluster_id()
    pid = kafka.pid
    if cluster_id is not None:
        owner = f"pid {pid}" if pid is not None else "not started from this data dir"
        console.print(f"[green]Kafka answers[/] at {kafka.bootstrap_servers} (cluster {cluster_id}, {owner})")
        return
    if pid is not None:
        console.print(
            f"[yellow]Kafka is running[/] (pid {pid}) but does not answer at {kafka.bootstrap_servers}"
        )
    else:
        console.print(
            f"[red]Kafka is not running[/] at {kafka.bootstrap_servers} (data dir {kafka.data_dir})"
        )
    raise typer.Exit(code=1)
