"""`tsw audit verify|chain`: check the tamper-evident audit log (see `gateway.audit`).

`verify` reads the database named by the `TSW_*` settings and checks every checkpoint against the
gateway's JWKS (every key in `TSW_DATA_DIR/keys`, rotated ones included), or the JWKS given with
`--jwks` (a file or a URL, e.g. `http://127.0.0.1:8000/.well-known/jwks.json`). It exits 0 and
prints the counts when the log is intact, else names the first edited, inserted or deleted entry and
exits 1. With `--checkpoints FILE` it also holds the database to checkpoints kept outside it, as
`checkpoints` prints them (`gateway.audit.kept`): a log cut short together with its later
checkpoints no longer verifies.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from gateway.config import Settings

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)


@audit_app.command("verify")
def verify(
    jwks: Annotated[
        str | None, typer.Option(help="JWKS file or URL (default: the keys in TSW_DATA_DIR/keys).")
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="Checkpoints kept outside the database (JSON lines from `tsw audit checkpoints`)."),
    ] = None,
) -> None:
    """Recompute the hash chain and check every signed checkpoint; exit 1 at the first tampered entry."""
    from gateway.audit.kept import KeptCheckpointsError, read_kept_checkpoints
    from gateway.audit.verify import verify_audit_log
    from gateway.store.database import create_engine
    from gateway.store.uow import UnitOfWorkFactory

    settings = Settings()
    keys = _jwks(jwks, settings)
    try:
        kept = read_kept_checkpoints(checkpoints) if checkpoints is not None else []
    except (OSError, KeptCheckpointsError) as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc

    async def run() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            return await verify_audit_log(UnitOfWorkFactory(engine), jwks=keys, kept=kept)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    if report.problem is not None:
        err.print(f"[red]audit log tampered[/]: {report.problem}")
        raise typer.Exit(1)
    console.print(
        f"audit log OK: {report.entries} entries, {report.checkpoints} signed checkpoints, "
        f"{report.history_rows} status changes matched, {report.unchained} not yet chained"
    )


@audit_app.command("checkpoints")
def checkpoints(
    after: Annotated[int, typer.Option(help="Only those with a seq above this one.")] = 0,
) -> None:
    """Print the signed checkpoints as JSON lines, to keep outside the database (and give to verify)."""
    from gateway.audit.kept import checkpoint_lines
    from gateway.store.database import create_engine
    from gateway.store.uow import UnitOfWorkFactory

    settings = Settings()

    async def run() -> bytes:
        engine = create_engine(settings.effective_database_url)
        try:
            async with UnitOfWorkFactory(engine)() as uow:
                found = await uow.audit.checkpoints(after_seq=after)
        finally:
            await engine.dispose()
        return checkpoint_lines(found)

    sys.stdout.buffer.write(asyncio.run(run()))
    sys.stdout.flush()


@audit_app.command("chain")
def chain() -> None:
    """Chain what is pending and sign a checkpoint now (the messaging process does this on its own)."""
    from gateway.audit.chainer import AuditChainer
    from gateway.documents.signing import GatewayKeys
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    settings = Settings()

    async def run() -> Any:
        engine = create_engine(settings.effective_database_url)
        try:
            await migrate(engine)
            chainer = AuditChainer(
                uow_factory=UnitOfWorkFactory(engine), keys=GatewayKeys.load_or_create(settings.keys_dir)
            )
            return await chainer.run_once(force_checkpoint=True)
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    console.print(f"chained {done.chained} entries; checkpoint at {done.checkpoint or 'none (nothing new)'}")


def _jwks(source: str | None, settings: Settings) -> dict[str, Any]:
    if source is None:
        from gateway.documents.signing import GatewayKeys

        return GatewayKeys.load(settings.keys_dir).jwks()
    from gateway.documents.receipts import load_jwks

    return load_jwks(source)
