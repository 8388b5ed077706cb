"""Another process holding SQLite's write lock: the database unavailable for writing.

SQLite lets one writer at a time hold the database; everyone else waits up to the busy timeout
(`TSW_DATABASE_TIMEOUT_MS`), then fails with "database is locked". A process that takes the lock and
keeps it (an operator's `sqlite3` shell left inside `BEGIN EXCLUSIVE`, a backup tool, a runaway
maintenance job) makes the gateway's database unavailable for writing, for as long as it holds it;
in WAL mode readers go on reading. `WriteLockHolder` is such a process: a separate Python
interpreter that opens the database, takes the lock with `BEGIN EXCLUSIVE` (waiting for the
gateway's current writer to finish), says so, and holds it until `release()`.
"""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.chaos.holders import end_holder
from gateway.errors import GatewayError

__all__ = ["WriteLockError", "WriteLockHolder"]

_HOLD = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=float(sys.argv[2]))
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the caller lets go
connection.execute("ROLLBACK")
"""


class WriteLockError(GatewayError):
    """The lock could not be taken."""


class WriteLockHolder:
    """Holds the write lock of the SQLite database at `database` from `acquire()` to `release()`."""

    def __init__(self, database: Path, *, command_prefix: Sequence[str] = ()) -> None:
        self._database = database
        self._prefix = list(command_prefix)
        self._process: subprocess.Popen[bytes] | None = None

    def acquire(self, *, timeout_s: float = 30.0) -> None:
        """Take the lock (waiting at most `timeout_s` for the current writer); return once held."""
        if self._process is not None:
            return
        process = subprocess.Popen(
            [*self._prefix, sys.executable, "-c", _HOLD, str(self._database), str(timeout_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout_s + 10)
        line = process.stdout.readline() if ready else b""
        if line.strip() != b"locked":
            process.kill()
            _, errors = process.communicate(timeout=10)
            raise WriteLockError(f"could not lock {self._database}: {errors.decode(errors='replace')[-500:]}")
        self._process = process

    def release(self) -> None:
        """Roll back and let the lock go."""
        process, self._process = self._process, None
        if process is not None:
            end_holder(process)
