"""JSON Lines: one JSON document per line, any document type (`documentType` in each).

Decisions:
- The reader does not parse JSON. It checks what is cheap and certain: the line is valid UTF-8 (a
  decode, no objects built) and, after JSON whitespace is trimmed, starts with ``{`` and ends with
  ``}``. Anything else (a scalar, an array, a document pretty-printed over several lines) is
  `batch.not_object`. A line that passes is yielded as bytes; whether it is well-formed JSON is for
  the validator's one parse (`parse_json`) to say, so no line is parsed twice.
- Blank (whitespace-only) lines are skipped; they still count, so positions are physical lines.
- A UTF-8 byte order mark at the start of the file and CRLF line ends are tolerated.
- Resuming: lines up to `start_after` are read and dropped without any check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from gateway.batches.readers.errors import RECORD_ENCODING, RECORD_LINE_TOO_LONG, RECORD_NOT_OBJECT
from gateway.batches.readers.lines import physical_lines
from gateway.batches.readers.records import MEDIA_JSON, RawRecord, ReaderLimits
from gateway.documents.problems import Problem

__all__ = ["read_jsonl"]

_JSON_WHITESPACE = b" \t\r\n"


def read_jsonl(stream: BinaryIO, *, limits: ReaderLimits, start_after: int = 0) -> Iterator[RawRecord]:
    """One `RawRecord` per non-blank line of `stream`; `position` is the line number."""
    for number, content in enumerate(physical_lines(stream, max_line_bytes=limits.max_line_bytes), 1):
        if number <= start_after:
            continue
        if content is None:
            yield _error(number, RECORD_LINE_TOO_LONG, f"line {number} is over {limits.max_line_bytes} bytes")
            continue
        if body := content.strip(_JSON_WHITESPACE):
            yield _record(number, content, body)


def _record(number: int, content: bytes, body: bytes) -> RawRecord:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(number, RECORD_ENCODING, f"line {number}, byte {exc.start + 1}: not valid UTF-8")
    if not (body.startswith(b"{") and body.endswith(b"}")):
        return _error(number, RECORD_NOT_OBJECT, f"line {number} is not a JSON object on one line")
    return RawRecord(position=number, ref=None, media_type=MEDIA_JSON, body=body)


def _error(number: int, code: str, message: str) -> RawRecord:
    return RawRecord(
        position=number, ref=None, media_type=MEDIA_JSON, error=Problem(code=code, path="/", message=message)
    )
