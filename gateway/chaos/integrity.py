"""After a database fault: is anything half-written?

A submission is one transaction: the declaration, its first status (`ACCEPTED` in `status_history`),
one outbox row per target agency, and the `declarations.accepted` audit entry naming it. A fault may
refuse the whole of it, never a part. `check_integrity` reads the database back and lists every
declaration missing one of those pieces, what is still waiting in the outbox, and verifies the audit
log's hash chain and signed checkpoints (`gateway.audit.verify`).

Run as `python -m gateway.chaos.integrity` it checks the database the `TSW_*` environment names and
prints the figures as JSON: a scenario runs it next to the gateway (inside the gateway's mount
namespace, when its disk is a private one: `gateway.chaos.disk`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from sqlalchemy import select

from gateway.audit.verify import verify_audit_log
from gateway.store.tables import audit_log, declarations, outbox, status_history
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["Integrity", "check_integrity"]


@dataclass(slots=True)
class Integrity:
    declarations: int = 0  # single declarations (fast-path consignments are covered by lodgements)
    without_outbox: list[str] = field(default_factory=list)
    without_history: list[str] = field(default_factory=list)
    without_audit: list[str] = field(default_factory=list)
    unpublished: int = 0  # outbox rows not yet published (0 once drained)
    not_routed: int = 0  # declarations still ACCEPTED (0 once drained)
    audit_entries: int = 0
    audit_checkpoints: int = 0
    audit_problem: str | None = None

    @property
    def whole(self) -> bool:
        """Nothing half-written, and the audit chain verifies."""
        return (
            not self.without_outbox
            and not self.without_history
            and not self.without_audit
            and self.audit_problem is None
        )

    def summary(self) -> str:
        parts = [
            f"{self.declarations} declarations",
            f"{len(self.without_outbox)} without outbox rows",
            f"{len(self.without_history)} without history",
            f"{len(self.without_audit)} without audit entry",
            f"{self.unpublished} unpublished",
            f"audit chain: {self.audit_entries} entries, {self.audit_checkpoints} checkpoints, "
            + (self.audit_problem or "verifies"),
        ]
        return "; ".join(parts)

    def as_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes) -> Integrity:
        return cls(**orjson.loads(data))


async def check_integrity(uow_factory: UnitOfWorkFactory, *, jwks: Mapping[str, Any]) -> Integrity:
    """Read the whole database back (read-only) and judge it."""
    found = Integrity()
    async with uow_factory() as uow:
        connection = uow.connection
        ids = set(
            (await connection.execute(select(declarations.c.id).where(declarations.c.bulk_id.is_(None))))
            .scalars()
            .all()
        )
        with_outbox = set(
            (await connection.execute(select(outbox.c.declaration_id).distinct())).scalars().all()
        )
        with_history = set(
            (
                await connection.execute(
                    select(status_history.c.declaration_id)
                    .where(status_history.c.status == "ACCEPTED")
                    .distinct()
                )
            )
            .scalars()
            .all()
        )
        audited: set[str] = set()
        entries = await connection.execute(
            select(audit_log.c.data).where(audit_log.c.kind == "declarations.accepted")
        )
        for data in entries.scalars():
            audited.update(str(item[0]) for item in data["items"])
        found.unpublished = len(
            (await connection.execute(select(outbox.c.id).where(outbox.c.published_at.is_(None)))).all()
        )
        found.not_routed = len(
            (
                await connection.execute(
                    select(declarations.c.id).where(
                        declarations.c.status == "ACCEPTED", declarations.c.bulk_id.is_(None)
                    )
                )
            ).all()
        )
    found.declarations = len(ids)
    found.without_outbox = sorted(ids - with_outbox)
    found.without_history = sorted(ids - with_history)
    found.without_audit = sorted(ids - audited)
    report = await verify_audit_log(uow_factory, jwks=jwks)
    found.audit_entries = report.entries
    found.audit_checkpoints = report.checkpoints
    found.audit_problem = str(report.problem) if report.problem is not None else None
    return found


def main() -> None:
    """Check the database of the `TSW_*` environment; print the figures as JSON on stdout."""
    from gateway.config import Settings
    from gateway.documents.signing import GatewayKeys
    from gateway.store.database import create_engine

    settings = Settings()

    async def run() -> Integrity:
        engine = create_engine(settings.effective_database_url)
        try:
            jwks = GatewayKeys.load(settings.keys_dir).jwks()
            return await check_integrity(UnitOfWorkFactory(engine), jwks=jwks)
        finally:
            await engine.dispose()

    print(asyncio.run(run()).as_json().decode())


if __name__ == "__main__":
    main()
