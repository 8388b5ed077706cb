"""Doorbells: one gateway process tells the other "the database has something new for you".

`tsw serve` runs the HTTP API and the messaging workers (`gateway.messaging_process`) in two processes
that share nothing but the database. Without a signal each would find the other's work by polling:
the relay would wait up to a poll interval for each new outbox row, and the SSE feed up to a poll for
each status change the messaging process applied. Two doorbells ring between them instead:

- `Doorbells.outbox`: the API rings it after every commit that adds outbox events; the relay wakes.
- `Doorbells.status`: the messaging process rings it after every commit that records status changes
  (routed, answered); the API's status feed reads them at once.

A ring is one byte written to a pipe without blocking. If the pipe is full, a wake-up is already
pending; if nobody listens (the messaging process is restarting), the byte waits in the pipe and the
next listener drains it. Rings only cut latency: both sides still poll as a fallback, so a lost ring
delays work by one poll interval and loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Doorbell", "Doorbells"]

_DRAIN_BYTES = 4096


class Doorbell:
    """A one-way wake-up between processes. Picklable: pass it to a `spawn`ed process as an argument."""

    def __init__(self) -> None:
        self._reader, self._writer = multiprocessing.Pipe(duplex=False)
        # O_NONBLOCK belongs to the pipe's open file description: it holds in the child too.
        os.set_blocking(self._reader.fileno(), False)
        os.set_blocking(self._writer.fileno(), False)
        self._listening: asyncio.AbstractEventLoop | None = None

    def ring(self) -> None:
        """Wake the listener; never blocks, never raises."""
        with contextlib.suppress(OSError):  # BlockingIOError: already rung; BrokenPipeError: nobody left
            os.write(self._writer.fileno(), b"\x01")

    def listen(self, on_ring: Callable[[], None]) -> None:
        """Call `on_ring` on the running loop after each ring (rings in between are folded into one)."""
        loop = asyncio.get_running_loop()
        fd = self._reader.fileno()
        loop.add_reader(fd, self._drain, fd, on_ring)
        self._listening = loop
        on_ring()  # rung while nobody listened

    def stop_listening(self) -> None:
        loop, self._listening = self._listening, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._reader.fileno())

    def __getstate__(self) -> dict[str, object]:
        return {"_reader": self._reader, "_writer": self._writer, "_listening": None}

    @staticmethod
    def _drain(fd: int, on_ring: Callable[[], None]) -> None:
        with contextlib.suppress(BlockingIOError):
            while len(os.read(fd, _DRAIN_BYTES)) == _DRAIN_BYTES:
                pass
        on_ring()


@dataclass
class Doorbells:
    """The two doorbells between the gateway's API process and its messaging process."""

    outbox: Doorbell = field(default_factory=Doorbell)
    status: Doorbell = field(default_factory=Doorbell)
