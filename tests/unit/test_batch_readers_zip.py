"""ZIP batch reader: hostile archives are refused whole before the first record; lying sizes abort."""

from __future__ import annotations

import gzip
import io
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from gateway.batches.readers import (
    MEDIA_JSON,
    MEDIA_XML,
    BatchFileError,
    RawRecord,
    ReaderLimits,
    open_reader,
)

Entry = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(*entries: Entry, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size `name` declares, in its local header and its directory entry."""
    patched = bytearray(data)
    encoded = name.encode()
    for signature, size_at, name_length_at, header_size in (
        (b"PK\x03\x04", 22, 26, 30),
        (b"PK\x01\x02", 24, 28, 46),
    ):
        start = 0
        while (start := patched.find(signature, start)) >= 0:
            (length,) = struct.unpack_from("<H", patched, start + name_length_at)
            if bytes(patched[start + header_size : start + header_size + length]) == encoded:
                struct.pack_into("<L", patched, start + size_at, size)
            start += 4
    return bytes(patched)


def read(data: bytes, **kwargs: object) -> list[RawRecord]:
    return list(open_reader("zip", io.BytesIO(data), **kwargs))  # type: ignore[arg-type]


def refused(data: bytes, **kwargs: object) -> BatchFileError:
    """Refused by `open_reader` itself: no record was yielded."""
    with pytest.raises(BatchFileError) as caught:
        open_reader("zip", io.BytesIO(data), **kwargs)  # type: ignore[arg-type]
    return caught.value


def link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def test_xml_and_json_files_are_read_in_directory_order() -> None:
    data = make_zip(
        ("declarations/", b""),
        ("declarations/one.xml", b"<One/>"),
        ("__MACOSX/declarations/._one.xml", b"\x00\x05\x16\x07 resource fork"),
        ("declarations/.DS_Store", b"Bud1 finder metadata"),
        ("two.JSON", b'{"documentType": "hk.tdec"}'),
        ("deep/er/three.xml", b"<Three>" + b"t" * 10_000 + b"</Three>"),
    )
    records = read(data)
    assert [(r.position, r.ref, r.media_type) for r in records] == [
        (1, "declarations/one.xml", MEDIA_XML),
        (2, "two.JSON", MEDIA_JSON),
        (3, "deep/er/three.xml", MEDIA_XML),
    ]
    assert [r.body for r in records] == [
        b"<One/>",
        b'{"documentType": "hk.tdec"}',
        b"<Three>" + b"t" * 10_000 + b"</Three>",
    ]
    assert all(r.error is None and r.row is None for r in records)


def test_stored_entries_read_too(tmp_path: Path) -> None:
    path = tmp_path / "batch.zip"
    path.write_bytes(make_zip(("a.xml", b"<A/>"), ("b.json", b"{}"), compression=zipfile.ZIP_STORED))
    assert [r.body for r in open_reader("zip", path)] == [b"<A/>", b"{}"]


@pytest.mark.parametrize("start_after", range(5))
def test_resume_after_any_entry_yields_exactly_the_rest(start_after: int) -> None:
    data = make_zip(
        *((f"d{i}.xml", f"<D{i}/>".encode()) for i in range(1, 4)), ("x/", b""), ("d4.json", b"{}")
    )
    full = read(data)
    assert len(full) == 4
    assert read(data, start_after=start_after) == [r for r in full if r.position > start_after]


@pytest.mark.parametrize(
    "name",
    ["../evil.xml", "a/../../evil.xml", "/abs.xml", "C:\\x.xml", "C:/x.xml", "a\\b.xml", "..", "x/../"],
)
def test_zip_slip_names_are_refused(name: str) -> None:
    error = refused(make_zip(("fine.xml", b"<A/>"), (name, b"<Evil/>")))
    assert error.code == "batch.zip.unsafe_name"
    assert repr(name) in error.message


def test_duplicate_names_are_refused() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip(("a.xml", b"<A/>"), ("a.xml", b"<Other/>"))
    error = refused(data)
    assert (error.code, error.message) == (
        "batch.zip.unsafe_name",
        "the archive holds duplicate entry name(s): 'a.xml'",
    )


def test_symbolic_links_are_refused() -> None:
    error = refused(make_zip(("fine.xml", b"<A/>"), (link("passwd.xml"), b"/etc/passwd")))
    assert error.code == "batch.zip.link"


def test_an_honest_zip_bomb_is_refused_by_its_declared_ratio() -> None:
    bomb = make_zip(("bomb.xml", b"<A>" + b" " * 5_000_000 + b"</A>"))
    assert len(bomb) < 20_000
    error = refused(bomb)
    assert (error.code, error.message) == (
        "batch.zip.ratio",
        "the archive holds entries compressed more than 100 to 1: 'bomb.xml'",
    )


def test_an_honest_zip_bomb_is_refused_by_its_declared_size() -> None:
    bomb = make_zip(("bomb.xml", b"<A>" + b" " * 5_000_000 + b"</A>"))
    error = refused(bomb, limits=ReaderLimits(max_entry_bytes=1_000_000, max_ratio=10_000))
    assert error.code == "batch.zip.too_large"
    error = refused(bomb, limits=ReaderLimits(max_total_bytes=4_000_000, max_ratio=10_000))
    assert error.code == "batch.zip.too_large"


def test_a_bomb_that_lies_about_its_size_is_stopped_at_the_first_bytes() -> None:
    bomb = declare_size(make_zip(("ok.xml", b"<A/>"), ("bomb.xml", b" " * 5_000_000)), "bomb.xml", 100)
    error = refused(bomb)
    assert error.code == "batch.zip.size_mismatch"
    assert error.message == "'bomb.xml' inflates to more than its declared 100 bytes"


def test_a_bomb_that_lies_about_its_size_aborts_reading_after_the_records_before_it() -> None:
    limits = ReaderLimits(max_ratio=10_000)
    bomb = declare_size(make_zip(("ok.xml", b"<A/>"), ("bomb.xml", b" " * 5_000_000)), "bomb.xml", 200_000)
    records: list[RawRecord] = []
    with pytest.raises(BatchFileError) as caught:
        records.extend(open_reader("zip", io.BytesIO(bomb), limits=limits))
    assert [r.ref for r in records] == ["ok.xml"]
    assert caught.value.code == "batch.zip.size_mismatch"


def test_an_entry_shorter_than_declared_is_corrupt() -> None:
    data = declare_size(make_zip(("short.xml", b"<A/>")), "short.xml", 50)
    records: list[RawRecord] = []
    with pytest.raises(BatchFileError) as caught:
        records.extend(read(data))
    assert caught.value.code == "batch.zip.malformed"
    assert "not the declared 50" in caught.value.message


def test_overlapping_entries_are_refused() -> None:
    """An entry whose compressed data runs over the next one's: how non-recursive zip bombs share data."""
    data = bytearray(make_zip(("a.xml", b"<A>" + b"a" * 1000 + b"</A>"), ("b.xml", b"<B/>")))
    directory_entry = data.index(b"PK\x01\x02")  # a.xml's comes first
    (compressed,) = struct.unpack_from("<L", data, directory_entry + 20)
    struct.pack_into("<L", data, directory_entry + 20, compressed + 40)
    error = refused(bytes(data))
    assert (error.code, error.message) == ("batch.zip.overlap", "entries 'a.xml' and 'b.xml' overlap")


@pytest.mark.parametrize(
    "name", ["inner.zip", "logs.tar.gz", "x.tgz", "data.7z", "a.RAR", "b.bz2", "c.xz", "lib.jar"]
)
def test_nested_archives_are_refused_by_name(name: str) -> None:
    error = refused(make_zip(("fine.xml", b"<A/>"), (name, b"whatever")))
    assert error.code == "batch.zip.nested"
    assert repr(name) in error.message


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("a.xml")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"<A/>"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [make_zip(("inner.xml", b"<A/>")), gzip.compress(b"<A/>"), _tar(), b"BZh91AY&SY", b"\xfd7zXZ\x00\x00"],
    ids=["zip", "gzip", "tar", "bzip2", "xz"],
)
def test_nested_archives_are_refused_by_their_magic_bytes(content: bytes) -> None:
    error = refused(make_zip(("fine.xml", b"<A/>"), ("innocent.xml", content)))
    assert (error.code, error.message) == (
        "batch.zip.nested",
        "nested archive(s): 'innocent.xml' is an archive",
    )


