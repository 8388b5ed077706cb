"""The SQLite driver (`gateway.store.sqlite_driver`) on a real database file: statements answer as with
the stock driver, a write transaction holds the writer lock until it ends, a waiting writer goes on
as soon as the holder commits, one that waits too long is told the database is locked, and the WAL
is checkpointed after the lock is let go."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store.database import create_engine
from gateway.store.sqlite_driver import CHECKPOINT_WAL_BYTES


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "driver.db"
    async with _engine(path) as engine, engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b BLOB)"))
    yield path


@asynccontextmanager
async def _engine(path: Path, *, timeout_ms: int = 5_000) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(_url(path), timeout_ms=timeout_ms)
    try:
        yield engine
    finally:
        await engine.dispose()


def _lock_is_free(path: Path) -> bool:
    fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the file lets go of a lock taken through it
    return True


async def test_statements_answer_as_with_the_stock_driver(database: Path) -> None:
    async with _engine(database) as engine, engine.connect() as connection:
        first = await connection.execute(text("INSERT INTO t (a) VALUES ('x') RETURNING id"))
        assert first.scalar_one() == 1
        many = await connection.execute(text("INSERT INTO t (a) VALUES (:a)"), [{"a": "y"}, {"a": "z"}])
        assert many.rowcount == 2
        updated = await connection.execute(text("UPDATE t SET a = 'w' WHERE id > 1"))
        assert updated.rowcount == 2
        rows = (await connection.execute(text("SELECT id, a FROM t ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "x"), (2, "w"), (3, "w")]
        await connection.commit()


async def test_a_write_transaction_holds_the_writer_lock_until_it_ends(database: Path) -> None:
    async with _engine(database) as engine, engine.connect() as connection:
        await connection.execute(text("SELECT count(*) FROM t"))
        assert _lock_is_free(database), "reads do not take it"
        await connection.execute(text("INSERT INTO t (a) VALUES ('x')"))
        assert not _lock_is_free(database)
        await connection.commit()
        assert _lock_is_free(database)
        await connection.execute(text("DELETE FROM t"))
        assert not _lock_is_free(database)
        await connection.rollback()
        assert _lock_is_free(database)
        with pytest.raises(OperationalError):  # refused before it began a transaction
            await connection.execute(text("INSERT INTO missing (a) VALUES ('x')"))
        assert _lock_is_free(database)


async def test_a_write_transaction_keeps_the_event_loop_from_its_first_write_to_its_commit(
    database: Path,
) -> None:
    """Holding the writer lock, a transaction never waits for its turn on a busy event loop: its
    statements and its commit run on the loop's thread (before, each was a trip to the connection's
    thread, and a busy loop kept the lock held several milliseconds longer per statement)."""
    turns = 0

    async def spin() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    spinner = asyncio.create_task(spin())
    try:
        async with _engine(database) as engine, engine.connect() as connection:
            await connection.execute(text("SELECT count(*) FROM t"))
            before = turns
            await connection.execute(text("INSERT INTO t (a) VALUES ('x')"))
            await connection.execute(text("INSERT INTO t (a) VALUES (:a)"), [{"a": "y"}, {"a": "z"}])
            rows = (await connection.execute(text("UPDATE t SET a = 'w' WHERE a = 'y' RETURNING id"))).all()
            await connection.commit()
            assert turns == before, "the loop ran other work while the transaction held the lock"
            assert [tuple(row) for row in rows] == [(2,)]
            assert _lock_is_free(database)
            await connection.execute(text("SELECT count(*) FROM t"))
            assert turns > before, "a read outside a write transaction runs on the connection's thread"
    finally:
        spinner.cancel()


async def test_a_connection_the_pool_gives_up_on_lets_the_lock_go(database: Path) -> None:
    """Invalidated in the middle of a write (as when its reset is cancelled): terminated, not closed;
    another writer must not wait on a lock nobody will release."""
    async with _engine(database, timeout_ms=2_000) as engine:
        async with engine.connect() as connection:
            await connection.execute(text("INSERT INTO t (a) VALUES ('x')"))
            assert not _lock_is_free(database)
            await connection.invalidate()
        assert _lock_is_free(database)
        started = time.monotonic()
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (a) VALUES ('y')"))
        assert time.monotonic() - started < 1


async def test_a_waiting_writer_goes_on_as_soon_as_the_holder_commits(database: Path) -> None:
    """SQLite alone would have the waiter sleep in steps of up to 100 ms (at 0.45 s into its wait, it
    sleeps from 0.428 s to 0.528 s); the writer lock hands over within a few milliseconds."""
    async with _engine(database) as holder_engine, _engine(database) as waiter_engine:
        async with holder_engine.connect() as holder:
            await holder.execute(text("INSERT INTO t (a) VALUES ('first')"))

            async def wait_and_write() -> float:
                async with waiter_engine.connect() as waiter:
                    await waiter.execute(text("INSERT INTO t (a) VALUES ('second')"))
                    done = time.monotonic()
                    await waiter.commit()
                return done

            waiting = asyncio.create_task(wait_and_write())
            await asyncio.sleep(0.45)
            assert not waiting.done()
            await holder.commit()
            committed = time.monotonic()
        async with asyncio.timeout(5):
            resumed = await waiting
        assert resumed - committed < 0.04, f"the waiter went on {1000 * (resumed - committed):.0f} ms late"


async def test_a_writer_that_waits_past_its_timeout_is_told_the_database_is_locked(database: Path) -> None:
    async with (
        _engine(database) as holder_engine,
        _engine(database, timeout_ms=300) as waiter_engine,
        holder_engine.connect() as holder,
    ):
        await holder.execute(text("INSERT INTO t (a) VALUES ('held')"))
        started = time.monotonic()
        async with waiter_engine.connect() as waiter:
            with pytest.raises(OperationalError, match="database is locked"):
                await waiter.execute(text("INSERT INTO t (a) VALUES ('late')"))
        assert 0.25 < time.monotonic() - started < 3
        await holder.commit()


async def test_the_wal_is_checkpointed_after_commits_and_stays_bounded(database: Path) -> None:
    blob = os.urandom(1024 * 1024)
    largest = 0
    async with _engine(database) as engine:
        for _ in range(3 * CHECKPOINT_WAL_BYTES // len(blob)):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t (b) VALUES (:b)"), {"b": blob})
            largest = max(largest, os.stat(f"{database}-wal").st_size)
    # Without checkpoints (SQLite's automatic ones are off) the WAL would hold all 48 MiB.
    assert largest < CHECKPOINT_WAL_BYTES + 2 * len(blob), largest
