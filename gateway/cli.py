"""`tsw`: run the gateway and its local broker, manage clients and keys, submit and verify.

Every command builds `Settings()` from the `TSW_*` environment, so `TSW_DATA_DIR`,
`TSW_DATABASE_URL`, `TSW_KAFKA_BOOTSTRAP_SERVERS` and `TSW_SCHEMA_PACKS` apply everywhere.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import httpx
import orjson
import typer
from rich.console import Console

from gateway.cli_audit import audit_app
from gateway.cli_batch import batch_app
from gateway.cli_chaos import chaos_command
from gateway.cli_kafka import kafka_app
from gateway.cli_origin import authorise, deauthorise, load_signing_key, require_signature, signing_key_app
from gateway.clients import MAX_EXPIRY_DAYS
from gateway.config import Settings
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.clients import ClientService

__all__ = ["app", "main"]

app = typer.Typer(help="Trade Single Window declaration gateway.", no_args_is_help=True, add_completion=False)
clients_app = typer.Typer(help="API clients and their keys.", no_args_is_help=True)
keys_app = typer.Typer(help="The gateway's signing keys.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that start the stack they measure.")
app.add_typer(kafka_app, name="kafka", help="The local single-node Kafka broker (KRaft).")
app.add_typer(batch_app, name="batch")
app.add_typer(audit_app, name="audit")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
app.add_typer(signing_key_app, name="signing-key")
clients_app.command("authorise")(authorise)
clients_app.command("deauthorise")(deauthorise)
clients_app.command("require-signature")(require_signature)
app.command("chaos")(chaos_command)

console = Console()
err = Console(stderr=True)

_URL = typer.Option("--url", envvar="TSW_URL", help="Gateway base URL.")
_API_KEY = typer.Option("--api-key", envvar="TSW_API_KEY", help="API key (or TSW_API_KEY).")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Run the gateway (HTTP API, submission writer, outbox relay) in the foreground."""
    from gateway.serve import run_gateway

    run_gateway(Settings(), host=host, port=port, access_log=access_log)


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    host: Annotated[str, typer.Option(help="Gateway interface.")] = "127.0.0.1",
) -> None:
    """The whole local stack in the foreground: Kafka, then the gateway. Ctrl-C stops all of it."""
    from gateway.serve import run_stack

    run_stack(Settings(), host=host, port=port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the gateway also does this at start-up)."""
    from gateway.store.database import create_engine, migrate

    async def run() -> None:
        engine = create_engine(Settings().effective_database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    console.print("database schema is up to date")


@clients_app.command("add")
def clients_add(
    name: str,
    role: Annotated[str, typer.Option(help="trader, forwarder, agency or admin.")] = "trader",
    agency: Annotated[
        str | None, typer.Option(help="For role agency: customs, tid, censtatd or logistics.")
    ] = None,
    expires_in_days: Annotated[
        float | None,
        typer.Option(min=0.0, max=MAX_EXPIRY_DAYS, help="Its keys are refused after this many days."),
    ] = None,
    require_signature: Annotated[
        bool, typer.Option(help="Refuse its unsigned submissions (TSW-Signature).")
    ] = False,
) -> None:
    """Create an API client. Its key is printed once, as the last line."""
    from datetime import UTC, datetime, timedelta

    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None

    async def run(service: ClientService) -> str:
        client, api_key = await service.add(
            name, role=role, agency=agency, expires_at=expires_at, require_signature=require_signature
        )
        scope = f"{client.role}, {client.agency}" if client.agency else client.role
        console.print(f"client [bold]{client.name}[/] ({scope}) id {client.id}; API key (shown once):")
        return api_key

    print(_with_clients(run))


@clients_app.command("revoke")
def clients_revoke(name: Annotated[str, typer.Argument(help="The client's name or id.")]) -> None:
    """Refuse every key of a client from now on (a running gateway within TSW_API_KEY_CACHE_S)."""

    async def run(service: ClientService) -> str:
        client = await service.revoke(name)
        return f"client {client.name} revoked at {client.revoked_at}"

    console.print(_with_clients(run))


@clients_app.command("rotate")
def clients_rotate(
    name: Annotated[str, typer.Argument(help="The client's name or id.")],
    grace_hours: Annotated[
        float, typer.Option(min=0.0, help="How long the current key stays valid alongside the new one.")
    ] = 24.0,
) -> None:
    """A new key for a client; the current one is refused after the grace period. The new key is
    printed once, as the last line."""
    from datetime import timedelta

    async def run(service: ClientService) -> str:
        client, api_key = await service.rotate(name, grace=timedelta(hours=grace_hours))
        console.print(
            f"client [bold]{client.name}[/]: new API key (shown once); the previous one is refused "
            f"after {grace_hours:g} h:"
        )
        return api_key

    print(_with_clients(run))


@clients_app.command("list")
def clients_list() -> None:
    """Every client: role, agency, key prefixes, expiry and revocation."""

    async def run(service: ClientService) -> str:
        lines = []
        for item in await service.credentials():
            c = item.client
            state = "revoked" if c.revoked_at else f"expires {c.expires_at}" if c.expires_at else "active"
            previous = (
                f", previous {item.previous_key_prefix}… until {item.previous_key_expires_at}"
                if item.previous_key_prefix
                else ""
            )
            state += ", must sign" if c.require_signature else ""
            lines.append(f"{c.name}\t{c.role}\t{c.agency or '-'}\t{item.key_prefix}…{previous}\t{state}")
        return "\n".join(lines)

    print(_with_clients(run))


def _with_clients(action: Callable[[ClientService], Awaitable[str]]) -> str:
    """Run `action` on a ClientService over the configured (migrated) database; a refusal exits 2."""
    from gateway.clients import ClientService
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    async def run() -> str:
        engine = create_engine(Settings().effective_database_url)
        try:
            await migrate(engine)
            return await action(ClientService(UnitOfWorkFactory(engine)))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (ValueError, GatewayError) as exc:  # a bad role or agency, a name taken, no such client
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new active signing key; older keys stay in the JWKS so old receipts still verify."""
    from gateway.documents.signing import GatewayKeys

    settings = Settings()
    keys = GatewayKeys.load_or_create(settings.keys_dir)
    previous = keys.active_kid
    kid = keys.rotate()
    console.print(f"active key is now [bold]{kid}[/]; restart running gateways to sign with it")
    _audit_key_rotation(settings, kid=kid, previous=previous)


