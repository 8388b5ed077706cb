"""Spooling an upload to disk: streamed, size-limited, hashed on the way, never held in memory."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import PayloadTooLarge, ServiceUnavailable

__all__ = ["Spooled", "spool"]

_HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Spooled:
    path: Path
    digest: str  # "sha256:" + hex of the exact bytes
    size: int
    head: bytes  # the first bytes, to tell the format by
    lines: int  # lines (a last one without a newline counts), for a first estimate of the records


async def spool(chunks: AsyncIterator[bytes], *, directory: Path, limit_bytes: int) -> Spooled:
    """Write `chunks` to a new file in `directory`; `PayloadTooLarge` (and no file) past `limit_bytes`;
    `ServiceUnavailable` (and no file) when the disk is full or failing: the upload may be tried again."""
    try:
        return await _spool(chunks, directory=directory, limit_bytes=limit_bytes)
    except OSError as exc:  # ENOSPC, EDQUOT, EIO: say so without the path
        reason = exc.strerror or "I/O error"
        raise ServiceUnavailable(f"the upload cannot be stored now: {reason}") from exc


async def _spool(chunks: AsyncIterator[bytes], *, directory: Path, limit_bytes: int) -> Spooled:
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (a local directory: instant)
    path = directory / f"{uuid.uuid4()}.upload"
    sha256 = hashlib.sha256()
    size = lines = 0
    head = last = b""
    try:
        with path.open("wb") as file:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit_bytes:
                    raise PayloadTooLarge(f"upload is over the {limit_bytes}-byte limit")
                if len(head) < _HEAD_BYTES:
                    head += chunk[: _HEAD_BYTES - len(head)]
                sha256.update(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:] or last
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    lines += 1 if last not in (b"", b"\n") else 0
    return Spooled(path=path, digest="sha256:" + sha256.hexdigest(), size=size, head=head, lines=lines)
