"""The audited events, one constructor each. What they hold is chosen so that nothing secret is
written: never an API key (not even its prefix), never a document body, never a `buyer_id_ref`; a
document appears by id and digest.

| kind | actor | subject | data |
|---|---|---|---|
| `declarations.accepted` | `writer` | first id | `items: [[id, trader, document_type, digest]]` |
| `declaration.amended` | trader id | declaration id | `version`, `digest` |
| `declaration.cancelled` | trader id | declaration id | `version`, `digest` (of the request body) |
| `lodgement.accepted` | trader id | lodgement id | `count`, `consignments_digest`, `document_type` |
| `batch.created` / `batch.finished` | client id | job id | `digest`, `kind` / `status`, `error` |
| `client.added` | None | client id | `name`, `role`, `expires_at` |
| `client.revoked` | None | client id | `name` |
| `client.key_rotated` | None | client id | `name`, `previous_key_valid_until` |
| `key.rotated` | `cli` or admin id | new kid | `previous` kid |
| `access.refused` | `http` | None | `refusals: [{at, status, method, path, client, reason, remote}]` |
| `status.changes` | `chainer` | None | `first_id`, `last_id`, `count`, `digest`, `skipped` |
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import AuditEvent, at_text
from gateway.store.records import NewDeclaration

__all__ = [
    "access_refused",
    "amended",
    "batch_created",
    "batch_finished",
    "cancelled",
    "client_added",
    "client_key_rotated",
    "client_revoked",
    "declarations_accepted",
    "key_rotated",
    "lodgement_accepted",
    "status_changes",
]


def _now() -> datetime:
    return datetime.now(UTC)


def declarations_accepted(batch: Sequence[NewDeclaration], *, at: datetime | None = None) -> AuditEvent:
    """Submissions committed together (one group commit or one batch-job chunk)."""
    items = [[item.id, item.trader, item.document_type, item.digest] for item in batch]
    return AuditEvent(
        at=at or _now(),
        kind="declarations.accepted",
        actor="writer",
        subject=batch[0].id,
        data={"items": items},
    )


def lodgement_accepted(
    lodgement_id: str, consignments: Sequence[NewDeclaration], *, trader: str, at: datetime
) -> AuditEvent:
    """A fast-path lodgement: its count and a digest over its consignments' ids and digests."""
    listing = "".join(f"{item.id} {item.digest}\n" for item in consignments).encode()
    data = {
        "count": len(consignments),
        "consignments_digest": "sha256:" + hashlib.sha256(listing).hexdigest(),
        "document_type": consignments[0].document_type if consignments else None,
    }
    return AuditEvent(at=at, kind="lodgement.accepted", actor=trader, subject=lodgement_id, data=data)


def amended(declaration_id: str, *, trader: str, version: int, digest: str, at: datetime) -> AuditEvent:
    data = {"version": version, "digest": digest}
    return AuditEvent(at=at, kind="declaration.amended", actor=trader, subject=declaration_id, data=data)


def cancelled(declaration_id: str, *, trader: str, version: int, digest: str, at: datetime) -> AuditEvent:
    data = {"version": version, "digest": digest}
    return AuditEvent(at=at, kind="declaration.cancelled", actor=trader, subject=declaration_id, data=data)


def batch_created(job_id: str, *, client: str, digest: str, kind: str, at: datetime) -> AuditEvent:
    data = {"digest": digest, "kind": kind}
    return AuditEvent(at=at, kind="batch.created", actor=client, subject=job_id, data=data)


def batch_finished(job_id: str, *, client: str, status: str, error: str | None, at: datetime) -> AuditEvent:
    data = {"status": status, "error": error}
    return AuditEvent(at=at, kind="batch.finished", actor=client, subject=job_id, data=data)


def client_added(
    client_id: str, *, name: str, role: str, expires_at: datetime | None, at: datetime
) -> AuditEvent:
    data = {"name": name, "role": role, "expires_at": at_text(expires_at) if expires_at else None}
    return AuditEvent(at=at, kind="client.added", actor=None, subject=client_id, data=data)


def client_revoked(client_id: str, *, name: str, at: datetime) -> AuditEvent:
    return AuditEvent(at=at, kind="client.revoked", actor=None, subject=client_id, data={"name": name})


def client_key_rotated(client_id: str, *, name: str, grace_until: datetime, at: datetime) -> AuditEvent:
    data = {"name": name, "previous_key_valid_until": at_text(grace_until)}
    return AuditEvent(at=at, kind="client.key_rotated", actor=None, subject=client_id, data=data)


def key_rotated(kid: str, *, previous: str, actor: str = "cli", at: datetime | None = None) -> AuditEvent:
    """The gateway's signing key rotated (by `tsw keys rotate`, or by an admin client: its id)."""
    data = {"previous": previous}
    return AuditEvent(at=at or _now(), kind="key.rotated", actor=actor, subject=kid, data=data)


def access_refused(
    refusals: Sequence[Mapping[str, Any]], *, dropped: int = 0, at: datetime | None = None
) -> AuditEvent:
    """401 and 403 answers, gathered for a moment (see `gateway.audit.refusals`); `dropped`: refusals
    over the recorder's limit, counted only."""
    data = {"refusals": list(refusals), "dropped": dropped}
    return AuditEvent(at=at or _now(), kind="access.refused", actor="http", subject=None, data=data)


def status_changes(
    *, first_id: int, last_id: int, count: int, digest: str, skipped: Sequence[tuple[int, int]], at: datetime
) -> AuditEvent:
    """`status_history` rows `first_id..last_id` (less `skipped` id ranges), by their digest."""
    data = {
        "first_id": first_id,
        "last_id": last_id,
        "count": count,
        "digest": digest,
        "skipped": [list(gap) for gap in skipped],
    }
    return AuditEvent(at=at, kind="status.changes", actor="chainer", subject=None, data=data)
