"""The audited events, one constructor each. What they hold is chosen so that nothing secret is
written: never an API key (not even its prefix), never a document body, never a `buyer_id_ref`; a
document appears by id and digest.

| kind | actor | subject | data |
|---|---|---|---|
| `declarations.accepted` | `writer` | first id | `items: [[id, trader, document_type, digest, origin?]]` |
| `declaration.amended` | trader id | declaration id | `version`, `digest`, `signed_by`? |
| `declaration.cancelled` | trader id | declaration id | `version`, `digest` (of the body), `signed_by`? |
| `lodgement.accepted` | trader id | lodgement id | `count`, `consignments_digest`, `document_type`, origin? |
| `batch.created` / `batch.finished` | client id | job id | `digest`, `kind` / `status`, `error` |
| `client.added` | None | client id | `name`, `role`, `expires_at` |
| `client.revoked` | None | client id | `name` |
| `client.key_rotated` | None | client id | `name`, `previous_key_valid_until` |
| `client.signature_required` | admin id or None | client id | `required` |
| `signing_key.registered` / `.revoked` | client or admin id | client id | `kid` (`thumbprint`, `crv`) |
| `forwarder.authorised` / `.deauthorised` | trader or admin id; None: CLI | forwarder id | `trader` |
| `key.rotated` | `cli` or admin id | new kid | `previous` kid |
| `access.refused` | `http` | None | `refusals: [{at, status, method, path, client, reason, remote}]` |
| `status.changes` | `chainer` | None | `first_id`, `last_id`, `count`, `digest`, `skipped` |

`origin?` is present only for a signed submission or one a forwarder lodged for a trader:
``{"signed_by": {"kid", "alg"}, "on_behalf_of": trader id}`` (either member alone); `signed_by?` on an
amendment or cancellation likewise. The signature itself is kept with the declaration (a
cancellation's, which has no row of its own, in its entry: `signature`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.audit.chain import AuditEvent, at_text
from gateway.documents.origin import SignedBy
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
    "client_signature_required",
    "declarations_accepted",
    "forwarder_authorised",
    "forwarder_deauthorised",
    "key_rotated",
    "lodgement_accepted",
    "signing_key_registered",
    "signing_key_revoked",
    "status_changes",
]


def _now() -> datetime:
    return datetime.now(UTC)


def declarations_accepted(batch: Sequence[NewDeclaration], *, at: datetime | None = None) -> AuditEvent:
    """Submissions committed together (one group commit or one batch-job chunk)."""
    items = [[item.id, item.trader, item.document_type, item.digest, *_origin(item)] for item in batch]
    return AuditEvent(
        at=at or _now(),
        kind="declarations.accepted",
        actor="writer",
        subject=batch[0].id,
        data={"items": items},
    )


def _origin(item: NewDeclaration) -> list[dict[str, Any]]:
    """`[origin]` for a signed or forwarded submission, else nothing (the entry keeps its old shape)."""
    origin: dict[str, Any] = {}
    if item.signed_by is not None:
        origin["signed_by"] = item.signed_by.summary()
    if item.on_behalf_of is not None:
        origin["on_behalf_of"] = item.on_behalf_of
    return [origin] if origin else []


def lodgement_accepted(
    lodgement_id: str, consignments: Sequence[NewDeclaration], *, trader: str, at: datetime
) -> AuditEvent:
    """A fast-path lodgement: its count and a digest over its consignments' ids and digests."""
    listing = "".join(f"{item.id} {item.digest}\n" for item in consignments).encode()
    data: dict[str, Any] = {
        "count": len(consignments),
        "consignments_digest": "sha256:" + hashlib.sha256(listing).hexdigest(),
        "document_type": consignments[0].document_type if consignments else None,
    }
    if consignments:
        data.update(*_origin(consignments[0]))
    return AuditEvent(at=at, kind="lodgement.accepted", actor=trader, subject=lodgement_id, data=data)


def amended(
    declaration_id: str,
    *,
    trader: str,
    version: int,
    digest: str,
    at: datetime,
    signed_by: SignedBy | None = None,
) -> AuditEvent:
    data: dict[str, Any] = {"version": version, "digest": digest}
    if signed_by is not None:
        data["signed_by"] = signed_by.summary()
    return AuditEvent(at=at, kind="declaration.amended", actor=trader, subject=declaration_id, data=data)


def cancelled(
    declaration_id: str,
    *,
    trader: str,
    version: int,
    digest: str,
    at: datetime,
    signed_by: SignedBy | None = None,
) -> AuditEvent:
    data: dict[str, Any] = {"version": version, "digest": digest}
    if signed_by is not None:  # a cancellation has no row of its own: its signature is kept here
        data["signed_by"] = signed_by.summary()
        data["signature"] = signed_by.signature
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


def client_signature_required(
    client_id: str, *, required: bool, actor: str | None, at: datetime
) -> AuditEvent:
    data = {"required": required}
    return AuditEvent(at=at, kind="client.signature_required", actor=actor, subject=client_id, data=data)


def signing_key_registered(
    client_id: str, *, kid: str, thumbprint: str, crv: str, actor: str, at: datetime
) -> AuditEvent:
    data = {"kid": kid, "thumbprint": thumbprint, "crv": crv}
    return AuditEvent(at=at, kind="signing_key.registered", actor=actor, subject=client_id, data=data)


def signing_key_revoked(client_id: str, *, kid: str, actor: str, at: datetime) -> AuditEvent:
    return AuditEvent(at=at, kind="signing_key.revoked", actor=actor, subject=client_id, data={"kid": kid})


def forwarder_authorised(forwarder_id: str, *, trader: str, actor: str | None, at: datetime) -> AuditEvent:
    data = {"trader": trader}
    return AuditEvent(at=at, kind="forwarder.authorised", actor=actor, subject=forwarder_id, data=data)


def forwarder_deauthorised(forwarder_id: str, *, trader: str, actor: str | None, at: datetime) -> AuditEvent:
    data = {"trader": trader}
    return AuditEvent(at=at, kind="forwarder.deauthorised", actor=actor, subject=forwarder_id, data=data)


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
