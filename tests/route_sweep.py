"""Every route of the OpenAPI document called once, as a caller its roles admit, to see how each answers
while a dependency is down: a 503 problem with `Retry-After` or its usual answer, never a 500, never
a hang past the request deadline."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from gateway.config import REPO_ROOT
from tests.conftest import RunningGateway

_EXAMPLE = REPO_ROOT / "schemas" / "hk.tdec" / "examples" / "valid" / "import-electronics-cn-sea.xml"

_DEADLINE_S = 30.0
_ADMIN_PREFIX = "/v1/admin/"
_STREAM_OPEN_S = 3.0  # an event stream still open after this is one that started: fine
_EVENTS = "/v1/events"
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class SweepAnswer:
    method: str
    path: str
    status: int | None  # None: a stream that started and stayed open
    retry_after: str | None
    problem: bool
    seconds: float

    def fault(self) -> str | None:
        """What is wrong with this answer for a route called while the database is down, if anything."""
        where = f"{self.method} {self.path}"
        if self.seconds > _DEADLINE_S:
            return f"{where}: answered after {self.seconds:.1f} s"
        if self.status is None:
            return None
        if self.status >= 500 and self.status != 503:
            return f"{where}: {self.status}"
        if self.status == 503 and not (self.retry_after or "").isdigit():
            return f"{where}: 503 without Retry-After"
        if self.status == 503 and not self.problem:
            return f"{where}: 503 that is not problem+json"
        return None


async def sweep_ids(running: RunningGateway, trader: dict[str, str], admin: dict[str, str]) -> dict[str, str]:
    """Path parameters for the sweep: a declaration, webhook and batch of `trader`'s, its client id,
    and made-up names where a route only needs some value (a key id, a forwarder). Both callers'
    keys are cached from here on (with a long `TSW_API_KEY_CACHE_S`)."""
    http = running.http
    declaration = await http.post(
        "/v1/declarations",
        content=_EXAMPLE.read_bytes(),
        headers={**trader, "Content-Type": "application/xml"},
    )
    webhook = await http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=trader)
    batch = await http.post(
        "/v1/batches",
        content=b'{"documentType": "nothing"}\n',
        headers={**trader, "Content-Type": "application/x-ndjson"},
    )
    assert (declaration.status_code, webhook.status_code, batch.status_code) == (202, 201, 202)
    for headers, path in ((trader, "/v1/declarations"), (admin, "/v1/admin/clients")):
        assert (await http.get(path, headers=headers)).status_code == 200
    client = await running.gateway.clients.authenticate(trader["Authorization"].removeprefix("Bearer "))
    return {
        "declaration_id": declaration.json()["id"],
        "version": "1",
        "webhook_id": webhook.json()["id"],
        "batch_id": batch.json()["id"],
        "client_id": client.id,
        "kid": "no-such-kid",
        "forwarder": "no-such-forwarder",
        "trader": "no-such-trader",
    }


def routes(running: RunningGateway) -> list[tuple[str, str]]:
    """Every (method, path template) of the served OpenAPI document."""
    from gateway.api.app import create_app

    document = create_app(running.gateway).openapi()
    return sorted((method.upper(), path) for path, item in document["paths"].items() for method in item)


async def sweep(
    running: RunningGateway,
    *,
    ids: dict[str, str],
    trader: dict[str, str],
    admin: dict[str, str],
) -> list[SweepAnswer]:
    """Call every route once with path parameters from `ids`, as `admin` on admin routes, else `trader`."""
    answers = []
    for method, template in routes(running):
        path = template
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        headers = admin if template.startswith(_ADMIN_PREFIX) else trader
        answers.append(await _call(running.http, method, path, headers))
    return answers


async def _call(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> SweepAnswer:
    """One request. The in-process transport hands back a stream only once it ends: an event stream
    still open after a moment counts as started (status None)."""
    started = time.monotonic()
    stream = path.startswith(_EVENTS)
    try:
        response = await asyncio.wait_for(
            http.request(
                method, path, headers={**headers, "Content-Type": "application/json"}, content=b"{}"
            ),
            timeout=_STREAM_OPEN_S if stream else _DEADLINE_S + 5,
        )
    except TimeoutError:
        seconds = time.monotonic() - started
        return SweepAnswer(method, path, None if stream else 599, None, False, seconds)
    return SweepAnswer(
        method=method,
        path=path,
        status=response.status_code,
        retry_after=response.headers.get("retry-after"),
        problem=response.headers.get("content-type", "").startswith("application/problem+json"),
        seconds=time.monotonic() - started,
    )
