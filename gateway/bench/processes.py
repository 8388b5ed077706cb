"""The processes a benchmark starts for itself: a gateway (`tsw serve`) in a fresh data directory,
on a free port, and an API client in its database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import psutil

from gateway.config import Settings
from gateway.store.postgres_databases import create_database, drop_database

__all__ = [
    "create_client",
    "free_port",
    "free_ports",
    "fresh_postgres_database",
    "gateway_process",
    "rss_mb",
]


def free_ports(count: int) -> list[int]:
    """`count` different ports free on 127.0.0.1 now. Ports asked for one at a time can repeat: the
    kernel may hand out a port it just took back (here, about one draw of six in a thousand had two
    the same, and a Kafka cluster came up with two nodes on one port). These are held open together
    while they are chosen."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port() -> int:
    return free_ports(1)[0]


@contextlib.contextmanager
def gateway_process(
    settings: Settings,
    data_dir: Path,
    *,
    port: int,
    env: Mapping[str, str] | None = None,
    database_url: str | None = None,
) -> Iterator[psutil.Process]:
    """`tsw serve --port PORT` on `data_dir` and `settings`' broker, healthy; stopped on exit.

    `env` adds to (or overrides) the `TSW_*` environment the gateway inherits. The load generator is
    one API client standing for many traders, so the per-client rate limit is off unless set. The
    database is SQLite in `data_dir` unless `database_url` names another (never the environment's).
    """
    environment = {
        "TSW_RATE_LIMIT_PER_S": "0",
        "TSW_BULK_RATE_LIMIT_PER_S": "0",
        **os.environ,
        "TSW_DATA_DIR": str(data_dir),
        "TSW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        **(env or {}),
    }
    environment.pop("TSW_DATABASE_URL", None)
    if database_url is not None:
        environment["TSW_DATABASE_URL"] = database_url
    log = (data_dir / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=environment,
        stdout=log,
        stderr=log,
    )
    try:
        _wait_healthy(port, process)
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the gateway exited during start-up; see gateway.log in the data directory")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the gateway did not become healthy within 60 s")


def create_client(data_dir: Path, *, name: str = "bench-trader", database_url: str | None = None) -> str:
    """A trader in the database `gateway_process` would use (migrated first); returns its API key."""
    from gateway.clients import ClientService
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    async def run() -> str:
        engine = create_engine(
            database_url or Settings(data_dir=data_dir, database_url=None).effective_database_url
        )
        try:
            await migrate(engine)
            _, api_key = await ClientService(UnitOfWorkFactory(engine)).add(name, role="trader")
        finally:
            await engine.dispose()
        return api_key

    return asyncio.run(run())


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new empty database on the PostgreSQL server of `server_url`, dropped on exit; its URL
    (`gateway.store.postgres_databases`)."""
    url = asyncio.run(create_database(server_url, prefix="tsw_bench_"))
    try:
        yield url
    finally:
        asyncio.run(drop_database(server_url, url))


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20
