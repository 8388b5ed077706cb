"""CSV batch files (RFC 4180, UTF-8): a header row, then one record per row, as `dict[str, str]`.

Decisions:
- **Header**: the first non-blank record names the columns. Names are compared after trimming
  spaces, in any order; a header that lacks an expected column, names one the caller did not expect,
  or names one twice is a file-level `batch.csv.header` error raised before any record, as is a
  header that is not valid UTF-8, too long or badly quoted, or a file with no header at all. Rows
  are dicts keyed by the expected columns, in the caller's order.
- **Quoting**: fields may be quoted with ``"``, a quote inside doubled (``""``); a quoted field may
  span lines (an embedded CRLF becomes LF). Text between a closing quote and the next comma is a
  record-level `batch.csv.quote` error. A ``"`` inside an unquoted field is an ordinary character,
  as in Python's `csv` module and spreadsheet programs. A quoted field still open at the end of the
  file is a record-level `batch.csv.unterminated_quote` error at the record's position, naming the
  line where that field's opening quote is.
- **Encoding**: record-level. Each physical line is decoded on its own; bytes that are not UTF-8
  are kept as lone surrogates (``surrogateescape``) only to find the record's end (``"``, ``,`` and
  LF are ASCII, which never occurs inside a UTF-8 sequence, so framing is exact whatever the other
  bytes are). The record is then `batch.encoding`, its path the column holding the bad bytes, and
  the next record reads normally. A UTF-8 BOM at the start of the file is tolerated; other
  encodings (UTF-16 ...) fail on the header.
- **Limits**: a record (all its lines) over `max_line_bytes` is `batch.line_too_long`; once over, its
  fields are dropped while the reader still follows its quotes to find where it ends. A physical
  line over the limit is never held at all and ends its record there (a quoted field cannot carry
  on past it). A field over `max_field_bytes` (UTF-8 bytes, unquoted) is `batch.csv.field_too_long`.
  A record with more or fewer fields than the header is `batch.csv.field_count`.
- **Blank lines** between records are skipped; positions are the physical line a record starts on.
- **Resuming**: records starting on a line up to `start_after` are framed but never kept: a line
  without a ``"`` costs one byte search, and is not even decoded.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from gateway.batches.readers.errors import (
    FILE_CSV_HEADER,
    RECORD_CSV_FIELD_COUNT,
    RECORD_CSV_FIELD_TOO_LONG,
    RECORD_CSV_QUOTE,
    RECORD_CSV_UNTERMINATED_QUOTE,
    RECORD_ENCODING,
    RECORD_LINE_TOO_LONG,
    BatchFileError,
)
from gateway.batches.readers.lines import physical_lines
from gateway.batches.readers.records import MEDIA_CSV, RawRecord, ReaderLimits
from gateway.documents.problems import Problem

__all__ = ["read_csv"]

_QUOTED_TEXT = re.compile(r'[^"]*(?:""[^"]*)*')  # the inside of a quoted field, up to its closing quote
_ESCAPED = re.compile(r"[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8


def read_csv(
    stream: BinaryIO, *, columns: Sequence[str], limits: ReaderLimits, start_after: int = 0
) -> Iterator[RawRecord]:
    """Check the header at once (`BatchFileError`), then yield one `RawRecord` per data record."""
    framed = _frame(physical_lines(stream, max_line_bytes=limits.max_line_bytes), limits, start_after)
    header = _Header.read(next(framed, None), columns)
    return _rows(framed, header, limits, start_after)


def _rows(
    framed: Iterator[_Record], header: _Header, limits: ReaderLimits, start_after: int
) -> Iterator[RawRecord]:
    for record in framed:
        if record.start > start_after:
            yield _row(record, header, limits)


class _Record:
    """A record being framed: its fields so far, its quote state and its first problem."""

    __slots__ = (
        "bad_bytes",
        "fields",
        "in_quote",
        "keep",
        "pieces",
        "problem",
        "quote_line",
        "size",
        "start",
    )

    def __init__(self, start: int, *, keep: bool) -> None:
        self.start = start
        self.keep = keep  # False while resuming, or once the record is too long: frame only
        self.fields: list[str] = []
        self.pieces: list[str] = []  # the lines of the quoted field still open
        self.in_quote = False
        self.quote_line = 0
        self.size = 0
        self.bad_bytes = False  # some line was not UTF-8
        self.problem: Problem | None = None

    def fail(self, code: str, message: str, *, path: str = "/") -> None:
        if self.problem is None:
            self.problem = Problem(code=code, path=path, message=message)

    def drop(self) -> None:
        self.keep = False
        self.fields = []
        self.pieces = []


def _frame(lines: Iterator[bytes | None], limits: ReaderLimits, start_after: int) -> Iterator[_Record]:
    """Group physical lines into records; the first record (the header) is always kept."""
    record: _Record | None = None
    header_seen = False
    fast = _LineParser()
    for number, content in enumerate(lines, 1):
        if record is None:
            if content == b"":
                continue
            record = _Record(number, keep=number > start_after or not header_seen)
            header_seen = True
        if content is None:
            record.fail(RECORD_LINE_TOO_LONG, f"line {number} is over {limits.max_line_bytes} bytes")
            record.drop()
            record.in_quote = False
        elif record.keep or record.in_quote or b'"' in content:
            _measure(record, content, limits.max_line_bytes)
            if not _whole_line(record, content, fast):
                _scan(record, _decoded_line(record, content), number)
        if not record.in_quote:
            yield record
            record = None
    if record is not None:
        record.problem = None  # the open quote is why the record ran on: say so rather than its size
        record.fail(
            RECORD_CSV_UNTERMINATED_QUOTE,
            f"the quoted field opened on line {record.quote_line} is not closed at the end of the file",
        )
        yield record


class _LineParser:
    """Python's C `csv` reader (strict) over one physical line at a time: the fast path for a record
    that is one line of valid UTF-8 with its quotes paired. It agrees with `_scan` wherever it
    succeeds; whatever it cannot take (an open quote, text after a closing quote, a stray CR, a huge
    field) raises, and the line goes the careful way instead."""

    def __init__(self) -> None:
        self._line = ""
        self._reader = csv.reader(self, strict=True)

    def __iter__(self) -> _LineParser:
        return self

    def __next__(self) -> str:
        line, self._line = self._line, ""
        if not line:
            raise StopIteration  # asked for a second line: the record does not end on this one
        return line

    def fields(self, line: str) -> list[str] | None:
        self._line = line
        try:
            return next(self._reader)
        except (csv.Error, StopIteration):
            self._reader = csv.reader(self, strict=True)  # start afresh after a refusal
            return None


def _whole_line(record: _Record, content: bytes, fast: _LineParser) -> bool:
    """Frame a fresh one-line record through the fast path; False when it must go the careful way."""
    if record.in_quote or record.fields or not record.keep or content.count(b'"') % 2 or b"\r" in content:
        return False  # csv takes a CR for a line end; `_scan` keeps it as text
    try:
        line = content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    fields = fast.fields(line)
    if fields is None:
        return False
    record.fields = fields
    return True


def _measure(record: _Record, content: bytes, max_bytes: int) -> None:
    record.size += len(content) + (1 if record.in_quote else 0)
    if record.size > max_bytes and record.problem is None:
        record.fail(
            RECORD_LINE_TOO_LONG, f"the record starting on line {record.start} is over {max_bytes} bytes"
        )
        record.drop()


def _decoded_line(record: _Record, content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        record.bad_bytes = True
        return content.decode("utf-8", "surrogateescape")


def _scan(record: _Record, line: str, number: int) -> None:
    """Split one physical line into `record.fields`, following quotes across lines."""
    pos = _close_quote(record, line, number) if record.in_quote else 0
    while pos >= 0:
        pos = _fields_from(record, line, pos, number)


def _fields_from(record: _Record, line: str, pos: int, number: int) -> int:
    """Split from a field's start through the next quoted field; the position after it, or -1.

    The unquoted fields before the next ``"`` are split in one `str.split`.
    """
    quote = line.find('"', pos)
    if quote < 0:
        if record.keep:
            record.fields.extend(line[pos:].split(","))
        return -1
    start = line.rfind(",", pos, quote) + 1 or pos  # where the field holding the quote starts
    if start > pos and record.keep:
        record.fields.extend(line[pos : start - 1].split(","))
    if start == quote:
        return _quoted_field(record, line, quote, number)
    comma = line.find(",", quote)  # a quote inside an unquoted field is an ordinary character
    if record.keep:
        record.fields.append(line[start:] if comma < 0 else line[start:comma])
    return -1 if comma < 0 else comma + 1


def _close_quote(record: _Record, line: str, number: int) -> int:
    """Carry on the quoted field left open by the previous line; the next field's position or -1."""
    end = _quoted_end(line, 0)
    if record.keep:
        record.pieces.append(line[:end])
    if end == len(line):
        return -1
    record.in_quote = False
    if record.keep:
        record.fields.append("\n".join(record.pieces).replace('""', '"'))
        record.pieces = []
    return _after_quote(record, line, end + 1, number)


