"""`tsw bench clearance` end to end: a short run on a real stack of its own, every declaration cleared."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import asyncpg
import pytest
from rich.console import Console

from gateway.bench import ClearanceOptions, run_clearance_bench
from gateway.bench.clearance_report import report_clearance
from gateway.config import Settings
from tests.conftest import WCO_DIR

pytestmark = [pytest.mark.slow, pytest.mark.kafka]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_short_run_clears_every_declaration(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    postgres_url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    options = ClearanceOptions(
        rate=20,
        seconds=2,
        warmup_s=1,
        timeout_s=60,
        pack_dir=WCO_DIR,
        work_dir=tmp_path / "bench",
        postgres_url=postgres_url,
    )
    output = io.StringIO()
    console = Console(file=output, width=200)

    result = run_clearance_bench(Settings(), options=options, console=console)
    report_clearance(console, result)

    assert (result.submitted, result.accepted, result.cleared) == (40, 40, 40), output.getvalue()
    assert result.all_cleared and not result.not_cleared and not result.refused
    assert len(result.server_s) == 40 and result.server_unread == 0
    assert all(0 < seconds < 60 for seconds in result.client_s + result.server_s)
    assert "202 -> CLEARED (trader, SSE)" in output.getvalue()
    assert not (tmp_path / "bench" / "kafka" / "kafka.pid").exists(), "the broker was left running"
    if postgres_url is not None:
        assert "on the PostgreSQL server given" in output.getvalue()
        assert not (tmp_path / "bench" / "gateway" / "tsw.db").exists(), "the gateway ran on PostgreSQL"
        assert not asyncio.run(_bench_databases(postgres_url)), "the bench's database was left behind"


async def _bench_databases(postgres_url: str) -> list[str]:
    connection = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'tsw_bench_%'")
    finally:
        await connection.close()
    return [row["datname"] for row in rows]
