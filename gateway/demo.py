"""`tsw demo`: submit the shipped example documents to a running stack and watch them, live.

It creates a demo trader in the local database (so run it on the machine that runs `tsw up`),
submits every valid example of the project's packs plus two that agencies stop (controlled goods,
a sanctioned origin), then follows `GET /v1/events` and redraws a table until each declaration has
reached a final status or the time is up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from rich.console import Console
from rich.live import Live
from rich.table import Table

from gateway.config import Settings

__all__ = ["run_demo"]

_FINAL = {"CLEARED", "HELD", "REJECTED", "CANCELLED"}
_COLOURS = {"CLEARED": "green", "HELD": "yellow", "REJECTED": "red", "CANCELLED": "magenta"}


@dataclass
class _Row:
    label: str
    document_type: str = ""
    status: str = "SUBMITTING"
    detail: str = ""
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None


def run_demo(settings: Settings, *, url: str, timeout_s: float, console: Console) -> None:
    api_key = asyncio.run(_demo_client(settings))
    asyncio.run(_run(settings, url=url, api_key=api_key, timeout_s=timeout_s, console=console))


async def _demo_client(settings: Settings) -> str:
    from gateway.clients import ClientService
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        _, api_key = await ClientService(UnitOfWorkFactory(engine)).add(
            f"demo-{uuid.uuid4().hex[:8]}", role="trader"
        )
    finally:
        await engine.dispose()
    return api_key


def _documents(packs_dir: Path) -> list[tuple[str, bytes, str]]:
    found = [
        (f"{path.parent.parent.parent.name}/{path.name}", path.read_bytes(), _media_type(path))
        for path in sorted(packs_dir.glob("*/examples/valid/*"))
        if path.suffix in (".xml", ".json")
    ]
    tdec = next(path for path in sorted(packs_dir.glob("hk.tdec/examples/valid/*.json")))
    for label, changes in (
        ("controlled goods (HS 9302)", {"hsCode": "93020000"}),
        ("origin KP", {"countryOfOrigin": "KP"}),
    ):
        document = orjson.loads(tdec.read_bytes())
        for line in document["lines"]:
            line.update(changes)
        found.append((f"hk.tdec: {label}", orjson.dumps(document), "application/json"))
    return found


def _media_type(path: Path) -> str:
    return "application/json" if path.suffix == ".json" else "application/xml"


async def _run(settings: Settings, *, url: str, api_key: str, timeout_s: float, console: Console) -> None:
    rows: dict[str, _Row] = {}
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http,
        http.stream("GET", "/v1/events") as stream,
    ):
        with Live(_table(rows), console=console, refresh_per_second=8) as live:
            for label, body, media_type in _documents(settings.builtin_packs_dir):
                answer = await http.post(
                    "/v1/declarations", content=body, headers={"Content-Type": media_type}
                )
                rows.update(_submitted(label, answer, len(rows)))
                live.update(_table(rows))
            await _follow(stream, rows, live, timeout_s=timeout_s)
    done = sum(1 for row in rows.values() if row.status in _FINAL)
    console.print(f"{done} of {len(rows)} declarations reached a final status")


def _submitted(label: str, answer: httpx.Response, index: int) -> dict[str, _Row]:
    row = _Row(label)
    if answer.status_code != 202:
        row.status, row.detail = f"HTTP {answer.status_code}", str(answer.json().get("title", ""))
        return {f"refused-{index}": row}
    row.document_type, row.status = answer.json()["document_type"], "ACCEPTED"
    return {answer.json()["id"]: row}


async def _follow(stream: httpx.Response, rows: dict[str, _Row], live: Live, *, timeout_s: float) -> None:
    pending = {key for key, row in rows.items() if row.status == "ACCEPTED"}
    try:
        async with asyncio.timeout(timeout_s):
            async for line in stream.aiter_lines():
                if not line.startswith("data: "):
                    continue
                change = orjson.loads(line[6:])
                row = rows.get(change["declaration_id"])
                if row is None:
                    continue
                row.status, row.detail = change["status"], change.get("detail") or ""
                if row.status in _FINAL:
                    row.finished = time.perf_counter()
                    pending.discard(change["declaration_id"])
                live.update(_table(rows))
                if not pending:
                    return
    except TimeoutError:
        return


def _table(rows: dict[str, _Row]) -> Table:
    table = Table(title="Trade Single Window demo: declarations and their status")
    for column in ("document", "type", "status", "last change", "seconds"):
        table.add_column(column)
    for row in rows.values():
        colour = _COLOURS.get(row.status, "cyan")
        seconds = f"{(row.finished or time.perf_counter()) - row.started:.2f}"
        table.add_row(row.label, row.document_type, f"[{colour}]{row.status}[/]", row.detail, seconds)
    return table
