"""ZIP archives of XML and JSON files, one record per file, checked whole before the first record.

Refused at once with `BatchFileError`, before anything is yielded, in this order:
- more than `max_entries` entries, or a central directory too large for that many
  (`zip_layout.directory_entries`, before `zipfile` reads it); not a ZIP at all;
- an entry name that is empty, absolute (``/x``), holds a ``..`` segment, a drive letter
  (``C:``), a backslash or a NUL (zip slip) - every entry's name is checked, directories included -
  or that two entries share (tools disagree on which one wins; the results name entries);
- a symbolic link or other special file (the Unix mode in `external_attr`);
- an encrypted entry, or one compressed other than stored or deflated: bzip2 and LZMA decompress a
  whole read at once, with no bound on the output, so they are not accepted;
- a declared entry size over `max_entry_bytes`, a declared total over `max_total_bytes`, or an
  entry of at least `ratio_floor_bytes` whose declared size / compressed size is over `max_ratio`;
- a nested archive by name (.zip, .jar, .gz, .tgz, .tar, .7z, .rar, .bz2, .xz and kin);
- a file that is neither ``.xml`` nor ``.json`` (file-level, listing them: the submitter learns
  about every one at once instead of finding them among the results);
- a local header that is missing or names another file; entries whose data overlap (the
  non-recursive zip bomb, many names for one compressed stream) or run past the end of the file;
- a nested archive by content: the first bytes of every file, decompressed, are checked for the
  magic numbers of ZIP, gzip, bzip2, xz, 7z, RAR, zstd, LZ4, compress, LZMA, CAB and tar.

Directories are skipped, and so is macOS metadata (``__MACOSX/`` and ``.DS_Store``). Each file is
then inflated by this module (`zlib`, not `zipfile`) counting the bytes it really produces: one that
inflates past its declared size (a lying header) raises `batch.zip.size_mismatch` at once, one that
falls short or fails its CRC raises `batch.zip.malformed`. Those two are found while reading, so the
records before them stand. `position` is the 1-based index among the files yielded (central
directory order), `ref` the entry's name, the media type follows the extension.

Resuming: files up to `start_after` are not inflated (the checks above still run).
"""

from __future__ import annotations

import re
import stat
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import pairwise
from typing import BinaryIO

from gateway.batches.readers.errors import (
    FILE_ZIP_ENTRY_TYPE,
    FILE_ZIP_LINK,
    FILE_ZIP_MALFORMED,
    FILE_ZIP_NESTED,
    FILE_ZIP_OVERLAP,
    FILE_ZIP_RATIO,
    FILE_ZIP_SIZE_MISMATCH,
    FILE_ZIP_TOO_LARGE,
    FILE_ZIP_UNSAFE_NAME,
    FILE_ZIP_UNSUPPORTED,
    BatchFileError,
)
from gateway.batches.readers.records import MEDIA_JSON, MEDIA_XML, RawRecord, ReaderLimits
from gateway.batches.readers.zip_layout import DataSpan, data_span, directory_entries

__all__ = ["read_zip"]

