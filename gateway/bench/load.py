"""Driving load: keep-alive clients that post documents whenever a schedule says one is due.

Two schedules: `closed_loop` (each client sends again as soon as it has its answer, until a deadline)
and `paced` (an open loop: `rate` requests per second, each due at its own moment whatever the
answers). Every answer is handed to `on_answer` with the moment its request was *due* and the moment
it was read, so a stalled gateway cannot hide its queueing delay.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from gateway.bench.client import KeepAliveConnection, Target

__all__ = ["Answer", "Document", "NextDue", "closed_loop", "drive", "paced"]

#: A request body and its media type.
Document = tuple[bytes, str]
#: The next request's due time (`time.perf_counter()`), after waiting for it; None: stop.
NextDue = Callable[[], Awaitable[float | None]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    due: float  # perf_counter: when the request was due
    answered: float  # perf_counter: when its answer had been read

    @property
    def latency_s(self) -> float:
        return self.answered - self.due


async def drive(
    target: Target,
    docs: Sequence[Document],
    *,
    concurrency: int,
    next_due: NextDue,
    on_answer: Callable[[Answer], None],
) -> None:
    """`concurrency` keep-alive clients post `docs` in rotation while `next_due()` gives a due time."""
    cycle = itertools.cycle(docs)

    async def client() -> None:
        connection = KeepAliveConnection(target)
        try:
            while (due := await next_due()) is not None:
                body, content_type = next(cycle)
                status, answer = await connection.post(body, content_type)
                on_answer(Answer(status, answer, due, time.perf_counter()))
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))


def closed_loop(*, seconds: float) -> NextDue:
    """Due now, every time, until `seconds` from now."""
    deadline = time.perf_counter() + seconds

    async def now_until_deadline() -> float | None:
        now = time.perf_counter()
        return now if now < deadline else None

    return now_until_deadline


def paced(*, rate: float, seconds: float, start_in_s: float = 0.05) -> NextDue:
    """`rate` requests per second for `seconds`, the first one `start_in_s` from now."""
    start = time.perf_counter() + start_in_s
    slots: asyncio.Queue[float] = asyncio.Queue()
    for index in range(int(rate * seconds)):
        slots.put_nowait(start + index / rate)

    async def next_slot() -> float | None:
        if slots.empty():
            return None
        due = slots.get_nowait()
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        return due

    return next_slot
