"""`tsw clients add|rotate|revoke|list` on a SQLite data directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from gateway.clients import ClientService
from gateway.errors import AuthError
from gateway.store.database import create_engine
from gateway.store.uow import UnitOfWorkFactory


def _authenticate(data_dir: Path, api_key: str) -> str:
    async def run() -> str:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'tsw.db'}")
        try:
            try:
                return (await ClientService(UnitOfWorkFactory(engine)).authenticate(api_key)).role
            except AuthError as exc:
                return str(exc)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_add_rotate_revoke_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TSW_DATA_DIR": str(tmp_path), "TSW_DATABASE_URL": ""}

    def tsw(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.output

    assert tsw("clients", "add", "reader", "--role", "agency")[0] == 2  # an agency client names its agency
    code, output = tsw(
        "clients", "add", "reader", "--role", "agency", "--agency", "customs", "--expires-in-days", "30"
    )
    assert code == 0, output
    reader_key = output.strip().splitlines()[-1]
    code, output = tsw("clients", "add", "acme")
    acme_key = output.strip().splitlines()[-1]
    code, output = tsw("clients", "rotate", "acme", "--grace-hours", "0")
    assert code == 0, output
    new_key = output.strip().splitlines()[-1]
    assert _authenticate(tmp_path, acme_key) == "API key rotated out: use the new key"
    assert _authenticate(tmp_path, new_key) == "trader"
    assert _authenticate(tmp_path, reader_key) == "agency"
    assert tsw("clients", "revoke", "acme")[0] == 0
    assert _authenticate(tmp_path, new_key) == "API key revoked"
    assert tsw("clients", "revoke", "nobody")[0] == 2
    code, output = tsw("clients", "list")
    assert "customs" in output and "revoked" in output and new_key not in output
