"""Fixtures for end-to-end tests: the gateway served by `tsw serve`, as users run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from gateway.localkafka import LocalKafka
from tests.conftest import WCO_DIR, free_port


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test's report carries the end of each process log in its temporary directory, the
    gateway's last (their own account of a 503 or a stall is otherwise lost with the directory)."""
    report: pytest.TestReport = yield
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and isinstance(tmp_path, Path):
        logs = sorted(tmp_path.glob("**/*.log"), key=lambda path: (path.name == "gateway.log", str(path)))
        for log in logs:  # the gateway's last, nearest the summary
            keep = GATEWAY_LOG_LINES if log.name == "gateway.log" else OTHER_LOG_LINES
            lines = log.read_text(errors="replace").splitlines()[-keep:]
            title = f"{log.relative_to(tmp_path)} (last {len(lines)} lines)"
            report.sections.append((title, "\n".join(lines)))
    return report


#: How much of each process log a failed end-to-end test's report shows.
GATEWAY_LOG_LINES = 60
OTHER_LOG_LINES = 15


def tsw(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


@pytest.fixture
def served(tmp_path: Path, kafka: LocalKafka) -> Iterator[tuple[str, dict[str, str]]]:
    with serve_gateway(tmp_path, kafka) as served:
        yield served


@contextmanager
def serve_gateway(
    tmp_path: Path, kafka: LocalKafka, **extra_env: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """`tsw serve` on a free port in `tmp_path` (its URL and environment); `extra_env` tunes it (SQLite
    in `tmp_path` unless it names a `TSW_DATABASE_URL`)."""
    inherited = {name: value for name, value in os.environ.items() if name != "TSW_DATABASE_URL"}
    env = {
        **inherited,
        "TSW_DATA_DIR": str(tmp_path),
        "TSW_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TSW_SCHEMA_PACKS": str(WCO_DIR),
        "TSW_MAX_BODY_BYTES": str(256 * 1024),
        **extra_env,
    }
    port = free_port()
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "gateway.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.2)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the outbox relay runs in a child process of `tsw serve`"
        yield url, env
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"processes left behind by `tsw serve`: {alive}"
