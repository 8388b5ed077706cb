"""Every audited action leaves its entry, secrets never do, and `tsw audit verify` checks the result;
a status history row changed after it was audited is reported too. Both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, text
from typer.testing import CliRunner

from gateway.audit.verify import verify_audit_log
from gateway.cli import app
from gateway.store.tables import audit_log
from tests.conftest import RunningGateway
from tests.examples import content_type, examples
from tests.integration.test_batches import finished, upload
from tests.integration.test_ecommerce import rows_of


async def _entries(running: RunningGateway) -> list[Any]:
    audit = running.gateway.messaging.audit if running.gateway.messaging else None
    assert audit is not None
    await running.gateway.refusals.flush()
    await audit.run_once(force_checkpoint=True)
    async with running.gateway.engine.connect() as connection:
        return list(await connection.execute(select(audit_log).order_by(audit_log.c.seq)))


async def _audited_actions(running: RunningGateway) -> dict[str, Any]:
    trader = await running.add_client("audit-trader")
    agency = await running.add_client("audit-admin", role="admin")
    first, second = examples("hk.tdec", suffix=".json")[:2]
    ids = []
    for path in (first, second):
        answer = await running.http.post(
            "/v1/declarations",
            content=path.read_bytes(),
            headers={**trader, "Content-Type": content_type(path)},
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    amended = await running.http.post(
        f"/v1/declarations/{ids[0]}/amendments", content=first.read_bytes(), headers={**trader, **_JSON}
    )
    assert amended.status_code == 202, amended.text
    cancelled = await running.http.post(f"/v1/declarations/{ids[1]}/cancellation", headers=trader)
    assert cancelled.status_code == 202, cancelled.text
    rows, _ = rows_of(5, invalid_rate=0.0, seed=3)
    lodged = await running.http.post(
        "/v1/ecommerce/consignments", content=orjson.dumps(rows), headers={**trader, **_JSON}
    )
    assert lodged.status_code == 202, lodged.text
    job = await upload(
        running, trader, orjson.dumps(orjson.loads(first.read_bytes())) + b"\n", "application/x-ndjson"
    )
    assert (await finished(running, trader, job["id"]))["status"] == "completed"
    assert (
        await running.http.get("/v1/declarations", headers={"Authorization": "Bearer tsw_wrong"})
    ).status_code == 401
    assert (await running.http.get(f"/v1/batches/{job['id']}", headers=agency)).status_code == 403
    return {"trader": trader, "ids": ids, "lodgement": lodged.json()["lodgements"][0]["id"], "job": job["id"]}


_JSON = {"Content-Type": "application/json"}


async def test_every_audited_action_is_chained_and_verifies(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    done = await _audited_actions(running)
    await running.gateway.clients.revoke("audit-admin")
    entries = await _entries(running)
    kinds = [row.kind for row in entries]
    assert [row.seq for row in entries] == list(range(1, len(entries) + 1))
    for kind in (
        "client.added",
        "declarations.accepted",
        "declaration.amended",
        "declaration.cancelled",
        "lodgement.accepted",
        "batch.created",
        "batch.finished",
        "access.refused",
        "client.revoked",
        "status.changes",
    ):
        assert kind in kinds, kind
    accepted = [
        item[0] for row in entries if row.kind == "declarations.accepted" for item in row.data["items"]
    ]
    assert set(done["ids"]) <= set(accepted)
    [lodgement] = [row for row in entries if row.kind == "lodgement.accepted"]
    assert (lodgement.subject, lodgement.data["count"]) == (done["lodgement"], 5)
    refusals = [r for row in entries if row.kind == "access.refused" for r in row.data["refusals"]]
    assert {(r["status"], r["path"]) for r in refusals} >= {
        (401, "/v1/declarations"),
        (403, f"/v1/batches/{done['job']}"),
    }
    dump = str([row._asdict() for row in entries]).encode()
    assert b"tsw_" not in dump and b"buyer" not in dump  # no key, no key prefix, no buyer reference

    report = await verify_audit_log(running.gateway.uow_factory, jwks=running.gateway.keys.jwks())
    assert report.ok, report.problem
    assert report.history_rows > 0 and report.checkpoints >= 1

    async with running.gateway.engine.begin() as connection:
        await connection.execute(
            text("UPDATE status_history SET status = 'CLEARED' WHERE declaration_id = :id"),
            {"id": done["ids"][1]},
        )
    report = await verify_audit_log(running.gateway.uow_factory, jwks=running.gateway.keys.jwks())
    assert report.problem is not None and report.problem.kind == "history"


async def test_tsw_audit_verify_command(running: RunningGateway) -> None:
    trader = await running.add_client("audit-cli")
    path = examples("hk.tdec", suffix=".json")[0]
    answer = await running.http.post(
        "/v1/declarations", content=path.read_bytes(), headers={**trader, **_JSON}
    )
    assert answer.status_code == 202
    await _entries(running)
    env = {
        "TSW_DATA_DIR": str(running.settings.data_dir),
        "TSW_DATABASE_URL": running.settings.effective_database_url,
    }
    ok = await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit log OK" in ok.output
    async with running.gateway.engine.begin() as connection:
        await connection.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 1"))
    bad = await asyncio.to_thread(CliRunner().invoke, app, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "entry 1: edited" in bad.output


async def test_checkpoints_kept_outside_the_database(running: RunningGateway, tmp_path: Path) -> None:
    """`tsw audit checkpoints` prints what `tsw audit verify --checkpoints` reads back."""
    trader = await running.add_client("audit-kept")
    path = examples("hk.tdec", suffix=".json")[0]
    headers = {**trader, **_JSON}
    answer = await running.http.post("/v1/declarations", content=path.read_bytes(), headers=headers)
    assert answer.status_code == 202
    await _entries(running)
    env = {
        "TSW_DATA_DIR": str(running.settings.data_dir),
        "TSW_DATABASE_URL": running.settings.effective_database_url,
    }

    async def tsw(*args: str) -> Any:
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)

    printed = await tsw("audit", "checkpoints")
    assert printed.exit_code == 0, printed.output
    lines = [orjson.loads(line) for line in printed.output.splitlines()]
    assert lines and all(set(line) == {"seq", "hash", "at", "kid", "signature"} for line in lines)
    last = lines[-1]["seq"]
    assert (await tsw("audit", "checkpoints", "--after", str(last))).output == ""
    kept = tmp_path / "kept.jsonl"
    kept.write_text(printed.output)
    ok = await tsw("audit", "verify", "--checkpoints", str(kept))
    assert ok.exit_code == 0, ok.output

    async with running.gateway.engine.begin() as connection:  # the log cut short, checkpoints too
        await connection.execute(text("DELETE FROM audit_checkpoints"))
        await connection.execute(text("DELETE FROM audit_log WHERE seq >= :last"), {"last": last})
    assert (await tsw("audit", "verify")).exit_code == 0, "the database alone cannot tell"
    cut = await tsw("audit", "verify", "--checkpoints", str(kept))
    assert cut.exit_code == 1
    assert f"entry {last}: deleted" in cut.output

    kept.write_text("not a checkpoint\n")
    unreadable = await tsw("audit", "verify", "--checkpoints", str(kept))
    assert unreadable.exit_code == 2
    assert "line 1: not a checkpoint" in " ".join(unreadable.output.split())  # as rich wrapped it
