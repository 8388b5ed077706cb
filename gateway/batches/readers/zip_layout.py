"""The byte layout of a ZIP file, read the way `zipfile` reads it, before `zipfile` is trusted with it.

`zipfile.ZipFile` loads the whole central directory and makes one `ZipInfo` per entry in it, however
many the file holds. `directory_entries` finds the same end-of-central-directory record `zipfile`
would (the one exactly at the end, else the last in the final 64 KiB), with its ZIP64 extension, and
counts the entries by walking their fixed-size headers, so an archive with too many entries, or a
central directory over `DIRECTORY_BYTES_PER_ENTRY` bytes an entry, is refused before `zipfile`
reads anything. `data_span` reads an entry's local header, checks it
names the same file as the central directory, and says where its compressed bytes are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO
from zipfile import ZipInfo

from gateway.batches.readers.errors import (
    FILE_ZIP_MALFORMED,
    FILE_ZIP_TOO_LARGE,
    FILE_ZIP_TOO_MANY_ENTRIES,
    BatchFileError,
)

__all__ = ["DIRECTORY_BYTES_PER_ENTRY", "DataSpan", "data_span", "directory_entries"]

_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END_SIGNATURE = b"PK\x05\x06"
_LOCATOR = struct.Struct("<4sLQL")  # ZIP64 end of central directory locator
_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")  # ZIP64 end of central directory record
_END64_SIGNATURE = b"PK\x06\x06"
_DIRECTORY_HEADER = struct.Struct("<4s4B4HL2L5H2L")  # central directory file header
_DIRECTORY_SIGNATURE = b"PK\x01\x02"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # local file header
_LOCAL_SIGNATURE = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF
_UTF8_NAMES = 0x800
# A central directory header is 46 bytes and a name; 512 bytes an entry is generous (zipfile reads the
# whole directory into memory at once, so its size is bounded before zipfile sees it).
DIRECTORY_BYTES_PER_ENTRY = 512


@dataclass(frozen=True, slots=True)
class DataSpan:
    """Where one entry's compressed bytes are: from `start`, `length` bytes; its header at `header`."""

    header: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


def directory_entries(stream: BinaryIO, *, max_entries: int) -> int:
    """How many entries the central directory holds; `BatchFileError` past `max_entries`."""
    size = stream.seek(0, 2)
    end_offset, count, directory_size = _end_record(stream, size)
    directory_start = end_offset - directory_size
    if count > max_entries:
        raise _too_many(max_entries)
    if directory_size > max_entries * DIRECTORY_BYTES_PER_ENTRY:
        raise BatchFileError(
            FILE_ZIP_TOO_LARGE,
            f"the central directory is over {max_entries * DIRECTORY_BYTES_PER_ENTRY} bytes",
        )
    if directory_start < 0:
        raise BatchFileError(FILE_ZIP_MALFORMED, "the central directory lies outside the file")
    return _count_headers(stream, directory_start, directory_size, max_entries=max_entries)


def _end_record(stream: BinaryIO, size: int) -> tuple[int, int, int]:
    """(where the central directory ends, its declared entry count, its size), as `zipfile` finds them."""
    if size < _END.size:
        raise _not_a_zip()
    stream.seek(size - _END.size)
    exact = stream.read(_END.size)
    if exact.startswith(_END_SIGNATURE) and exact.endswith(b"\x00\x00"):
        return _with_zip64(stream, size - _END.size, _END.unpack(exact))
    tail_start = max(size - _MAX_COMMENT - _END.size, 0)
    stream.seek(tail_start)
    tail = stream.read()
    found = tail.rfind(_END_SIGNATURE)
    if found < 0 or len(tail) - found < _END.size:
        raise _not_a_zip()
    return _with_zip64(stream, tail_start + found, _END.unpack_from(tail, found))


def _with_zip64(
    stream: BinaryIO, offset: int, record: tuple[bytes, int, int, int, int, int, int, int]
) -> tuple[int, int, int]:
    count, directory_size = record[4], record[5]
    locator_offset = offset - _LOCATOR.size
    if locator_offset < 0:
        return offset, count, directory_size
    stream.seek(locator_offset)
    locator = stream.read(_LOCATOR.size)
    if not locator.startswith(_LOCATOR_SIGNATURE):
        return offset, count, directory_size
    end64_offset = locator_offset - _END64.size
    if end64_offset < 0:
        raise BatchFileError(FILE_ZIP_MALFORMED, "a ZIP64 locator without its end record")
    stream.seek(end64_offset)
    end64 = stream.read(_END64.size)
    if len(end64) != _END64.size or not end64.startswith(_END64_SIGNATURE):
        raise BatchFileError(FILE_ZIP_MALFORMED, "a ZIP64 locator without its end record")
    fields = _END64.unpack(end64)
    return end64_offset, fields[7], fields[8]


def _count_headers(stream: BinaryIO, start: int, size: int, *, max_entries: int) -> int:
    """Walk the central directory's headers as `zipfile` will, without keeping any of them."""
    stream.seek(start)
    walked = 0
    count = 0
    while walked < size:
        header = stream.read(_DIRECTORY_HEADER.size)
        if len(header) != _DIRECTORY_HEADER.size or not header.startswith(_DIRECTORY_SIGNATURE):
            raise BatchFileError(FILE_ZIP_MALFORMED, "the central directory is corrupt")
        fields = _DIRECTORY_HEADER.unpack(header)
        variable = fields[12] + fields[13] + fields[14]  # name, extra field and comment lengths
        stream.seek(variable, 1)
        walked += _DIRECTORY_HEADER.size + variable
        count += 1
        if count > max_entries:
            raise _too_many(max_entries)
    return count


def data_span(stream: BinaryIO, info: ZipInfo) -> DataSpan:
    """Check the entry's local header against the central directory; where its data lies."""
    if info.header_offset < 0:
        raise BatchFileError(
            FILE_ZIP_MALFORMED, f"{info.orig_filename!r}: its local header lies outside the file"
        )
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or not header.startswith(_LOCAL_SIGNATURE):
        raise BatchFileError(FILE_ZIP_MALFORMED, f"{info.orig_filename!r}: no local file header")
    fields = _LOCAL_HEADER.unpack(header)
    flags, name_length, extra_length = fields[3], fields[10], fields[11]
    raw_name = stream.read(name_length)
    try:
        name = raw_name.decode("utf-8" if flags & _UTF8_NAMES else "cp437")
    except UnicodeDecodeError as exc:
        raise BatchFileError(
            FILE_ZIP_MALFORMED, f"{info.orig_filename!r}: a local name that is not UTF-8"
        ) from exc
    if name != info.orig_filename:
        raise BatchFileError(
            FILE_ZIP_MALFORMED, f"{info.orig_filename!r}: the local header names {name!r} instead"
        )
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    return DataSpan(header=info.header_offset, start=start, length=info.compress_size)


def _not_a_zip() -> BatchFileError:
    return BatchFileError(FILE_ZIP_MALFORMED, "not a ZIP archive: no end of central directory record")


def _too_many(max_entries: int) -> BatchFileError:
    return BatchFileError(FILE_ZIP_TOO_MANY_ENTRIES, f"the archive has more than {max_entries} entries")
