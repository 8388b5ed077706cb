"""Checkpoints kept outside the database, which a rewrite of the database cannot reach.

The chain and its signed checkpoints live in one database. Someone able to write there can delete
the tail of the log together with every checkpoint after the point they cut: what remains still
verifies. Copies of the checkpoints kept elsewhere close that gap. `tsw audit checkpoints` prints
them as JSON lines (`{"seq", "hash", "at", "kid", "signature"}`, the signature a compact JWS by the
gateway key), for an operator to append to storage of their choosing; `tsw audit verify
--checkpoints FILE` then holds the database to every kept copy: each must verify against the JWKS,
the chain must reach its hash at its `seq`, and the database's own checkpoint at that `seq`, if it
still has one, must be the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import orjson

from gateway.store.audit import Checkpoint

__all__ = ["KeptCheckpointsError", "checkpoint_lines", "read_kept_checkpoints"]


class KeptCheckpointsError(ValueError):
    """A line of a kept-checkpoints file that is not a checkpoint."""


def checkpoint_lines(checkpoints: Iterable[Checkpoint]) -> bytes:
    """One JSON object per line, in the order given."""
    return b"".join(
        orjson.dumps(
            {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "at": checkpoint.at.isoformat(),
                "kid": checkpoint.kid,
                "signature": checkpoint.signature,
            }
        )
        + b"\n"
        for checkpoint in checkpoints
    )


def read_kept_checkpoints(path: Path) -> list[Checkpoint]:
    """The checkpoints of a file written from `checkpoint_lines` (blank lines skipped)."""
    kept = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            fields = orjson.loads(line)
            kept.append(
                Checkpoint(
                    seq=int(fields["seq"]),
                    hash=str(fields["hash"]),
                    at=datetime.fromisoformat(fields["at"]),
                    kid=str(fields["kid"]),
                    signature=str(fields["signature"]),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise KeptCheckpointsError(f"{path}, line {number}: not a checkpoint ({exc})") from exc
    return kept
