"""`tsw batch upload|status|results`: lodge a batch file and follow it, from the command line."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["batch_app"]

batch_app = typer.Typer(help="Batch files: upload, follow, read the results.", no_args_is_help=True)

console = Console(stderr=True)

_URL = typer.Option("--url", envvar="TSW_URL", help="Gateway base URL.")
_API_KEY = typer.Option("--api-key", envvar="TSW_API_KEY", help="API key (or TSW_API_KEY).")
_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".zip": "application/zip",
}
_CHUNK_BYTES = 1024 * 1024


@batch_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
    wait: Annotated[bool, typer.Option(help="Follow the job to its end with a progress bar.")] = True,
) -> None:
    """Upload FILE (.jsonl, .csv, .xml bundle, .zip) and follow the job until it ends."""
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": _TYPES.get(file.suffix.lower(), "application/octet-stream"),
        "X-Filename": file.name,
    }
    with httpx.Client(base_url=url, headers={"Authorization": headers["Authorization"]}, timeout=300) as http:
        response = http.post("/v1/batches", content=_read(file), headers=headers)
        if response.status_code not in (200, 202):
            _fail(response)
        job = response.json()
        note = " (this file was uploaded before: its existing job)" if response.status_code == 200 else ""
        console.print(f"batch [bold]{job['id']}[/]{note}")
        if wait:
            job = _follow(http, job)
        _summary(job)
    print(job["id"])
    if job["status"] == "failed":
        raise typer.Exit(1)


@batch_app.command("status")
def status(
    batch_id: str,
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
) -> None:
    """Show a batch job's progress."""
    response = httpx.get(f"{url}/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {api_key}"})
    if response.status_code != 200:
        _fail(response)
    _summary(response.json())


@batch_app.command("results")
def results(
    batch_id: str,
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
    rejected_only: Annotated[bool, typer.Option("--rejected-only", help="Only the refused records.")] = False,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of JSON Lines.")] = False,
) -> None:
    """Write a job's per-record results to stdout (JSON Lines, or CSV)."""
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/csv" if csv else "application/x-ndjson"}
    params = {"rejected_only": "true"} if rejected_only else {}
    with httpx.stream(
        "GET", f"{url}/v1/batches/{batch_id}/results", headers=headers, params=params, timeout=300
    ) as response:
        if response.status_code != 200:
            response.read()
            _fail(response)
        for chunk in response.iter_bytes():
            sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def _read(file: Path) -> Iterator[bytes]:
    with file.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            yield chunk


def _follow(http: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:>9,.0f} records/s  accepted {task.fields[accepted]:,}"),
        TextColumn("rejected {task.fields[rejected]:,}"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(job["kind"], total=job["positions_estimate"], rate=0, accepted=0, rejected=0)
        while True:
            done = job["accepted"] + job["rejected"]
            progress.update(
                task,
                completed=job["position"],
                accepted=job["accepted"],
                rejected=job["rejected"],
                rate=done / max(time.monotonic() - started, 1e-6),
            )
            if job["status"] in ("completed", "failed"):
                progress.update(task, total=job["position"] or 1, completed=job["position"] or 1)
                return job
            time.sleep(0.5)
            response = http.get(f"/v1/batches/{job['id']}")
            if response.status_code != 200:
                _fail(response)
            job = response.json()


def _summary(job: dict[str, Any]) -> None:
    table = Table(title=f"batch {job['id']}", show_header=False)
    for label, key in (
        ("status", "status"),
        ("format", "kind"),
        ("file", "filename"),
        ("records", "total"),
        ("accepted", "accepted"),
        ("rejected", "rejected"),
        ("error", "error"),
    ):
        if job.get(key) is not None:
            table.add_row(label, f"{job[key]:,}" if isinstance(job[key], int) else str(job[key]))
    console.print(table)


def _fail(response: httpx.Response) -> None:
    try:
        detail = response.json()
    except ValueError:
        detail = response.text
    console.print(f"[red]HTTP {response.status_code}[/]: {detail}")
    raise typer.Exit(2)
