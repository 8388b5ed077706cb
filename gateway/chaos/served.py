"""A `tsw serve` that a scenario can SIGKILL and start again on the same data directory and port.

The gateway runs in a session (and so a process group) of its own: the HTTP API process, the messaging
process it spawns (outbox relay, response consumer, webhook dispatcher, audit chainer) and any batch
reader all share that group, so `kill()` SIGKILLs every one of them at once, as a machine crash or the
OOM killer would, with no chance to flush, commit or say goodbye. `start()` after `kill()` is a cold
restart on what the dead gateway left on disk (or in PostgreSQL, with `TSW_DATABASE_URL` in `env`).

The environment is the caller's `TSW_*` variables, then the chaos defaults (no per-client rate limit:
the load is one client standing for many traders), then `env`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psutil

from gateway.errors import GatewayError

__all__ = ["ServedGateway", "ServedGatewayError"]

_START_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0


class ServedGatewayError(GatewayError):
    """The gateway under test would not start, or left processes behind."""


class ServedGateway:
    def __init__(
        self,
        *,
        data_dir: Path,
        port: int,
        bootstrap_servers: str,
        env: Mapping[str, str] | None = None,
        command_prefix: Sequence[str] = (),
    ) -> None:
        self._data_dir = data_dir
        self._port = port
        self._prefix = list(command_prefix)  # e.g. nsenter into a private disk (`gateway.chaos.disk`)
        self._env = {
            **os.environ,
            "TSW_RATE_LIMIT_PER_S": "0",
            "TSW_BULK_RATE_LIMIT_PER_S": "0",
            "TSW_MESSAGING": "process",
            "TSW_DATA_DIR": str(data_dir),
            "TSW_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        }
        if env is None or "TSW_DATABASE_URL" not in env:
            self._env.pop("TSW_DATABASE_URL", None)  # the scenario's own SQLite file, never the caller's
        self._env.update(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def log_file(self) -> Path:
        return self._data_dir / "gateway.log"

    @property
    def command_prefix(self) -> list[str]:
        """What the gateway's commands run under (empty: nothing)."""
        return list(self._prefix)

    @property
    def environment(self) -> dict[str, str]:
        """The environment the gateway runs with (for `tsw` commands on its data)."""
        return dict(self._env)

    def add_trader(self, name: str) -> str:
        """A new trader client in the gateway's database (`tsw clients add`); returns its API key."""
        self._data_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [*self._prefix, sys.executable, "-m", "gateway", "clients", "add", name, "--role", "trader"],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise ServedGatewayError(f"tsw clients add failed: {result.stderr.strip()[-2000:]}")
        return result.stdout.strip().splitlines()[-1]

    def start(self, *, timeout_s: float = _START_TIMEOUT_S) -> None:
        """Start `tsw serve` and wait until `/healthz` answers."""
        if self.running():
            return
        self._data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                [*self._prefix, sys.executable, "-m", "gateway", "serve", "--port", str(self._port)],
                env=self._env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.starts += 1
        self._wait_healthy(timeout_s)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def pids(self) -> list[int]:
        """The API process and every process of its group (the messaging process among them)."""
        return [process.pid for process in self._group()]

    def kill(self) -> int:
        """SIGKILL every process of the gateway's group at once (the signal goes before any
        bookkeeping, so it lands when asked); waits until they are gone and returns how many."""
        if self._process is None or self._process.poll() is not None:
            return 0
        group = self._process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        members = [process for process in psutil.process_iter() if _in_group(process, group)]
        self._reap(members)
        return len(members)

    def stop(self, *, timeout_s: float = _STOP_TIMEOUT_S) -> None:
        """SIGTERM (the gateway stops its messaging process itself), then SIGKILL whatever is left."""
        if self._process is None:
            return
        members = self._group()
        if self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._reap(members)

    def _group(self) -> list[psutil.Process]:
        if self._process is None or self._process.poll() is not None:
            return []
        try:
            leader = psutil.Process(self._process.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _reap(self, members: list[psutil.Process]) -> None:
        _, alive = psutil.wait_procs(members, timeout=15)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=15)
        self._process = None
        if alive:
            raise ServedGatewayError(f"gateway processes survived SIGKILL: {[p.pid for p in alive]}")

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise ServedGatewayError(f"the gateway exited during start-up; see {self.log_file}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise ServedGatewayError(f"the gateway did not answer /healthz within {timeout_s:.0f} s")


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group
    except (ProcessLookupError, PermissionError):
        return False
