"""Opening a spooled batch file with the reader for its format.

`open_reader` runs the checks a format can make before its first record (a CSV header; every check
on a ZIP's directory and entry heads; a bundle's prolog and root element) before it returns, so a
refused file raises `BatchFileError` from the call itself; later damage raises from iteration.
The `RecordStream` it returns is an iterator of `RawRecord`s and a context manager; a file it opened
from a path is closed when the records run out, on an error, or on `close()`. A file object passed
in is read from its current position (a ZIP, which needs seeking, is read whole) and left open; an
unbuffered one is read through a buffer that never closes it.

Resuming: `start_after` is the `position` of the last record already handled (0 for none); only
records with a greater position are yielded. Positions are stable across runs of the same file, so
a restarted job passes the last position it committed and neither loses nor repeats a record.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import BinaryIO

from gateway.batches.readers.archive import read_zip
from gateway.batches.readers.bundle import read_bundle
from gateway.batches.readers.csv_rows import read_csv
from gateway.batches.readers.jsonl import read_jsonl
from gateway.batches.readers.records import BATCH_KINDS, BatchKind, RawRecord, ReaderLimits

__all__ = ["RecordStream", "Source", "open_reader"]

Source = str | os.PathLike[str] | BinaryIO
_BUFFER_BYTES = 256 * 1024
_DEFAULT_LIMITS = ReaderLimits()


class RecordStream(Iterator[RawRecord]):
    """The records of one batch file, in order."""

    def __init__(self, records: Iterator[RawRecord], *, owned: BinaryIO | None) -> None:
        self._records = records
        self._owned = owned

    def __next__(self) -> RawRecord:
        try:
            return next(self._records)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading; close the file if this stream opened it. Safe to call twice."""
        close = getattr(self._records, "close", None)
        if close is not None:
            close()
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> RecordStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_reader(
    kind: BatchKind | str,
    source: Source,
    *,
    limits: ReaderLimits = _DEFAULT_LIMITS,
    csv_columns: Sequence[str] | None = None,
    start_after: int = 0,
) -> RecordStream:
    """The records of the batch file `source` (a path or a binary file) read as `kind`.

    `kind` is one of `BATCH_KINDS` (a plain string is accepted, as stored with a job; anything else
    is a `ValueError`). `csv_columns` (required for CSV) are the columns the header must name, in
    any order.
    """
    if kind not in BATCH_KINDS:
        raise ValueError(f"unknown batch kind {kind!r}")
    if kind == "csv" and csv_columns is None:
        raise ValueError("reading a CSV batch needs csv_columns")
    if start_after < 0:
        raise ValueError("start_after must be 0 or a record position")
    stream, owned = _open(source)
    try:
        records = _read(kind, stream, limits=limits, csv_columns=csv_columns or (), start_after=start_after)
    except BaseException:
        if owned:
            stream.close()
        raise
    return RecordStream(records, owned=stream if owned else None)


def _open(source: Source) -> tuple[BinaryIO, bool]:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb", buffering=_BUFFER_BYTES), True
    if isinstance(source, io.RawIOBase):  # unbuffered: readline would read a byte at a time
        return _Borrowed(source, _BUFFER_BYTES), False
    return source, False


class _Borrowed(io.BufferedReader):
    """A buffer over the caller's unbuffered file that leaves the file open when it goes."""

    def close(self) -> None:
        with contextlib.suppress(ValueError):  # already detached
            self.detach()


def _read(
    kind: str, stream: BinaryIO, *, limits: ReaderLimits, csv_columns: Sequence[str], start_after: int
) -> Iterator[RawRecord]:
    if kind == "jsonl":
        return read_jsonl(stream, limits=limits, start_after=start_after)
    if kind == "csv":
        return read_csv(stream, columns=csv_columns, limits=limits, start_after=start_after)
    if kind == "bundle":
        return read_bundle(stream, limits=limits, start_after=start_after)
    return read_zip(stream, limits=limits, start_after=start_after)
