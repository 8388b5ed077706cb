"""Recording one audit event in a transaction of its own, for changes that have none in the database
(a signing key rotated on disk). Changes that do have one add their event to it (`uow.audit.add`)."""

from __future__ import annotations

from gateway.audit.chain import AuditEvent
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["record"]


async def record(uow_factory: UnitOfWorkFactory, event: AuditEvent) -> None:
    async with uow_factory() as uow:
        await uow.audit.add(event)
        await uow.commit()
