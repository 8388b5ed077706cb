"""XML bundles: an envelope ``{urn:hk:tsw:bundle:1}Bundle`` wrapping many documents of any XML type.

The envelope is described by ``schemas/bundle/bundle.xsd``: a `Bundle` holds any number of
`Document` elements, each wrapping exactly one element (the document) and optionally naming it with
``ref``. The file is streamed with `lxml.etree.iterparse`, configured like the single-document
parser (`gateway.documents.xml_form`): no DTD loading, no entity resolution, no network,
`huge_tree` off (libxml2's depth and text-node limits stay on), XInclude never processed. A DOCTYPE
or entity declaration is refused before the parser sees it: every chunk is searched on its way
from the file to the parser, so one in the prolog stops the file before the first record; the
document information is checked again at the root element, for encodings that search cannot see.

Decisions:
- Each wrapped document is yielded re-serialised as standalone UTF-8 bytes, without an XML
  declaration, carrying every namespace declaration in scope at it (QName-valued content such as
  ``xsi:type`` keeps its prefixes), so it validates on its own. Comments and processing
  instructions around it inside the `Document` are dropped; those inside it are kept.
- `position` is the 1-based index of the child element of `Bundle`; `ref` its ``ref`` attribute
  (1 to 256 characters, as the schema says; another length is a `batch.bundle.entry` error).
- A child that is not a `Document`, or a `Document` that does not wrap exactly one element (text
  other than whitespace around it included), is a record-level `batch.bundle.entry` error.
- A `Document` over `max_entry_bytes` is a record-level `batch.entry_too_large`. Its size is
  measured in bytes read from the file since its start tag (to within one of the parser's reads,
  32 KiB), and once it is over, its elements are cleared as they end, so memory stays bounded while
  it is skipped; the serialised document is checked against the limit again, exactly.
- Every `Document` is cleared and unlinked once yielded: memory holds one document at a time.
- A wrong root element, a DOCTYPE in the prolog or an empty file raise `BatchFileError` at once. A
  file that stops being well-formed later raises `batch.bundle.malformed` when the parser gets
  there: the records yielded before it stand.
- Resuming: Documents up to index `start_after` are parsed (they must be, to find the rest) but
  never serialised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO, Final, cast

from lxml import etree

from gateway.batches.readers.errors import (
    FILE_BUNDLE_MALFORMED,
    FILE_BUNDLE_ROOT,
    FILE_BUNDLE_UNSAFE,
    RECORD_BUNDLE_ENTRY,
    RECORD_ENTRY_TOO_LARGE,
    BatchFileError,
)
from gateway.batches.readers.records import MEDIA_XML, RawRecord, ReaderLimits
from gateway.documents.problems import Problem

__all__ = ["BUNDLE_NAMESPACE", "read_bundle"]

BUNDLE_NAMESPACE: Final = "urn:hk:tsw:bundle:1"
_BUNDLE = f"{{{BUNDLE_NAMESPACE}}}Bundle"
_DOCUMENT = f"{{{BUNDLE_NAMESPACE}}}Document"
_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")
_READ_BYTES = 64 * 1024
_NOT_ELEMENTS = (etree._Comment, etree._ProcessingInstruction, etree._Entity)
_MAX_REF_CHARS = 256  # as bundle.xsd says

_Events = Iterator[tuple[str, etree._Element]]


def read_bundle(stream: BinaryIO, *, limits: ReaderLimits, start_after: int = 0) -> Iterator[RawRecord]:
    """Check the prolog and root at once (`BatchFileError`), then yield one record per Document."""
    source = _GuardedSource(stream)
    events = _translated(
        cast(
            _Events,
            etree.iterparse(
                source,
                events=("start", "end"),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                dtd_validation=False,
                huge_tree=False,
            ),
        )
    )
    _check_root(events)
    return _Walk(source, limits=limits, start_after=start_after).records(events)


class _GuardedSource:
    """The file as lxml reads it: each chunk is searched for DOCTYPE and ENTITY before lxml has it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._tail = b""  # the end of the previous chunk, for a declaration split across two
        self.offset = 0  # bytes handed to the parser so far

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size if 0 < size <= _READ_BYTES else _READ_BYTES)
        window = self._tail + chunk
        if any(declaration in window for declaration in _DECLARATIONS):
            raise BatchFileError(FILE_BUNDLE_UNSAFE, "DOCTYPE and entity declarations are not allowed")
        self._tail = window[-len(_DECLARATIONS[0]) :]
        self.offset += len(chunk)
        return chunk


