"""SQLAlchemy's aiosqlite driver, tuned for several processes writing one SQLite database.

**One thread hop per read.** aiosqlite runs each SQLite call on the connection's own thread;
SQLAlchemy's adapter makes four such calls per statement (make a cursor, execute, fetch the rows,
close the cursor), each a round trip between the event loop and that thread: two context switches
and a hand-over of the GIL. `OneHopCursor` does the four in one call and keeps what SQLAlchemy reads
afterwards (rows, description, rowcount, last row id). Ending a transaction that never began (the
pool's reset of a connection that only read) is no trip at all.

**Write transactions on the event loop's thread.** A trip to the connection's thread waits for the
loop's next turn, and on a busy loop that is milliseconds: a transaction of five statements held
the writer lock (below) for 7-9 ms at the median when its SQL took about one. So once a transaction
holds the writer lock, its statements, its COMMIT and its ROLLBACK run right there, on the loop's
thread, without yielding (an executemany of more than `INLINE_MAX_ROWS` rows still goes to the
connection's thread); the write that opens a transaction does too when the lock is free at once. The
loop is held for the SQL's own time, about a millisecond, and an fsync (0.15 ms on this project's
machine). Reads outside a write transaction, which may scan, stay on the connection's thread.

**A writer lock that hands over at once.** The gateway's two processes (and the adapters' tools)
write the same file. SQLite makes a writer that finds the write lock taken sleep and retry, in steps
that grow to 100 ms; under load, transactions queued behind one another this way for hundreds of
milliseconds, and a writer could sleep long after the lock was free. Here a transaction's first
write (the statements before which the sqlite3 module begins a transaction: INSERT, UPDATE, DELETE,
REPLACE) first takes an exclusive `flock` on `<database>-writer.lock`, polled every 0.2-2 ms up to
the connection's busy timeout (then "database is locked", as SQLite would say); COMMIT or ROLLBACK
releases it. A process that dies releases its lock with it. Writers that do not take it (other
tools, a statement outside a transaction) still meet SQLite's own lock, as before.

**Checkpoints outside the lock.** SQLite's automatic WAL checkpoint runs inside the COMMIT of
whichever transaction filled the WAL, which here would keep the writer lock for its whole copy. It
is off (`wal_autocheckpoint=0`); after releasing the lock, a commit that finds the WAL file past
`CHECKPOINT_WAL_BYTES` runs a PASSIVE checkpoint itself, which never blocks other writers. SQLite
keeps the file at its size when it starts writing it from the beginning again, so from then on
every commit checkpoints the few pages it added (1-20 ms, on the connection's thread, after the lock
is let go; the committing task waits for it). Having SQLite cut the file back (`journal_size_limit`),
so that checkpoints came only every 16 MiB, was slower: at 200 declarations/s the 202 -> CLEARED
median went from 63-74 ms to 74-91 ms (four runs each, `tsw bench clearance`): the file grew again
each time, and checkpoints came in larger pieces.

A writer that does not take the writer lock (another tool) can still make a write here wait in
SQLite's busy handler, on the loop's thread; every part of the gateway takes it.

Everything else is the stock driver: connections, transactions (the sqlite3 module's own implicit
BEGIN), errors (raised from the same calls, translated by SQLAlchemy the same way) and server-side
cursors. Pass `sqlite_dbapi()` as `module=` to `create_async_engine`.
"""

from __future__ import annotations

import collections
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import immutabledict
from sqlalchemy.util.concurrency import await_

__all__ = ["OneHopCursor", "WriterLock", "sqlite_dbapi"]

_T = TypeVar("_T")

#: The statements before which Python's sqlite3 module begins a transaction (its legacy mode).
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
#: An executemany with more rows than this runs on the connection's thread, even in a write
#: transaction, so as not to hold up the event loop.
INLINE_MAX_ROWS = 1000
#: A WAL this large is checkpointed after the commit that finds it so (SQLite's default is 1000
#: pages: 16 MiB at this database's 16 KiB pages).
CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024


class WriterLock:
    """An exclusive `flock` on a file beside the database: tried at once on the event loop's thread,
    waited for on the connection's. One per connection: flock locks belong to an open file, so two
    connections of one process exclude each other too."""

    def __init__(self, database: str, *, timeout_s: float) -> None:
        self._fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.wal_path = f"{database}-wal"
        self._timeout_s = timeout_s
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free at once."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        return True

    def acquire(self) -> None:
        deadline = time.monotonic() + self._timeout_s
        pause_s = 0.0002
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError("database is locked")
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.002)

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            self.held = False
            os.close(fd)  # closing the file lets go of the lock

    def __del__(self) -> None:  # a connection dropped without close(): never keep the lock
        self.close()


_Description = tuple[tuple[Any, ...], ...] | None
_Outcome = tuple[_Description, list[Any] | None, int, int | None]


def _execute(
    connection: aiosqlite.Connection, lock: WriterLock | None, operation: str, parameters: Any
) -> _Outcome:
    """Run one statement and collect everything about it (on the connection's thread, or on the
    event loop's in a write transaction)."""
    conn = _before(connection, lock, operation)
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()
        _after(conn, lock)


def _execute_many(
    connection: aiosqlite.Connection, lock: WriterLock | None, operation: str, parameters: Sequence[Any]
) -> int:
    conn = _before(connection, lock, operation)
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.rowcount
    finally:
        cursor.close()
        _after(conn, lock)


