"""Physical lines of a text batch file, never more than a bounded number of bytes at a time.

`readline(limit)` does the splitting in C. A line longer than the limit is not kept: it is drained
in small chunks up to the next newline and reported as too long. Lines end with LF; a CR before the
LF (or before the end of the file) is removed too, so CRLF files read the same. A UTF-8 byte order
mark at the very start of the file is removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["physical_lines"]

_BOM = b"\xef\xbb\xbf"
_DRAIN_BYTES = 64 * 1024


def physical_lines(stream: BinaryIO, *, max_line_bytes: int) -> Iterator[bytes | None]:
    """Every line of `stream` from its current position, without its terminator, in order.

    A line over `max_line_bytes` is yielded as None (its bytes are never held), so the caller can
    still count lines: the n-th item is physical line n.
    """
    limit = max_line_bytes + 2  # room for CRLF
    first = True
    while raw := stream.readline(limit + len(_BOM) if first else limit):
        if first and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        first = False
        if not raw.endswith(b"\n") and len(raw) >= limit:
            _drain(stream)
            yield None
            continue
        content = _strip_terminator(raw)
        yield content if len(content) <= max_line_bytes else None


def _strip_terminator(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    return raw[:-1] if raw.endswith(b"\r") else raw


def _drain(stream: BinaryIO) -> None:
    """Skip the rest of an overlong line, up to and including its newline."""
    while chunk := stream.readline(_DRAIN_BYTES):
        if chunk.endswith(b"\n"):
            return