def _quoted_field(record: _Record, line: str, pos: int, number: int) -> int:
    end = _quoted_end(line, pos + 1)
    if end == len(line):
        record.in_quote = True
        record.quote_line = number
        if record.keep:
            record.pieces = [line[pos + 1 :]]
        return -1
    if record.keep:
        record.fields.append(line[pos + 1 : end].replace('""', '"'))
    return _after_quote(record, line, end + 1, number)


def _quoted_end(line: str, pos: int) -> int:
    """Where the quoted text starting at `pos` ends: its closing quote, or the end of the line."""
    found = _QUOTED_TEXT.match(line, pos)
    return found.end() if found else pos  # the pattern matches the empty string: always found


def _after_quote(record: _Record, line: str, pos: int, number: int) -> int:
    """After a closing quote comes a comma (next field at the returned position) or the line's end (-1)."""
    if pos == len(line):
        return -1
    if line[pos] == ",":
        return pos + 1
    record.fail(RECORD_CSV_QUOTE, f"line {number}, character {pos + 1}: text after a closing quote")
    comma = line.find(",", pos)
    return -1 if comma < 0 else comma + 1


class _Header:
    """The expected columns, and where each is in the file's records."""

    def __init__(self, names: list[str], indexes: list[int], width: int) -> None:
        self.names = names
        self.indexes = indexes
        self.width = width  # fields in every record
        self.in_order = indexes == list(range(width))

    def columns(self) -> Iterator[tuple[str, int]]:
        return zip(self.names, self.indexes, strict=True)

    @classmethod
    def read(cls, record: _Record | None, columns: Sequence[str]) -> _Header:
        if record is None:
            raise _header_error("the file is empty: a header row naming the columns is required")
        if record.problem is not None:
            raise _header_error(f"the header row cannot be read: {record.problem.message}")
        if record.bad_bytes:
            raise _header_error("the header row is not valid UTF-8")
        found = [field.strip(" ") for field in record.fields]
        _check_names(found, columns)
        return cls(list(columns), [found.index(name) for name in columns], len(found))


