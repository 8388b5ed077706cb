"""A PostgreSQL server of a scenario's (or a test's) own, to stop and start at will.

Restarting the shared test server (`deploy/postgres/test-server.sh`) would break every other test
using it, so a database fault runs on a private server: Debian's `postgresql` binaries
(`/usr/lib/postgresql/<version>/bin`, or `bin_dir`), a fresh cluster (`initdb`) in a directory of its
own, listening on 127.0.0.1 at a free port only (no Unix socket), password authentication
(SCRAM) for one superuser `tsw` with a random password. `stop(mode=...)` is `pg_ctl stop` in one of
PostgreSQL's shutdown modes: `fast` (sessions are told "terminating connection due to
administrator command" and their transactions rolled back: a planned restart) or `immediate`
(every server process quits at once and the next start runs crash recovery: as after a crash).

PostgreSQL refuses to run as root. Run as root (CI), the cluster belongs to the `postgres` user of
the Debian package: its commands run through `runuser -u postgres`, and its directory is a temporary
one outside the caller's (pytest's and `tsw chaos`'s directories are private to root), removed by
`close()`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from gateway.errors import GatewayError

__all__ = ["LocalPostgres", "LocalPostgresError", "find_postgres_bin_dir"]

_SERVER_USER = "postgres"  # Debian's package creates it; used only when we are root
_SUPERUSER = "tsw"
_TIMEOUT_S = 120


class LocalPostgresError(GatewayError):
    """The private PostgreSQL server cannot be set up, started or stopped."""


def find_postgres_bin_dir() -> Path | None:
    """The newest `/usr/lib/postgresql/<version>/bin` holding a `postgres` server (Debian's layout)."""
    root = Path("/usr/lib/postgresql")
    candidates = [path / "bin" for path in root.glob("*") if (path / "bin" / "postgres").exists()]
    if not candidates:
        return None
    return max(candidates, key=lambda path: _version_key(path.parent.name))


class LocalPostgres:
    """One private cluster: `start()` (initialising it the first time), `stop(mode=)`, `close()`."""

    def __init__(self, directory: Path, *, port: int, bin_dir: Path | None = None) -> None:
        found = bin_dir or find_postgres_bin_dir()
        if found is None:
            raise LocalPostgresError(
                "PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)"
            )
        self._bin_dir = found
        self._port = port
        self._as_root = os.geteuid() == 0
        self._own_dir: Path | None = None
        if self._as_root:  # the server user cannot reach a directory private to root
            self._own_dir = Path(tempfile.mkdtemp(prefix="tsw-postgres-"))
            directory = self._own_dir
        self._dir = directory
        self._password = secrets.token_urlsafe(16)

    @property
    def port(self) -> int:
        return self._port

    @property
    def data_dir(self) -> Path:
        return self._dir / "data"

    @property
    def log_file(self) -> Path:
        return self._dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this server, as the superuser."""
        return f"postgresql+asyncpg://{_SUPERUSER}:{self._password}@127.0.0.1:{self._port}/{database}"

    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except (FileNotFoundError, PermissionError):
            return None
        return int(first) if first.strip().isdigit() else None

    def start(self) -> None:
        """Start the server (creating the cluster first if there is none) and wait until it answers."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        options = f"-p {self._port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        self._pg_ctl("start", "-w", "-t", str(_TIMEOUT_S), "-l", str(self.log_file), "-o", options)

    def stop(self, *, mode: str = "fast") -> None:
        """`pg_ctl stop -m MODE` (`smart`, `fast` or `immediate`), waiting until the server is gone."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        self._pg_ctl("stop", "-w", "-t", str(_TIMEOUT_S), "-m", mode)

    def running(self) -> bool:
        result = self._run([str(self._bin_dir / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    def create_database(self, name: str) -> str:
        """A new empty database owned by the superuser; returns its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        createdb = [str(self._bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self._port)]
        self._run([*createdb, "-U", _SUPERUSER, name], env={"PGPASSWORD": self._password})
        return self.url(name)

    def close(self) -> None:
        """Stop the server if it runs (immediately: nothing in it is kept) and remove what we made."""
        if self.data_dir.exists() and self.running():
            with contextlib.suppress(LocalPostgresError):
                self.stop(mode="immediate")
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def _initdb(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        password_file = self._dir / "superuser.password"
        password_file.write_text(self._password + "\n")
        password_file.chmod(0o600)
        if self._as_root:
            user = pwd.getpwnam(_SERVER_USER)
            for path in (self._dir, password_file):
                os.chown(path, user.pw_uid, user.pw_gid)
        try:
            self._run(
                [
                    str(self._bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    _SUPERUSER,
                    "--auth=scram-sha-256",
                    f"--pwfile={password_file}",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _pg_ctl(self, *args: str) -> None:
        self._run([str(self._bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args])

    def _run(
        self, command: list[str], *, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        if self._as_root:
            command = ["runuser", "-u", _SERVER_USER, "--", *command]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S + 30,
                check=False,
                env={**os.environ, **(env or {})},
                cwd=self._dir if self._dir.exists() else None,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LocalPostgresError(f"{Path(command[0]).name}: {exc}") from exc
        if check and result.returncode != 0:
            tail = (result.stderr or result.stdout).strip()[-1500:]
            raise LocalPostgresError(f"{' '.join(command[:3])} … failed ({result.returncode}): {tail}")
        return result


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)
