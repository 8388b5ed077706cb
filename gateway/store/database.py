"""Engine creation and schema migration.

SQLite runs in WAL mode with `synchronous=FULL` (a 202 means the row is on disk), a busy timeout and
foreign keys on, through `gateway.store.sqlite_driver` (write transactions on the event loop's
thread, one thread hop per read, and a writer lock between processes that hands over at once);
PostgreSQL is used as configured. Migrations run through Alembic on the same engine.

Waiting for the database is bounded by `timeout_ms` (`TSW_DATABASE_TIMEOUT_MS`) so that an outage
becomes a prompt 503 rather than a request hanging to its deadline: on SQLite it is the busy timeout
and the writer lock's (the write lock held by another process for longer fails with "database is
locked"); on PostgreSQL
the connect timeout and the wait for a pooled connection. PostgreSQL connections are pinged when
checked out of the pool (`pool_pre_ping`) and a disconnect error invalidates the whole pool, so
connections broken by a server restart are replaced, never handed out: the gateway recovers from a
restart on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.store.sqlite_driver import sqlite_dbapi

__all__ = ["create_engine", "downgrade", "migrate"]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_JSON: dict[str, Any] = {
    "json_serializer": lambda value: orjson.dumps(value).decode(),
    "json_deserializer": orjson.loads,
}


def create_engine(url: str, *, sqlite_synchronous: str = "FULL", timeout_ms: int = 5_000) -> AsyncEngine:
    timeout_s = timeout_ms / 1000
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(
            url,
            connect_args={"timeout": timeout_s},
            # write transactions on the loop's thread, a writer lock (gateway.store.sqlite_driver)
            **({"module": sqlite_dbapi()} if url.startswith("sqlite+aiosqlite:") else {}),
            **_JSON,
        )
        pragmas = _sqlite_pragmas(sqlite_synchronous, busy_timeout_ms=timeout_ms)
        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    connect_args = {"timeout": timeout_s} if url.startswith("postgresql+asyncpg") else {}
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_timeout=timeout_s,
        connect_args=connect_args,
        **_JSON,
    )


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema to `revision` (Alembic upgrade, sharing the engine's connection)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database schema back to `revision` (`base`: nothing left)."""
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(_config(connection), revision)


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _ensure_sqlite_dir(url: str) -> None:
    _, _, path = url.partition(":///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(synchronous: str, *, busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_size=16384")  # takes effect on a new database only
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache per connection
        cursor.execute("PRAGMA mmap_size=268435456")  # reads through the OS page cache, no read() calls
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    return on_connect