def _audit_key_rotation(settings: Settings, *, kid: str, previous: str) -> None:
    """Record the rotation in the audit log (the key files are the truth; a database that cannot be
    reached is reported, not fatal)."""
    from gateway.audit.events import key_rotated
    from gateway.audit.recording import record
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        try:
            await migrate(engine)
            await record(UnitOfWorkFactory(engine), key_rotated(kid, previous=previous))
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except Exception as exc:  # the rotation itself happened: say the audit entry is missing, exit 1
        err.print(f"[red]the rotation was not recorded in the audit log: {exc}[/]")
        raise typer.Exit(1) from exc


@keys_app.command("list")
def keys_list() -> None:
    """Print the JWKS the gateway publishes."""
    from gateway.documents.signing import GatewayKeys

    keys = GatewayKeys.load_or_create(Settings().keys_dir)
    print(orjson.dumps(keys.jwks(), option=orjson.OPT_INDENT_2).decode())


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key header.")] = None,
    sign_key: Annotated[
        Path | None, typer.Option(help="Sign the body with this private key (PEM): TSW-Signature.")
    ] = None,
    kid: Annotated[str | None, typer.Option(help="The signing key's kid (default: its thumbprint).")] = None,
    on_behalf_of: Annotated[
        str | None, typer.Option(help="Forwarders: the trader lodged for (TSW-On-Behalf-Of).")
    ] = None,
) -> None:
    """Submit a declaration file (.xml or .json) and print the gateway's answer."""
    from gateway.documents.origin import HEADER, sign_origin

    body = file.read_bytes()
    content_type = "application/json" if file.suffix.lower() == ".json" else "application/xml"
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {api_key}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    if sign_key is not None:
        headers[HEADER] = sign_origin(body, load_signing_key(sign_key), kid=kid)
    if on_behalf_of:
        headers["TSW-On-Behalf-Of"] = on_behalf_of
    response = httpx.post(f"{url}/v1/declarations", content=body, headers=headers, timeout=30)
    _print_response(response)


