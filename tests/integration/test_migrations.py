"""The Alembic migrations build exactly the schema that `gateway.store.tables` describes, on both backends,
and downgrade cleanly to nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from gateway.store.database import create_engine, downgrade, migrate
from gateway.store.tables import metadata
from tests.conftest import fresh_postgres_database


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_migrations_match_the_tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        await _check(f"sqlite+aiosqlite:///{tmp_path / 'tsw.db'}")
        return
    async with fresh_postgres_database(request.getfixturevalue("postgres_url")) as url:
        await _check(url)


async def _check(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_tables) == set(metadata.tables)
        await downgrade(engine, "base")
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
    finally:
        await engine.dispose()