_MEDIA_TYPES = {".xml": MEDIA_XML, ".json": MEDIA_JSON}
_ARCHIVE_SUFFIXES = (
    *(".zip", ".jar", ".war", ".ear", ".apk", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".tbz"),
    *(".tbz2", ".xz", ".txz", ".zst", ".lz", ".lzma", ".lz4", ".z", ".cab"),
)
_MAGIC_NUMBERS = (
    *(b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"),
    *(b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18", b"\x1f\x9d"),
    *(b"\x5d\x00\x00", b"MSCF"),
)
_TAR_MAGIC = (257, (b"ustar\x00", b"ustar  \x00"))
_HEAD_BYTES = 265
_READ_BYTES = 64 * 1024
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_DRIVE = re.compile(r"[A-Za-z]:")
_LISTED = 10


@dataclass(frozen=True, slots=True)
class _Entry:
    index: int
    info: zipfile.ZipInfo
    span: DataSpan
    media_type: str

    @property
    def name(self) -> str:
        return self.info.orig_filename


def read_zip(stream: BinaryIO, *, limits: ReaderLimits, start_after: int = 0) -> Iterator[RawRecord]:
    """Check the whole archive at once (`BatchFileError`), then yield one record per XML or JSON file."""
    if not stream.seekable():
        raise ValueError("a ZIP archive is read from a seekable file")
    directory_entries(stream, max_entries=limits.max_entries)
    infos = _infolist(stream)
    _check_directory(infos, limits)
    entries = _entries(stream, infos)
    for entry in entries:
        _check_head(stream, entry)
    return _records(stream, entries, limits, start_after)


def _infolist(stream: BinaryIO) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(stream) as archive:  # a file object passed in is left open
            return archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error) as exc:
        raise BatchFileError(FILE_ZIP_MALFORMED, f"not a readable ZIP archive: {exc}") from exc
    except NotImplementedError as exc:
        raise BatchFileError(FILE_ZIP_UNSUPPORTED, f"an unsupported ZIP feature: {exc}") from exc


def _check_directory(infos: Sequence[zipfile.ZipInfo], limits: ReaderLimits) -> None:
    _refuse(
        FILE_ZIP_UNSAFE_NAME,
        "unsafe entry name(s)",
        [i.orig_filename for i in infos if _unsafe(i.orig_filename)],
    )
    names = Counter(info.orig_filename for info in infos)
    _refuse(
        FILE_ZIP_UNSAFE_NAME, "duplicate entry name(s)", [name for name, count in names.items() if count > 1]
    )
    _refuse(
        FILE_ZIP_LINK, "symbolic link(s) or special file(s)", [i.orig_filename for i in infos if _special(i)]
    )
    _refuse(
        FILE_ZIP_UNSUPPORTED,
        "encrypted entries or compression other than stored or deflated",
        [i.orig_filename for i in infos if i.flag_bits & 0x1 or i.compress_type not in _METHODS],
    )
    _check_sizes(infos, limits)
    files = [info for info in infos if _is_content(info)]
    _refuse(
        FILE_ZIP_NESTED,
        "nested archive(s)",
        [i.orig_filename for i in files if _archive_name(i.orig_filename)],
    )
    _refuse(
        FILE_ZIP_ENTRY_TYPE,
        "entries that are neither .xml nor .json",
        [i.orig_filename for i in files if _media_type(i.orig_filename) is None],
    )


def _check_sizes(infos: Sequence[zipfile.ZipInfo], limits: ReaderLimits) -> None:
    too_large = [i.orig_filename for i in infos if i.file_size > limits.max_entry_bytes]
    _refuse(FILE_ZIP_TOO_LARGE, f"entries declared over {limits.max_entry_bytes} bytes", too_large)
    total = sum(info.file_size for info in infos)
    if total > limits.max_total_bytes:
        raise BatchFileError(
            FILE_ZIP_TOO_LARGE, f"the entries add up to {total} bytes, over {limits.max_total_bytes}"
        )
    _refuse(
        FILE_ZIP_RATIO,
        f"entries compressed more than {limits.max_ratio} to 1",
        [i.orig_filename for i in infos if _ratio_over(i, limits)],
    )


def _ratio_over(info: zipfile.ZipInfo, limits: ReaderLimits) -> bool:
    if info.file_size < limits.ratio_floor_bytes:
        return False
    return info.file_size > limits.max_ratio * info.compress_size


def _entries(stream: BinaryIO, infos: Sequence[zipfile.ZipInfo]) -> list[_Entry]:
    """The files to yield, numbered; every entry's local header and data span checked on the way."""
    spans = [data_span(stream, info) for info in infos]
    _check_spans(
        [(span, info.orig_filename) for span, info in zip(spans, infos, strict=True)], size=stream.seek(0, 2)
    )
    entries: list[_Entry] = []
    for info, span in zip(infos, spans, strict=True):
        media_type = _media_type(info.orig_filename)
        if _is_content(info) and media_type is not None:
            entries.append(_Entry(index=len(entries) + 1, info=info, span=span, media_type=media_type))
    return entries


def _check_spans(spans: list[tuple[DataSpan, str]], *, size: int) -> None:
    ordered = sorted(spans, key=lambda pair: pair[0].header)
    for (span, name), (following, other) in pairwise(ordered):
        if span.end > following.header:
            raise BatchFileError(FILE_ZIP_OVERLAP, f"entries {name!r} and {other!r} overlap")
    for span, name in ordered:
        if span.end > size:
            raise BatchFileError(FILE_ZIP_MALFORMED, f"{name!r}: its data runs past the end of the file")


def _check_head(stream: BinaryIO, entry: _Entry) -> None:
    head = b""
    with closing(_inflated(stream, entry)) as chunks:
        for chunk in chunks:
            head += chunk
            if len(head) >= _HEAD_BYTES:
                break
    offset, tar_magic = _TAR_MAGIC
    if head.startswith(_MAGIC_NUMBERS) or head[offset:].startswith(tar_magic):
        raise BatchFileError(FILE_ZIP_NESTED, f"nested archive(s): {entry.name!r} is an archive")


def _records(
    stream: BinaryIO, entries: list[_Entry], limits: ReaderLimits, start_after: int
) -> Iterator[RawRecord]:
    for entry in entries:
        if entry.index > start_after:
            body = b"".join(_inflated(stream, entry, max_bytes=limits.max_entry_bytes))
            yield RawRecord(position=entry.index, ref=entry.name, media_type=entry.media_type, body=body)


def _inflated(stream: BinaryIO, entry: _Entry, *, max_bytes: int | None = None) -> Generator[bytes]:
    """The entry's bytes, counted as they come: never more than declared, nor than `max_bytes`."""
    info = entry.info
    inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
    raw = _raw(stream, entry.span, name=entry.name)
    produced = 0
    crc = 0
    for data in raw:
        pending = data
        while pending:
            out, rest = _inflate(inflater, pending, name=entry.name)
            if not out and rest == pending:
                raise BatchFileError(FILE_ZIP_MALFORMED, f"{entry.name!r}: its compressed data is corrupt")
            pending = rest
            produced += len(out)
            _check_produced(entry, produced, max_bytes)
            crc = zlib.crc32(out, crc)
            if out:
                yield out
        if inflater is not None and inflater.eof:
            break
    _check_complete(entry, produced, crc, inflater)


def _raw(stream: BinaryIO, span: DataSpan, *, name: str) -> Iterator[bytes]:
    position, left = span.start, span.length
    while left > 0:
        stream.seek(position)
        data = stream.read(min(_READ_BYTES, left))
        if not data:
            raise BatchFileError(FILE_ZIP_MALFORMED, f"{name!r}: the archive ends inside its data")
        position += len(data)
        left -= len(data)
        yield data


def _inflate(inflater: zlib._Decompress | None, data: bytes, *, name: str) -> tuple[bytes, bytes]:
    """At most one read's worth of output, and the input still to inflate."""
    if inflater is None:
        return data, b""
    try:
        out = inflater.decompress(data, _READ_BYTES)
    except zlib.error as exc:
        raise BatchFileError(FILE_ZIP_MALFORMED, f"{name!r}: its compressed data is corrupt") from exc
    return out, b"" if inflater.eof else inflater.unconsumed_tail


def _check_produced(entry: _Entry, produced: int, max_bytes: int | None) -> None:
    declared = entry.info.file_size
    if produced > declared:
        raise BatchFileError(
            FILE_ZIP_SIZE_MISMATCH, f"{entry.name!r} inflates to more than its declared {declared} bytes"
        )
    if max_bytes is not None and produced > max_bytes:
        raise BatchFileError(FILE_ZIP_TOO_LARGE, f"{entry.name!r} inflates to more than {max_bytes} bytes")


def _check_complete(entry: _Entry, produced: int, crc: int, inflater: zlib._Decompress | None) -> None:
    if inflater is not None and not inflater.eof:
        raise BatchFileError(FILE_ZIP_MALFORMED, f"{entry.name!r}: its compressed data is truncated")
    if produced != entry.info.file_size:
        raise BatchFileError(
            FILE_ZIP_MALFORMED,
            f"{entry.name!r} inflates to {produced} bytes, not the declared {entry.info.file_size}",
        )
    if crc != entry.info.CRC:
        raise BatchFileError(FILE_ZIP_MALFORMED, f"{entry.name!r}: CRC-32 mismatch")


def _unsafe(name: str) -> bool:
    return (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or _DRIVE.match(name) is not None
        or ".." in name.split("/")
    )


def _special(info: zipfile.ZipInfo) -> bool:
    kind = stat.S_IFMT(info.external_attr >> 16)
    return kind not in (0, stat.S_IFREG, stat.S_IFDIR)


def _is_content(info: zipfile.ZipInfo) -> bool:
    """A file to read: not a directory, not macOS metadata."""
    name = info.orig_filename
    return not (info.is_dir() or name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] == ".DS_Store")


def _archive_name(name: str) -> bool:
    return name.lower().endswith(_ARCHIVE_SUFFIXES)


def _media_type(name: str) -> str | None:
    lowered = name.lower()
    return next((media for suffix, media in _MEDIA_TYPES.items() if lowered.endswith(suffix)), None)


def _refuse(code: str, what: str, names: list[str]) -> None:
    if names:
        shown = ", ".join(repr(name[:200]) for name in names[:_LISTED])
        more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
        raise BatchFileError(code, f"the archive holds {what}: {shown}{more}")
