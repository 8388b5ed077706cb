"""The audit log's chain and checkpoints, on both databases: an untouched log verifies, and the first
edited, inserted or deleted entry (or forged checkpoint) is the one reported."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from gateway.audit.chain import AuditEvent, link
from gateway.audit.chainer import CHECKPOINT_TYP, AuditChainer
from gateway.audit.kept import checkpoint_lines, read_kept_checkpoints
from gateway.audit.verify import AuditReport, verify_audit_log
from gateway.documents.signing import GatewayKeys
from gateway.store.audit import Checkpoint
from gateway.store.database import create_engine, migrate
from gateway.store.uow import UnitOfWorkFactory
from tests.conftest import fresh_postgres_database

ENTRIES = 12


@dataclass
class AuditDb:
    uow_factory: UnitOfWorkFactory
    keys: GatewayKeys

    async def sql(self, statement: str, **params: Any) -> None:
        async with self.uow_factory.engine.begin() as connection:
            await connection.execute(text(statement), params)

    async def row(self, seq: int) -> Any:
        async with self.uow_factory.engine.connect() as connection:
            result = await connection.execute(text("SELECT * FROM audit_log WHERE seq = :seq"), {"seq": seq})
            return result.one()

    async def verify(self, kept: list[Checkpoint] | None = None) -> AuditReport:
        return await verify_audit_log(self.uow_factory, jwks=self.keys.jwks(), page=5, kept=kept or [])

    async def kept_copies(self, tmp_path: Path) -> list[Checkpoint]:
        """The checkpoints as `tsw audit checkpoints` prints them, read back from a file."""
        async with self.uow_factory() as uow:
            stored = await uow.audit.checkpoints()
        path = tmp_path / "kept.jsonl"
        path.write_bytes(checkpoint_lines(stored))
        return read_kept_checkpoints(path)


@pytest.fixture(params=["sqlite", "postgres"])
async def audit_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuditDb]:
    """A migrated database holding a chain of ENTRIES events with checkpoints at 4, 8 and 12."""
    if request.param == "sqlite":
        async with _audit_db(f"sqlite+aiosqlite:///{tmp_path / 'tsw.db'}") as db:
            yield db
        return
    async with fresh_postgres_database(request.getfixturevalue("postgres_url")) as url, _audit_db(url) as db:
        yield db


@asynccontextmanager
async def _audit_db(url: str) -> AsyncIterator[AuditDb]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        db = AuditDb(UnitOfWorkFactory(engine), GatewayKeys.ephemeral())
        chainer = AuditChainer(uow_factory=db.uow_factory, keys=db.keys, checkpoint_every=4)
        for start in range(0, ENTRIES, 4):
            async with db.uow_factory() as uow:
                await uow.audit.add_many([_event(n) for n in range(start, start + 4)])
                await uow.commit()
            done = await chainer.run_once()
            assert done.chained == 4 and done.checkpoint == start + 4
        yield db
    finally:
        await engine.dispose()


def _event(n: int) -> AuditEvent:
    at = datetime(2026, 11, 28, 8, 0, n % 60, 123456, tzinfo=UTC)
    return AuditEvent(
        at=at, kind="test.event", actor="tester", subject=f"s-{n}", data={"n": n, "ü": [n, "x"]}
    )


def _problem(report: AuditReport) -> tuple[int, str]:
    assert report.problem is not None, "tampering not detected"
    return report.problem.seq, report.problem.kind


async def test_an_untouched_log_verifies(audit_db: AuditDb) -> None:
    report = await audit_db.verify()
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints, report.unchained) == (ENTRIES, 3, 0)
    again = AuditChainer(uow_factory=audit_db.uow_factory, keys=audit_db.keys)
    assert (await again.run_once(force_checkpoint=True)).chained == 0  # nothing new: nothing signed


async def test_an_edited_entry(audit_db: AuditDb) -> None:
    await audit_db.sql("UPDATE audit_log SET subject = 'someone-else' WHERE seq = 6")
    assert _problem(await audit_db.verify()) == (6, "edited")


async def test_an_edited_entry_with_its_hash_rewritten(audit_db: AuditDb) -> None:
    row = await audit_db.row(10)
    forged = AuditEvent(
        at=_utc(row.at), kind=row.kind, actor="intruder", subject=row.subject, data=_data(row.data)
    )
    await audit_db.sql(
        "UPDATE audit_log SET actor = 'intruder', hash = :hash WHERE seq = 10",
        hash=link(10, forged, prev_hash=row.prev_hash),
    )
    assert _problem(await audit_db.verify()) == (10, "edited")


async def test_a_deleted_entry(audit_db: AuditDb) -> None:
    await audit_db.sql("DELETE FROM audit_log WHERE seq = 3")
    assert _problem(await audit_db.verify()) == (3, "deleted")


async def test_deleted_entries_at_the_end_before_a_checkpoint(audit_db: AuditDb) -> None:
    await audit_db.sql("DELETE FROM audit_log WHERE seq >= 11")
    assert _problem(await audit_db.verify()) == (11, "deleted")


async def test_an_inserted_entry(audit_db: AuditDb) -> None:
    """Entries from 5 on moved up one, a forged entry linked in at 5."""
    before = await audit_db.row(4)
    await audit_db.sql("UPDATE audit_log SET seq = -seq WHERE seq >= 5")
    await audit_db.sql("UPDATE audit_log SET seq = 1 - seq WHERE seq < 0")
    forged = _event(99)
    await audit_db.sql(
        "INSERT INTO audit_log (seq, at, kind, actor, subject, data, prev_hash, hash) "
        "VALUES (5, :at, :kind, :actor, :subject, :data, :prev, :hash)",
        at=forged.at.strftime("%Y-%m-%d %H:%M:%S.%f") if _sqlite(audit_db) else forged.at,
        kind=forged.kind,
        actor=forged.actor,
        subject=forged.subject,
        data=orjson.dumps(forged.data).decode(),
        prev=before.hash,
        hash=link(5, forged, prev_hash=before.hash),
    )
    assert _problem(await audit_db.verify()) == (5, "inserted")


async def test_an_entry_appended_with_a_bad_link(audit_db: AuditDb) -> None:
    await audit_db.sql(
        "INSERT INTO audit_log (seq, at, kind, data, prev_hash, hash) "
        "VALUES (13, :at, 'test.event', '{}', :prev, :prev)",
        at="2026-11-28 08:00:00.000000" if _sqlite(audit_db) else datetime.now(UTC),
        prev="ab" * 32,
    )
    assert _problem(await audit_db.verify()) == (13, "inserted")


async def test_a_forged_checkpoint(audit_db: AuditDb) -> None:
    rogue = GatewayKeys.ephemeral()
    payload = orjson.dumps({"seq": 8, "hash": "00" * 32, "at": "2026-11-28T08:00:00.000000Z"})
    await audit_db.sql(
        "UPDATE audit_checkpoints SET hash = :hash, signature = :signature WHERE seq = 8",
        hash="00" * 32,
        signature=rogue.sign_compact(payload, typ=CHECKPOINT_TYP),
    )
    seq, kind = _problem(await audit_db.verify())
    assert (seq, kind) == (8, "checkpoint")


async def test_a_rechained_deletion_is_caught_by_the_next_checkpoint(audit_db: AuditDb) -> None:
    """Entry 6 deleted and every later entry renumbered and re-hashed: only the signatures can tell."""
    await audit_db.sql("DELETE FROM audit_log WHERE seq = 6")
    await audit_db.sql("UPDATE audit_log SET seq = -seq WHERE seq > 6")
    await audit_db.sql("UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0")
    prev = (await audit_db.row(5)).hash
    for seq in range(6, ENTRIES):
        row = await audit_db.row(seq)
        event = AuditEvent(
            at=_utc(row.at), kind=row.kind, actor=row.actor, subject=row.subject, data=_data(row.data)
        )
        digest = link(seq, event, prev_hash=prev)
        await audit_db.sql(
            "UPDATE audit_log SET prev_hash = :prev, hash = :hash WHERE seq = :seq",
            prev=prev,
            hash=digest,
            seq=seq,
        )
        prev = digest
    assert _problem(await audit_db.verify()) == (5, "checkpoint")  # after checkpoint 4, up to 8


async def test_a_tail_cut_with_its_checkpoints_is_caught_by_the_kept_copies(
    audit_db: AuditDb, tmp_path: Path
) -> None:
    kept = await audit_db.kept_copies(tmp_path)
    assert [checkpoint.seq for checkpoint in kept] == [4, 8, 12]
    assert (await audit_db.verify(kept)).ok
    await audit_db.sql("DELETE FROM audit_log WHERE seq > 6")
    await audit_db.sql("DELETE FROM audit_checkpoints WHERE seq > 4")
    assert (await audit_db.verify()).ok, "the database alone cannot tell"
    report = await audit_db.verify(kept)
    assert _problem(report) == (7, "deleted") and "checkpoint 12" in str(report.problem)


async def test_a_kept_copy_is_held_to_the_gateway_key(audit_db: AuditDb, tmp_path: Path) -> None:
    kept = await audit_db.kept_copies(tmp_path)
    rogue = GatewayKeys.ephemeral()
    payload = orjson.dumps({"seq": 8, "hash": kept[1].hash, "at": "2026-11-28T08:00:00.000000Z"})
    kept[1] = replace(kept[1], signature=rogue.sign_compact(payload, typ=CHECKPOINT_TYP))
    assert _problem(await audit_db.verify(kept)) == (8, "checkpoint")


async def test_a_database_checkpoint_unlike_its_kept_copy(audit_db: AuditDb, tmp_path: Path) -> None:
    """Checkpoint 8's row given checkpoint 4's signature: the chain matches the kept copy; the row not."""
    kept = await audit_db.kept_copies(tmp_path)
    await audit_db.sql(
        "UPDATE audit_checkpoints SET signature = :other WHERE seq = 8", other=kept[0].signature
    )
    assert _problem(await audit_db.verify()) == (8, "checkpoint")  # the stored one alone fails too
    report = await audit_db.verify(kept)
    assert _problem(report) == (8, "checkpoint") and "kept copy" in str(report.problem)


def _sqlite(db: AuditDb) -> bool:
    return db.uow_factory.engine.dialect.name == "sqlite"


def _utc(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _data(raw: Any) -> dict[str, Any]:
    return orjson.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
