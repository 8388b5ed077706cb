"""Consignment chunks read in a child process are the chunks read in-process; errors cross over."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.batches.consignment_stream import (
    CHILD_PROCESS_BYTES,
    consignment_chunks,
    stream_consignment_chunks,
)
from gateway.batches.readers import BatchFileError, ReaderLimits
from gateway.ecommerce.generate import FileFormat, encode, generate_consignments
from gateway.ecommerce.policy import LvcPolicy


async def _streamed(path: Path, *, child: bool, start_after: int = 0) -> list[object]:
    size = CHILD_PROCESS_BYTES if child else 0
    chunks = stream_consignment_chunks(
        str(path),
        size_bytes=size,
        start_after=start_after,
        limits=ReaderLimits(),
        policy=LvcPolicy(),
        chunk_size=7,
    )
    return [chunk async for chunk in chunks]


async def test_a_child_process_reads_what_this_one_would(tmp_path: Path) -> None:
    path = tmp_path / "consignments.csv"
    path.write_bytes(b"".join(encode(generate_consignments(50, invalid_rate=0.2, seed=3), FileFormat.CSV)))
    here = list(
        consignment_chunks(str(path), start_after=0, limits=ReaderLimits(), policy=LvcPolicy(), chunk_size=7)
    )
    assert sum(len(chunk.items) for chunk in here) == 50
    assert await _streamed(path, child=True) == here == await _streamed(path, child=False)
    resumed = await _streamed(path, child=True, start_after=here[2].last_position)
    assert resumed == list(
        consignment_chunks(
            str(path),
            start_after=here[2].last_position,
            limits=ReaderLimits(),
            policy=LvcPolicy(),
            chunk_size=7,
        )
    )
    assert resumed[0].items[0] == here[3].items[0]  # resuming starts with the next consignment


async def test_a_file_error_in_the_child_is_raised_here(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"not,the,columns\n1,2,3\n")
    with pytest.raises(BatchFileError) as refused:
        await _streamed(path, child=True)
    assert refused.value.code == "batch.csv.header"
