"""Reader memory stays flat however long the file: measured, not timed.

Python allocations are traced with `tracemalloc` while a generated 50,000-line file (about 8 MB
of CSV) is read; a reader that kept lines, rows or records would hold several times the 2 MB
bound. libxml2 allocates outside Python's
allocator, so the bundle reader is checked on the process's resident set size instead.
"""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from gateway.batches.readers import RawRecord, ReaderLimits, open_reader
from gateway.ecommerce.columns import COLUMNS

pytestmark = pytest.mark.slow  # seconds each: tracemalloc slows every allocation down

LINES = 50_000  # tracemalloc makes every allocation slow: enough lines to show a leak, no more
PEAK_BYTES = 2 * 1024 * 1024


def _csv_rows() -> Iterator[str]:
    yield ",".join(COLUMNS) + "\n"
    for i in range(LINES - 1):
        yield (
            f"LVC-{i:08d},Taobao,ORD{i},SF{i:012d},Guangzhou Yuexiu Garment Co,CN,Chan Tai Man,KYC-{i},"
            f'"Flat {i % 40}, 12 Nathan Road",HK,"T-shirt, ""cotton""",61091000,3,PCE,120.50,HKD,'
            "0.4,CN,road\n"
        )


def _jsonl_lines() -> Iterator[str]:
    for i in range(LINES):
        yield f'{{"documentType": "hk.ecom.lvc", "consignmentRef": "LVC-{i:08d}", "value": "120.50"}}\n'
        if i % 1000 == 0:
            yield "[not an object]\n"


def _write(path: Path, lines: Iterator[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        file.writelines(lines)
    return path


def _traced_peak(records: Iterator[RawRecord]) -> tuple[int, int, int]:
    """(records, rejected records, peak traced bytes) while draining `records`."""
    count = rejected = 0
    tracemalloc.start()
    try:
        for record in records:
            count += 1
            rejected += record.error is not None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, rejected, peak


def test_csv_reader_memory_is_flat(tmp_path: Path) -> None:
    path = _write(tmp_path / "lvc.csv", _csv_rows())
    assert path.stat().st_size > 7_500_000  # 50,000 lines, the header included
    count, rejected, peak = _traced_peak(open_reader("csv", path, csv_columns=COLUMNS))
    assert (count, rejected) == (LINES - 1, 0)
    assert peak < PEAK_BYTES, f"peak {peak} bytes"


def test_jsonl_reader_memory_is_flat(tmp_path: Path) -> None:
    path = _write(tmp_path / "batch.jsonl", _jsonl_lines())
    count, rejected, peak = _traced_peak(open_reader("jsonl", path))
    assert (count, rejected) == (LINES + LINES // 1000, LINES // 1000)
    assert peak < PEAK_BYTES, f"peak {peak} bytes"


def test_zip_reader_memory_is_flat(tmp_path: Path) -> None:
    path = tmp_path / "batch.zip"
    body = b"<Declaration>" + b"<Line>0123456789</Line>" * 2_000 + b"</Declaration>"  # about 46 KB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(2_000):  # about 92 MB inflated
            archive.writestr(f"d/{i:05d}.xml", body)
    count, rejected, peak = _traced_peak(open_reader("zip", path, limits=ReaderLimits(max_ratio=1_000)))
    assert (count, rejected) == (2_000, 0)
    assert peak < PEAK_BYTES + 4 * len(body), f"peak {peak} bytes"


def test_bundle_reader_memory_is_flat(tmp_path: Path) -> None:
    path = tmp_path / "bundle.xml"
    document = (
        b"<b:Document><D><Line>0123456789</Line>" + b"<Line>abcdefghij</Line>" * 400 + b"</D></b:Document>"
    )
    with path.open("wb") as file:  # about 40 MB: kept as a tree it would take over 200 MB
        file.write(b'<b:Bundle xmlns:b="urn:hk:tsw:bundle:1">')
        for _ in range(4_000):
            file.write(document)
        file.write(b"</b:Bundle>")
    process = psutil.Process()
    before = process.memory_info().rss
    growth = count = 0
    for count, _record in enumerate(open_reader("bundle", path), 1):
        if count % 500 == 0:
            growth = max(growth, process.memory_info().rss - before)
    assert count == 4_000
    assert growth < 40 * 1024 * 1024, f"RSS grew {growth} bytes"