def _header_error(message: str) -> BatchFileError:
    return BatchFileError(FILE_CSV_HEADER, message)


def _check_names(found: list[str], columns: Sequence[str]) -> None:
    expected = set(columns)
    complaints = []
    if missing := [name for name in columns if name not in found]:
        complaints.append(f"missing {_listed(missing)}")
    if unknown := [name for name in found if name not in expected]:
        complaints.append(f"unknown {_listed(unknown)}")
    if duplicate := [name for name, count in Counter(found).items() if count > 1]:
        complaints.append(f"duplicate {_listed(duplicate)}")
    if complaints:
        raise _header_error(f"the header row has {'; '.join(complaints)}")


def _listed(names: list[str], most: int = 20) -> str:
    shown = ", ".join(repr(name[:64]) for name in names[:most])
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return f"column(s) {shown}{more}"


def _row(record: _Record, header: _Header, limits: ReaderLimits) -> RawRecord:
    if record.problem is None:
        _check_fields(record, header, limits.max_field_bytes)
    if record.problem is not None:
        return RawRecord(position=record.start, ref=None, media_type=MEDIA_CSV, error=record.problem)
    fields = record.fields
    values = fields if header.in_order else [fields[index] for index in header.indexes]
    row = dict(zip(header.names, values, strict=True))
    return RawRecord(position=record.start, ref=None, media_type=MEDIA_CSV, row=row)


def _check_fields(record: _Record, header: _Header, max_field_bytes: int) -> None:
    fields = record.fields
    if len(fields) != header.width:
        message = f"line {record.start}: {len(fields)} field(s), the header has {header.width}"
        record.fail(RECORD_CSV_FIELD_COUNT, message)
        return
    if record.bad_bytes:
        name = next((name for name, i in header.columns() if _ESCAPED.search(fields[i])), "")
        message = f"line {record.start}: column {name!r} is not valid UTF-8"
        record.fail(RECORD_ENCODING, message, path=f"/{name}")
        return
    if record.size > max_field_bytes:  # only then can one field be over
        for name, index in header.columns():
            if len(fields[index].encode("utf-8")) > max_field_bytes:
                message = f"line {record.start}: column {name!r} is over {max_field_bytes} bytes"
                record.fail(RECORD_CSV_FIELD_TOO_LONG, message, path=f"/{name}")
                return
