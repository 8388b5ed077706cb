"""`python -m simulators run` really serves: a real uvicorn process on a free port, spoken to over TCP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


@pytest.fixture
def served_tid(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "simulator.log").open("wb")
    argv = [sys.executable, "-m", "simulators", "run", "--agency", "tid", "--port", str(port), "--seed", "3"]
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, timeout_s=30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the simulator exited early"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the simulator did not answer on {url} within {timeout_s} s")


def test_the_cli_serves_one_agency_over_http(served_tid: str) -> None:
    body = {
        "submission_id": "event-1",
        "declaration_id": "declaration-1",
        "action": "submitted",
        "document_type": "hk.tdec",
        "summary": {"lines": [{"hs_code": "93011000", "licence_number": "SC/2026/1"}]},
    }
    with httpx.Client(base_url=served_tid, timeout=5) as client:
        answer = client.post("/v1/submissions", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["decision"] == "APPROVED"
        assert client.post("/v1/submissions", json=body).json() == answer.json()
        assert client.get("/v1/received").json()["total_deliveries"] == 2
        assert client.put("/v1/faults", json={"down": True}).status_code == 200
        down = client.post("/v1/submissions", json=body)
        assert down.status_code == 503 and down.headers["retry-after"]
