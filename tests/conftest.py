"""Shared fixtures: a real Kafka broker for the session, real databases, a running gateway.

Under `CI=true` (and always, for Kafka) a missing service fails the test run; nothing is skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.bench.processes import free_port as free_port  # re-exported: the tests take their ports here
from gateway.bench.processes import free_ports as free_ports
from gateway.bootstrap import Gateway, build_gateway
from gateway.config import REPO_ROOT, Settings
from gateway.localkafka import LocalKafka
from gateway.store.postgres_databases import create_database, drop_database

WCO_DIR = Path(os.environ.get("TSW_TEST_WCO_DIR", REPO_ROOT.parent / "shared" / "reference" / "wco-dms"))


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real single-node Kafka 4.x (KRaft) broker on free ports, for the whole session."""
    port, controller_port = free_ports(2)
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("kafka"),
        cache_dir=Settings().kafka_cache_dir,
        port=port,
        controller_port=controller_port,
    )
    broker.start(timeout_s=180)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server, started by `make test` through deploy/postgres/test-server.sh."""
    url = os.environ.get("TSW_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "TSW_TEST_POSTGRES_URL is not set: run the suite with `make test`, which starts PostgreSQL"
        )
    return url


@dataclass
class RunningGateway:
    gateway: Gateway
    http: httpx.AsyncClient
    settings: Settings

    async def add_client(
        self, name: str, role: str = "trader", *, agency: str | None = None
    ) -> dict[str, str]:
        """A new client's `Authorization` header; an `agency` client reads for `customs` by default."""
        if role == "agency" and agency is None:
            agency = "customs"
        _, api_key = await self.gateway.clients.add(name, role=role, agency=agency)
        return {"Authorization": f"Bearer {api_key}"}


def gateway_settings(tmp_path: Path, kafka: LocalKafka, **overrides: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        schema_packs=[WCO_DIR],
        messaging="inline",
        # A group of its own: a test's gateway never waits for the previous test's to leave the group.
        response_group_id=f"tsw-gateway-responses-{uuid.uuid4().hex[:8]}",
        response_offset_reset="latest",
        relay_idle_poll_ms=50,
        kafka_request_timeout_ms=5000,
        **overrides,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def start_gateway(settings: Settings) -> AsyncIterator[RunningGateway]:
    from gateway.api.app import create_app

    gateway = build_gateway(settings)
    app = create_app(gateway)
    await gateway.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield RunningGateway(gateway=gateway, http=http, settings=settings)
    finally:
        await gateway.stop()


@pytest.fixture
async def running(tmp_path: Path, kafka: LocalKafka) -> AsyncIterator[RunningGateway]:
    """A gateway on SQLite in a fresh data dir, wired to the session broker, served in-process."""
    async with start_gateway(gateway_settings(tmp_path, kafka)) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgres"])
async def backend_gateway(
    request: pytest.FixtureRequest, tmp_path: Path, kafka: LocalKafka
) -> AsyncIterator[RunningGateway]:
    """The same gateway on each database backend: SQLite in a temp dir, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        async with start_gateway(gateway_settings(tmp_path, kafka)) as running:
            yield running
        return
    base_url: str = request.getfixturevalue("postgres_url")
    async with (
        fresh_postgres_database(base_url) as url,
        start_gateway(gateway_settings(tmp_path, kafka, database_url=url)) as running,
    ):
        yield running


@asynccontextmanager
async def fresh_postgres_database(base_url: str) -> AsyncIterator[str]:
    """A new empty database on the test server, dropped afterwards."""
    url = await create_database(base_url, prefix="tsw_")
    try:
        yield url
    finally:
        await drop_database(base_url, url)
