"""The hash chain: the exact bytes each audit entry is hashed over, and how entries link.

Entry `n` stores `prev_hash` (entry `n - 1`'s `hash`; 64 zeros for entry 1) and
`hash = sha256(bytes.fromhex(prev_hash) || canonical(entry))`, where the canonical bytes are the JSON
object `{"seq", "at", "kind", "actor", "subject", "data"}` with sorted keys, no whitespace, and `at`
as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. `seq` is part of what is hashed, so renumbering entries changes
their hashes. Data holds strings, integers, lists and objects only (no floats), so every backend
gives back exactly what was hashed.

Status changes are covered in ranges of `status_history` rows (see `gateway.audit.chainer`):
`history_digest` is the sha256 over one line per row, `id declaration_id status at detail`, as JSON
arrays, so `tsw audit verify` can check the rows themselves were not changed since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["GENESIS", "AuditEvent", "ChainedEntry", "at_text", "canonical", "history_digest", "link"]

#: The `prev_hash` of the first entry.
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What an entry says, without its place in the chain: one audited event."""

    at: datetime
    kind: str
    actor: str | None
    subject: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    seq: int
    event: AuditEvent
    prev_hash: str
    hash: str


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(seq: int, event: AuditEvent) -> bytes:
    return orjson.dumps(
        {
            "seq": seq,
            "at": at_text(event.at),
            "kind": event.kind,
            "actor": event.actor,
            "subject": event.subject,
            "data": event.data,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def link(seq: int, event: AuditEvent, *, prev_hash: str) -> str:
    """The hash of entry `seq` whose predecessor's hash is `prev_hash`."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(seq, event)).hexdigest()


def history_digest(rows: Iterable[tuple[int, str, str, datetime, str | None]]) -> str:
    """sha256 over `status_history` rows `(id, declaration_id, status, at, detail)`, in id order."""
    digest = hashlib.sha256()
    for row_id, declaration_id, status, at, detail in rows:
        digest.update(orjson.dumps([row_id, declaration_id, status, at_text(at), detail]))
        digest.update(b"\n")
    return digest.hexdigest()
