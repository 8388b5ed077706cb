"""The whole local stack for `tsw up` / `make run`: agency simulators and adapters as child processes.

Each simulator (`python -m simulators run`) stands in for one agency's back-end on its own port; each
adapter (`python -m adapters run`) consumes that agency's topic and calls its simulator. They log to
`TSW_DATA_DIR/logs/<name>.log`. `LocalServices.stop()` sends SIGTERM and waits (SIGKILL after a grace
period); Ctrl-C in the terminal reaches them too, since they share its process group.

`ports` picks the agencies and their simulators' ports (default: all four, on `SIMULATOR_PORTS`), so a
test or a benchmark can run some of them on free ports; `latency_ms` and `env` reach the simulators
(`TSW_SIM_*`) and adapters (`TSW_ADAPTER_*`).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.config import Settings
from gateway.contracts.agencies import Agency

__all__ = ["SIMULATOR_PORTS", "LocalServices", "Service"]

SIMULATOR_PORTS: dict[str, int] = {
    Agency.CUSTOMS: 9101,
    Agency.TID: 9102,
    Agency.CENSTATD: 9103,
    Agency.LOGISTICS: 9104,
}


@dataclass
class Service:
    name: str
    argv: list[str]
    log: Path
    url: str | None = None
    process: subprocess.Popen[bytes] | None = None


class LocalServices:
    def __init__(
        self,
        settings: Settings,
        *,
        gateway_url: str,
        ports: Mapping[str, int] | None = None,
        latency_ms: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        logs = settings.data_dir / "logs"
        self._env = {
            **os.environ,
            "TSW_DATA_DIR": str(settings.data_dir),
            "TSW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            **(env or {}),
        }
        chosen = dict(SIMULATOR_PORTS if ports is None else ports)
        self.services = [
            *(
                self._simulator(agency, port=port, logs=logs, latency_ms=latency_ms)
                for agency, port in chosen.items()
            ),
            *(
                self._adapter(agency, port=port, logs=logs, gateway_url=gateway_url)
                for agency, port in chosen.items()
            ),
        ]

    def start(self) -> None:
        for service in self.services:
            service.log.parent.mkdir(parents=True, exist_ok=True)
            with service.log.open("ab") as log:
                service.process = subprocess.Popen(service.argv, env=self._env, stdout=log, stderr=log)

    def wait_healthy(self, *, timeout_s: float = 60.0) -> None:
        """Return once every simulator answers `/healthz`; RuntimeError if one exits or stays silent."""
        deadline = time.monotonic() + timeout_s
        for service in self.services:
            while service.url is not None and not _healthy(service.url):
                if service.process is not None and service.process.poll() is not None:
                    raise RuntimeError(f"the {service.name} exited during start-up; see {service.log}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the {service.name} did not answer within {timeout_s:.0f} s")
                time.sleep(0.2)

    def stop(self, *, timeout_s: float = 15.0) -> None:
        running = [s.process for s in self.services if s.process is not None and s.process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @staticmethod
    def _simulator(agency: str, *, port: int, logs: Path, latency_ms: int | None) -> Service:
        argv = [sys.executable, "-m", "simulators", "run", "--agency", agency, "--port", str(port)]
        if latency_ms is not None:
            argv += ["--latency-ms", str(latency_ms)]
        return Service(
            f"{agency} simulator", argv, logs / f"simulator-{agency}.log", f"http://127.0.0.1:{port}"
        )

    @staticmethod
    def _adapter(agency: str, *, port: int, logs: Path, gateway_url: str) -> Service:
        argv = [
            sys.executable,
            "-m",
            "adapters",
            "run",
            "--agency",
            agency,
            "--backend-url",
            f"http://127.0.0.1:{port}",
            "--jwks-url",
            f"{gateway_url}/.well-known/jwks.json",
        ]
        return Service(f"{agency} adapter", argv, logs / f"adapter-{agency}.log")


def _healthy(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    return False
