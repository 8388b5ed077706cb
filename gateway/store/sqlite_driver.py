"""SQLAlchemy's aiosqlite driver with one thread hop per statement instead of four.

aiosqlite runs each SQLite call on the connection's own thread; SQLAlchemy's adapter makes four such
calls per statement (make a cursor, execute, fetch the rows, close the cursor), each a round trip
between the event loop and that thread: two context switches and a hand-over of the GIL. On this
project's 2-core machine those round trips were a third of the messaging process's CPU, and they
stretched every write transaction, during which SQLite's write lock is held against the other
process. `OneHopCursor` does the four steps in one call on the connection's thread and keeps what
SQLAlchemy reads afterwards (the rows, description, rowcount, last row id).

Everything else is the stock driver: connections, transactions (the sqlite3 module's own implicit
BEGIN), errors (raised from the same calls and translated by SQLAlchemy the same way) and
server-side cursors. Pass `sqlite_dbapi()` as `module=` to `create_async_engine`.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import immutabledict

__all__ = ["OneHopCursor", "sqlite_dbapi"]

_Description = tuple[tuple[Any, ...], ...] | None
_Outcome = tuple[_Description, list[Any] | None, int, int | None]


def _execute(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    """On the connection's thread: run one statement and collect everything about it."""
    cursor = connection._conn.cursor()  # aiosqlite's sqlite3 connection, on its own thread
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


def _execute_many(connection: aiosqlite.Connection, operation: str, parameters: Sequence[Any]) -> int:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.rowcount
    finally:
        cursor.close()


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
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_execute, self._connection, operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows or ())

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            self._rowcount = await self._connection._execute(
                _execute_many, self._connection, operation, seq_of_parameters
            )
        self._description, self._lastrowid = None, None
        self._rows = collections.deque()

    async def _async_soft_close(self) -> None:
        """Nothing to close: each statement closed its sqlite3 cursor on the connection's thread."""

    def close(self) -> None:
        self._rows.clear()


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class _OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection = super().connect(*arg, **kw)
        connection.__class__ = _OneHopConnection  # the same object, with the one-hop cursor class
        return connection


def sqlite_dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DBAPI module for `create_async_engine(..., module=...)` on a `sqlite+aiosqlite` URL."""
    return _OneHopDbapi(aiosqlite, sqlite3)