def _before(connection: aiosqlite.Connection, lock: WriterLock | None, operation: str) -> sqlite3.Connection:
    """Take the writer lock before the write that begins a transaction."""
    conn = connection._conn  # aiosqlite's sqlite3 connection
    if lock is not None and not lock.held and not conn.in_transaction and _is_write(operation):
        lock.acquire()
    return conn


def _is_write(operation: str) -> bool:
    return operation.lstrip()[:7].upper().startswith(_WRITES)


def _after(conn: sqlite3.Connection, lock: WriterLock | None) -> None:
    """No transaction came of it (the write failed first, or ran in autocommit mode): let go."""
    if lock is not None and lock.held and not conn.in_transaction:
        lock.release()


def _end(lock: WriterLock | None, end: Callable[[], None]) -> None:
    """COMMIT or ROLLBACK, then release the writer lock."""
    try:
        end()
    finally:
        if lock is not None:
            lock.release()


def _checkpoint(conn: sqlite3.Connection) -> None:
    """On the connection's thread: a PASSIVE checkpoint (other writers carry on meanwhile)."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statements each take one call on the connection's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # Unlike the stock cursor, no sqlite3 cursor is opened up front (that is a round trip).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows = collections.deque()
        self._soft_closed_memoized = immutabledict()
        self._description: _Description = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapted = cast(_OneHopConnection, self._adapt_connection)
        async with adapted._execute_mutex:
            outcome = await adapted.run(_execute, operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows or ())

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        adapted = cast(_OneHopConnection, self._adapt_connection)
        small = len(seq_of_parameters) <= INLINE_MAX_ROWS
        async with adapted._execute_mutex:
            self._rowcount = await adapted.run(_execute_many, operation, seq_of_parameters, may_inline=small)
        self._description, self._lastrowid = None, None
        self._rows = collections.deque()

    async def _async_soft_close(self) -> None:
        """Nothing to close: each statement closed its sqlite3 cursor on the connection's thread."""

    def close(self) -> None:
        self._rows.clear()


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("writer_lock",)
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any, writer_lock: WriterLock | None) -> None:
        super().__init__(dbapi, connection)
        self.writer_lock = writer_lock

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        self._end("rollback")

    @property
    def proxy(self) -> aiosqlite.Connection:
        """aiosqlite's connection, which runs calls on its own thread."""
        return cast(aiosqlite.Connection, self._connection)

    async def on_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` on the connection's own thread."""
        return await cast(Any, self._connection)._execute(function, *args)

    async def run(
        self,
        function: Callable[[aiosqlite.Connection, WriterLock | None, str, Any], _T],
        operation: str,
        parameters: Any,
        *,
        may_inline: bool = True,
    ) -> _T:
        """`function` for one statement: here when `inline` says so, else on the connection's thread."""
        args = (self.proxy, self.writer_lock, operation, parameters)
        if may_inline and self.inline(operation):
            return function(*args)
        return cast(_T, await self.on_thread(function, *args))

    def inline(self, operation: str) -> bool:
        """Whether `operation` runs here, on the event loop's thread: every statement of a write
        transaction, and the write that opens one when the writer lock is free at once."""
        lock = self.writer_lock
        if lock is None:
            return False
        if lock.held:
            return True
        return not self.proxy._conn.in_transaction and _is_write(operation) and lock.try_acquire()

    def _end(self, how: str) -> None:
        if not self.proxy._connection:  # closed already (as the stock driver checks)
            return
        lock = self.writer_lock
        conn = self.proxy._conn
        try:
            if lock is not None and lock.held:
                _end(lock, getattr(conn, how))
            elif conn.in_transaction:
                await_(self.on_thread(_end, lock, getattr(conn, how)))
            else:  # nothing to end (sqlite3 would do nothing either): no round trip
                return
            if lock is not None and _size(lock.wal_path) > CHECKPOINT_WAL_BYTES:
                await_(self.on_thread(_checkpoint, conn))
        except Exception as error:
            self._handle_exception(error)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._drop_writer_lock()

    def terminate(self) -> None:
        """The pool gives up on the connection (invalidated, or its reset was cancelled): its
        transaction is gone with it, and so must its hold on the writer lock be."""
        try:
            super().terminate()
        finally:
            self._drop_writer_lock()

    def _drop_writer_lock(self) -> None:
        lock, self.writer_lock = self.writer_lock, None
        if lock is not None:
            lock.close()


class _OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        database = str(arg[0] if arg else kw.get("database", ""))
        in_memory_or_uri = database in ("", ":memory:") or database.startswith("file:") or kw.get("uri")
        kw["check_same_thread"] = False  # write transactions run on the event loop's thread
        stock = super().connect(*arg, **kw)
        lock = None if in_memory_or_uri else WriterLock(database, timeout_s=kw.get("timeout", 5.0))
        connection = _OneHopConnection(self, stock._connection, lock)
        if lock is not None:  # checkpoints come after the lock is released (see the module docstring)
            await_(connection.on_thread(_no_autocheckpoint, connection.proxy._conn))
        return connection


def _no_autocheckpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_autocheckpoint=0").close()


def sqlite_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DBAPI module for `create_async_engine(..., module=...)` on a `sqlite+aiosqlite` URL."""
    return _OneHopDbapi(aiosqlite, sqlite3)
