"""The consignments of a CSV batch file, a chunk at a time, read in a process of their own.

Checking rows and building consignment documents is pure CPU work, and so is writing them (SQLAlchemy,
SQLite); on one core they take turns. For a large file the reading runs in a child process, which
streams chunks through a pipe to the gateway, so the two run on two cores. The pipe's buffer is the
only queue: the reader blocks when the gateway is behind, so memory stays bounded. A small file is
read in the gateway's own process (starting a process costs more than it saves).

The child process is a daemon: it goes with the gateway; if the gateway is killed, its next write to
the pipe fails and it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from gateway.batches.readers import open_reader
from gateway.batches.readers.errors import BatchFileError
from gateway.batches.readers.records import ReaderLimits
from gateway.ecommerce.columns import COLUMNS
from gateway.ecommerce.policy import LvcPolicy
from gateway.intake import from_csv_records
from gateway.lodgements import ConsignmentInput

__all__ = ["ConsignmentChunk", "consignment_chunks", "stream_consignment_chunks"]

#: Files at least this large are read in a child process.
CHILD_PROCESS_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConsignmentChunk:
    items: list[ConsignmentInput]
    last_position: int  # the line of the chunk's last row: where a resumed job starts after


@dataclass(frozen=True, slots=True)
class _Source:
    path: str
    start_after: int
    limits: ReaderLimits
    policy: LvcPolicy
    chunk_size: int


def consignment_chunks(
    path: str, *, start_after: int, limits: ReaderLimits, policy: LvcPolicy, chunk_size: int
) -> Iterator[ConsignmentChunk]:
    """The file's consignments after line `start_after`, `chunk_size` at a time, never one split."""
    records = open_reader("csv", path, limits=limits, csv_columns=COLUMNS, start_after=start_after)
    with records:
        items: list[ConsignmentInput] = []
        last = 0
        for item, last_position in from_csv_records(records, policy=policy):
            items.append(item)
            last = last_position
            if len(items) >= chunk_size:
                yield ConsignmentChunk(items, last)
                items = []
        if items:
            yield ConsignmentChunk(items, last)


async def stream_consignment_chunks(
    path: str, *, size_bytes: int, start_after: int, limits: ReaderLimits, policy: LvcPolicy, chunk_size: int
) -> AsyncIterator[ConsignmentChunk]:
    """`consignment_chunks`, from a child process when the file is large; `BatchFileError` as it."""
    source = _Source(path, start_after, limits, policy, chunk_size)
    if size_bytes < CHILD_PROCESS_BYTES:
        for chunk in _chunks(source):
            yield chunk
            await asyncio.sleep(0)  # the API gets a turn between chunks
        return
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_serve, args=(sending, source), name="tsw-batch-reader", daemon=True)
    child.start()
    sending.close()
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                message: Any = await loop.run_in_executor(None, receiving.recv)
            except EOFError as exc:
                raise RuntimeError(f"the batch reader process stopped (exit code {child.exitcode})") from exc
            if message is None:
                return
            if isinstance(message, tuple):  # ("error", code, message): a file-level error
                raise BatchFileError(message[1], message[2])
            yield message
    finally:
        receiving.close()
        with contextlib.suppress(ValueError):  # already closed
            child.terminate()
        await loop.run_in_executor(None, child.join, 10)


def _chunks(source: _Source) -> Iterator[ConsignmentChunk]:
    return consignment_chunks(
        source.path,
        start_after=source.start_after,
        limits=source.limits,
        policy=source.policy,
        chunk_size=source.chunk_size,
    )


def _serve(sending: Connection, source: _Source) -> None:  # runs in the child process
    try:
        for chunk in _chunks(source):
            sending.send(chunk)
        sending.send(None)
    except BatchFileError as exc:
        sending.send(("error", exc.code, exc.message))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the gateway stopped reading: nothing more to do
    finally:
        sending.close()