def _translated(events: _Events) -> _Events:
    """The parser's events, with its errors turned into `BatchFileError`."""
    try:
        yield from events
    except etree.XMLSyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        raise BatchFileError(
            FILE_BUNDLE_MALFORMED, f"the bundle is not well-formed XML: {exc.msg}{where}"
        ) from exc
    except etree.LxmlError as exc:
        raise BatchFileError(FILE_BUNDLE_MALFORMED, f"the bundle cannot be parsed: {exc}") from exc


def _check_root(events: _Events) -> None:
    """The first event is the root's start: no DOCTYPE before it, and it must be a Bundle."""
    first = next(events, None)
    if first is None or first[0] != "start":
        raise BatchFileError(FILE_BUNDLE_MALFORMED, "the bundle is empty")
    root = first[1]
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise BatchFileError(FILE_BUNDLE_UNSAFE, "DOCTYPE and entity declarations are not allowed")
    if root.tag != _BUNDLE:
        raise BatchFileError(FILE_BUNDLE_ROOT, f"the root element is {root.tag}, not {_BUNDLE}")


class _Walk:
    """Follows the parser's events below the root, one Bundle child (an entry) at a time."""

    def __init__(self, source: _GuardedSource, *, limits: ReaderLimits, start_after: int) -> None:
        self._source = source
        self._limits = limits
        self._start_after = start_after
        self._index = 0
        self._entry_offset = 0
        self._skipping = False  # resuming past this entry: parse it, never serialise it
        self._too_large = False

    def records(self, events: _Events) -> Iterator[RawRecord]:
        depth = 1
        for event, element in events:
            if event == "start":
                depth += 1
                self._started(depth)
                continue
            depth -= 1
            if depth >= 2:
                self._inner_ended(element)
            elif depth == 1:
                if not self._skipping:
                    yield self._entry(element)
                _release(element)

    def _started(self, depth: int) -> None:
        if depth == 2:
            self._index += 1
            self._entry_offset = self._source.offset
            self._skipping = self._index <= self._start_after
            self._too_large = False
        elif self._source.offset - self._entry_offset > self._limits.max_entry_bytes:
            self._too_large = True

    def _inner_ended(self, element: etree._Element) -> None:
        if self._source.offset - self._entry_offset > self._limits.max_entry_bytes:
            self._too_large = True
        if self._skipping or self._too_large:
            _release(element)

    def _entry(self, element: etree._Element) -> RawRecord:
        if element.tag != _DOCUMENT:
            return self._error(None, RECORD_BUNDLE_ENTRY, f"a {element.tag} element, not a {_DOCUMENT}")
        ref = element.get("ref")
        if ref is not None and not 0 < len(ref) <= _MAX_REF_CHARS:
            return self._error(None, RECORD_BUNDLE_ENTRY, f"ref must be 1 to {_MAX_REF_CHARS} characters")
        if self._too_large:
            return self._error(ref, RECORD_ENTRY_TOO_LARGE, f"over {self._limits.max_entry_bytes} bytes")
        wrapped = _wrapped(element)
        if wrapped is None:
            return self._error(ref, RECORD_BUNDLE_ENTRY, "a Document must wrap exactly one element")
        body = etree.tostring(wrapped, encoding="UTF-8", xml_declaration=False, with_tail=False)
        if len(body) > self._limits.max_entry_bytes:
            return self._error(ref, RECORD_ENTRY_TOO_LARGE, f"over {self._limits.max_entry_bytes} bytes")
        return RawRecord(position=self._index, ref=ref, media_type=MEDIA_XML, body=body)

    def _error(self, ref: str | None, code: str, message: str) -> RawRecord:
        problem = Problem(code=code, path="/", message=f"bundle entry {self._index}: {message}")
        return RawRecord(position=self._index, ref=ref, media_type=MEDIA_XML, error=problem)


def _wrapped(document: etree._Element) -> etree._Element | None:
    """The one element a Document wraps, or None when it holds none, several, or text beside it."""
    if (document.text or "").strip():
        return None
    found: etree._Element | None = None
    for child in document:
        if (child.tail or "").strip():
            return None
        if isinstance(child, _NOT_ELEMENTS):
            continue
        if found is not None:
            return None
        found = child
    return found


def _release(element: etree._Element) -> None:
    """Free an element the parser has finished, and the already-finished siblings before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