def test_too_many_entries_are_refused_before_zipfile_reads_the_directory() -> None:
    data = make_zip(*((f"d{i}.xml", b"<D/>") for i in range(5)))
    assert refused(data, limits=ReaderLimits(max_entries=4)).code == "batch.zip.too_many_entries"
    assert len(read(data, limits=ReaderLimits(max_entries=5))) == 5


def test_a_directory_too_large_for_its_entries_is_refused() -> None:
    data = make_zip(("d" * 2000 + ".xml", b"<D/>"))
    assert refused(data, limits=ReaderLimits(max_entries=1)).code == "batch.zip.too_large"


def test_files_neither_xml_nor_json_are_listed() -> None:
    data = make_zip(
        ("a.xml", b"<A/>"), ("notes.txt", b"hi"), ("b.json", b"{}"), ("run.exe", b"MZ"), ("noext", b"")
    )
    error = refused(data)
    assert (error.code, error.message) == (
        "batch.zip.entry_type",
        "the archive holds entries that are neither .xml nor .json: 'notes.txt', 'run.exe', 'noext'",
    )


def test_encrypted_entries_and_unbounded_compression_methods_are_refused() -> None:
    data = bytearray(make_zip(("a.xml", b"<A/>")))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        struct.pack_into("<H", data, at + flags_at, 0x1)
    assert refused(bytes(data)).code == "batch.zip.unsupported"
    assert (
        refused(make_zip(("a.xml", b"<A/>"), compression=zipfile.ZIP_BZIP2)).code == "batch.zip.unsupported"
    )
    assert refused(make_zip(("a.xml", b"<A/>"), compression=zipfile.ZIP_LZMA)).code == "batch.zip.unsupported"


@pytest.mark.parametrize(
    "data",
    [b"", b"PK", b"not a zip at all", b"PK\x03\x04" + b"\x00" * 100, make_zip(("a.xml", b"<A/>"))[:-30]],
    ids=["empty", "two-bytes", "text", "local-header-only", "truncated"],
)
def test_not_a_zip_is_malformed(data: bytes) -> None:
    assert refused(data).code == "batch.zip.malformed"


def test_a_corrupt_crc_is_found_while_reading() -> None:
    data = bytearray(make_zip(("a.xml", b"<A>" + b"a" * 100 + b"</A>")))
    for signature, crc_at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        at = data.index(signature)
        struct.pack_into("<L", data, at + crc_at, 12345)
    with pytest.raises(BatchFileError, match="CRC-32 mismatch"):
        read(bytes(data))


def test_a_local_header_naming_another_file_is_malformed() -> None:
    data = make_zip(("a.xml", b"<A/>"))
    local = data.index(b"a.xml")  # the local header's copy of the name comes first
    forged = data[:local] + b"b.xml" + data[local + 5 :]
    assert refused(forged).code == "batch.zip.malformed"


def test_an_unseekable_stream_is_a_programming_error() -> None:
    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            return 0

    with pytest.raises(ValueError, match="seekable"):
        open_reader("zip", Pipe())  # type: ignore[arg-type]