@app.command()
def status(
    declaration_id: str,
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
) -> None:
    """Show a declaration's status, per-agency status and history."""
    response = httpx.get(
        f"{url}/v1/declarations/{declaration_id}", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    _print_response(response)


@app.command("verify-receipt")
def verify_receipt(
    receipt: Annotated[
        str, typer.Argument(help="The receipt (compact JWS), a file holding it, or '-' for stdin.")
    ],
    jwks: Annotated[
        str, typer.Option(help="JWKS file path or URL.")
    ] = "http://127.0.0.1:8000/.well-known/jwks.json",
    body: Annotated[
        Path | None, typer.Option(help="The submitted document, to check the digest too.")
    ] = None,
) -> None:
    """Check a receipt offline against a JWKS (and, given the document, its digest)."""
    from gateway.documents.receipts import load_jwks
    from gateway.documents.receipts import verify_receipt as verify
    from gateway.errors import SignatureInvalid

    token = _read_token(receipt)
    try:
        payload = verify(token, load_jwks(jwks), body=body.read_bytes() if body else None)
    except SignatureInvalid as exc:
        err.print(f"[red]receipt NOT valid:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print("[green]receipt valid[/]")
    print(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())


@app.command()
def demo(
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    timeout_s: Annotated[float, typer.Option("--timeout", help="Seconds to wait for final statuses.")] = 60.0,
) -> None:
    """Submit the example documents to a running stack (`tsw up`) and watch them progress, live."""
    from gateway.demo import run_demo

    run_demo(Settings(), url=url, timeout_s=timeout_s, console=console)


@bench_app.callback(invoke_without_command=True)
def bench(context: typer.Context) -> None:
    """Benchmarks that start the stack they measure (`tsw bench` alone runs `submit`)."""
    if context.invoked_subcommand is None:
        bench_submit()


@bench_app.command("submit")
def bench_submit(
    url: Annotated[str | None, _URL] = None,
    seconds: Annotated[float, typer.Option(help="How long to drive load.")] = 20.0,
    concurrency: Annotated[int, typer.Option(help="Concurrent clients.")] = 64,
    rate: Annotated[float, typer.Option(help="Target submissions/s (0 = as fast as possible).")] = 0.0,
) -> None:
    """Measure the gateway: declarations/s, p50/p99 latency and the routed count."""
    from gateway.bench import run_bench

    run_bench(Settings(), url=url, seconds=seconds, concurrency=concurrency, rate=rate, console=console)


@bench_app.command("clearance")
def bench_clearance(
    rate: Annotated[float, typer.Option(help="Submissions/s, paced.")] = 200.0,
    seconds: Annotated[float, typer.Option(help="How long to measure (after the warm-up).")] = 30.0,
    warmup: Annotated[float, typer.Option(help="Seconds of load before measuring, not counted.")] = 5.0,
    timeout: Annotated[
        float, typer.Option(help="Seconds after the last submission to wait for CLEARED.")
    ] = 30.0,
    pack: Annotated[
        Path | None, typer.Option(help="Schema pack directory (default ../shared/reference/wco-dms).")
    ] = None,
    document: Annotated[
        Path | None, typer.Option(help="The document to submit (default the pack's TT_IM001b sample).")
    ] = None,
    history_sample: Annotated[
        int, typer.Option(help="Histories read for the server-side figure (0 = every declaration).")
    ] = 0,
    work_dir: Annotated[
        Path | None, typer.Option(help="Keep logs and databases here (an empty directory).")
    ] = None,
    postgres_url: Annotated[
        str | None,
        typer.Option(
            help="Run the gateway on PostgreSQL: a database of its own is made on this server "
            "(postgresql+asyncpg://user:pw@host/db; needs CREATEDB) and dropped after. Default SQLite."
        ),
    ] = None,
) -> None:
    """The response loop: 202 -> CLEARED as a trader sees it on /v1/events, at a steady rate.

    Starts a broker of its own, the gateway, and the simulator and adapter of each agency the
    document type routes to. Exits 1 unless every declaration reached CLEARED.
    """
    from gateway.bench import ClearanceOptions, run_clearance_bench
    from gateway.bench.clearance_report import report_clearance
    from gateway.errors import GatewayError

    options = ClearanceOptions(
        rate=rate,
        seconds=seconds,
        warmup_s=warmup,
        timeout_s=timeout,
        history_sample=history_sample,
        pack_dir=pack,
        document=document,
        work_dir=work_dir,
        postgres_url=postgres_url,
    )
    try:
        result = run_clearance_bench(Settings(), options=options, console=console)
    except GatewayError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    report_clearance(console, result)
    if not result.all_cleared:
        raise typer.Exit(1)


# ---- tsw generate --------------------------------------------------------------------------------


@bench_app.command("batch")
def bench_batch(
    count: Annotated[int, typer.Option(help="Consignments in the generated CSV (1-3 lines each).")] = 100_000,
    invalid_rate: Annotated[float, typer.Option(help="Share of consignments with a defect.")] = 0.02,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 1,
) -> None:
    """Upload a generated hk.ecom.lvc CSV to POST /v1/batches: consignments/s until all routed, peak RSS."""
    from gateway.bench.batch import report_batch_bench, run_batch_bench

    result = run_batch_bench(Settings(), count=count, invalid_rate=invalid_rate, seed=seed, console=console)
    report_batch_bench(console, result)


generate_app = typer.Typer(help="Realistic test files for demos, tests and benchmarks.", no_args_is_help=True)
app.add_typer(generate_app, name="generate")


@generate_app.command("ecommerce")
def generate_ecommerce(
    count: Annotated[int, typer.Option(min=0, help="Consignments to write (1-3 line items each).")],
    invalid_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of consignments with one realistic defect.")
    ] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: a new one, on stderr).")] = None,
    file_format: Annotated[
        Literal["csv", "jsonl", "json"],
        typer.Option("--format", help="csv rows, jsonl canonical documents, or a json array of rows."),
    ] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default stdout).")] = None,
) -> None:
    """hk.ecom.lvc consignments, streamed (any count, constant memory); the same seed, the same file."""
    import secrets

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    from gateway.ecommerce.generate import FileFormat, encode, generate_consignments

    if seed is None:
        seed = secrets.randbelow(2**31)
        err.print(f"seed {seed}")
    consignments = generate_consignments(
        count, invalid_rate=invalid_rate, seed=seed, document_form=file_format == "jsonl"
    )
    chunks = encode(consignments, FileFormat(file_format))
    if output is None:
        sys.stdout.buffer.writelines(chunks)
        sys.stdout.buffer.flush()
        return
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with output.open("wb") as sink, Progress(*columns, console=err) as progress:
        task = progress.add_task("consignments", total=count)
        for done, chunk in enumerate(chunks, 1):
            sink.write(chunk)
            if done % 4096 == 0:
                progress.update(task, completed=min(done, count))
        progress.update(task, completed=count)
    err.print(f"{count:,} consignments (seed {seed}) written to {output}")


def _read_token(value: str) -> str:
    if value == "-":
        return sys.stdin.read().strip()
    if os.path.isfile(value):
        return Path(value).read_text(encoding="utf-8").strip()
    return value.strip()


def _print_response(response: httpx.Response) -> None:
    style = "green" if response.is_success else "red"
    console.print(f"[{style}]HTTP {response.status_code}[/]")
    try:
        print(orjson.dumps(response.json(), option=orjson.OPT_INDENT_2).decode())
    except ValueError:
        print(response.text)
    if not response.is_success:
        raise typer.Exit(1)


def main() -> None:
    app()
