"""What every batch reader yields, and the limits every reader honours.

A reader turns one uploaded file into `RawRecord`s, one at a time: the raw bytes of one document
(JSON Lines, XML bundle, ZIP) or one CSV row as a `dict`, with where it came from. A record the
reader itself could not make sense of carries a located `Problem` in `error` instead of a body;
the file carries on. Nothing here parses or validates documents: that is the validator's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from gateway.documents.problems import Problem

__all__ = [
    "BATCH_KINDS",
    "MEDIA_CSV",
    "MEDIA_JSON",
    "MEDIA_XML",
    "BatchKind",
    "RawRecord",
    "ReaderLimits",
]

BatchKind = Literal["jsonl", "csv", "bundle", "zip"]
BATCH_KINDS: Final[tuple[BatchKind, ...]] = ("jsonl", "csv", "bundle", "zip")

MEDIA_JSON: Final = "application/json"
MEDIA_XML: Final = "application/xml"
MEDIA_CSV: Final = "text/csv"

_KIB = 1024
_MIB = 1024 * _KIB


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of a batch file.

    `position` is the 1-based physical line where the record starts (JSON Lines, CSV) or the 1-based
    index of the entry (a bundle's child elements, a ZIP's files in central-directory order); it is
    stable across runs, so a job can resume after the last position it committed. `ref` is the
    caller's reference: the bundle Document's ``ref`` attribute or the ZIP entry's name. Exactly one
    of `body` (JSON/XML bytes), `row` (CSV) or `error` is set.
    """

    position: int
    ref: str | None
    media_type: str
    body: bytes | None = None
    row: dict[str, str] | None = None
    error: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ReaderLimits:
    """How much of a batch file a reader will hold or expand; every limit is in bytes or a count.

    - `max_line_bytes`: one JSON Lines line, or one CSV record (all its physical lines), without its
      line terminator. The one document of a line is held in memory, so this bounds the reader.
    - `max_field_bytes`: one CSV field, after unquoting.
    - `max_entry_bytes`: one bundle Document or one ZIP entry, decompressed (the single-document
      body limit, `TSW_MAX_BODY_BYTES`, by default).
    - `max_entries`: entries in a ZIP's central directory, directories included.
    - `max_total_bytes`: the declared decompressed size of all a ZIP's entries together.
    - `max_ratio`: declared decompressed size / compressed size of one ZIP entry, checked for entries
      of at least `ratio_floor_bytes` (tiny files compress absurdly well and are no bomb).
    """

    max_line_bytes: int = 1 * _MIB
    max_field_bytes: int = 64 * _KIB
    max_entry_bytes: int = 10 * _MIB
    max_entries: int = 10_000
    max_total_bytes: int = 1024 * _MIB
    max_ratio: int = 100
    ratio_floor_bytes: int = 64 * _KIB

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"ReaderLimits.{name} must be positive")
