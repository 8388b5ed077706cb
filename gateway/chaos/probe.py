"""While a dependency is down, every route must still answer properly: a 503 problem with
`Retry-After` where it needs the dependency, its usual answer where it does not, never a 500, and
never later than the request deadline.

`RouteProbe` walks a fixed set of routes (reads, a refused write, health and readiness) again and
again while a fault lasts, as the scenario's trader, and records every answer. The submission route
itself is covered by the load (`gateway.chaos.load`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

__all__ = ["ProbeResult", "RouteProbe"]

_NOT_A_DECLARATION = b'{"documentType": "hk.tdec"}'  # refused by its schema once the caller is known


@dataclass
class ProbeResult:
    answers: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(
        default_factory=list
    )  # a 5xx other than 503, no answer, a 503 without Retry-After
    slowest_s: float = 0.0

    @property
    def unavailable(self) -> int:
        return self.answers[503]

    def summary(self) -> str:
        statuses = ", ".join(f"{count} x {status}" for status, count in sorted(self.answers.items()))
        return f"{sum(self.answers.values())} probes ({statuses or 'none'}); slowest {self.slowest_s:.1f} s"


class RouteProbe:
    """Requests to the gateway at `url` as the client holding `api_key`, about `declaration_id`."""

    def __init__(self, url: str, *, api_key: str, declaration_id: str, deadline_s: float) -> None:
        self._url = url
        self._auth = {"Authorization": f"Bearer {api_key}"}
        self._declaration_id = declaration_id
        self._deadline_s = deadline_s
        self.result = ProbeResult()

    async def run_until(self, stop: asyncio.Event, *, every_s: float = 1.0) -> ProbeResult:
        """Probe every route each `every_s` until `stop` is set."""
        async with httpx.AsyncClient(base_url=self._url, timeout=self._deadline_s + 5) as http:
            while not stop.is_set():
                await asyncio.gather(*(self._one(http, *request) for request in self._requests()))
                try:
                    async with asyncio.timeout(every_s):
                        await stop.wait()
                except TimeoutError:
                    pass
        return self.result

    def _requests(self) -> list[tuple[str, str, bytes | None]]:
        return [
            ("GET", f"/v1/declarations/{self._declaration_id}", None),
            ("GET", "/v1/declarations?limit=5", None),
            ("GET", f"/v1/declarations/{self._declaration_id}/versions", None),
            ("GET", "/v1/webhooks", None),
            ("POST", "/v1/declarations", _NOT_A_DECLARATION),
            ("GET", "/readyz", None),
            ("GET", "/healthz", None),
            ("GET", "/metrics", None),
        ]

    async def _one(self, http: httpx.AsyncClient, method: str, path: str, body: bytes | None) -> None:
        started = time.monotonic()
        headers = {**self._auth, "Content-Type": "application/json"} if body is not None else self._auth
        try:
            answer = await http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.result.failures.append(f"{method} {path}: no answer ({type(exc).__name__})")
            return
        took_s = time.monotonic() - started
        self.result.slowest_s = max(self.result.slowest_s, took_s)
        self.result.answers[answer.status_code] += 1
        if answer.status_code >= 500 and answer.status_code != 503:
            self.result.failures.append(f"{method} {path}: {answer.status_code}")
        elif answer.status_code == 503 and not answer.headers.get("retry-after", "").isdigit():
            self.result.failures.append(f"{method} {path}: 503 without Retry-After")
        elif answer.status_code == 503 and not _is_problem(answer):
            self.result.failures.append(f"{method} {path}: 503 that is not problem+json")
        if took_s > self._deadline_s + 1:
            self.result.failures.append(f"{method} {path}: answered after {took_s:.1f} s")


def _is_problem(answer: httpx.Response) -> bool:
    return str(answer.headers.get("content-type", "")).startswith("application/problem+json")
