"""Retrying: exponential backoff with jitter, reading a `Retry-After` header, and a retry loop.

`Backoff.delay_s(attempt)` for attempt 0, 1, 2... is drawn from ``[d/2, d]`` where
``d = min(max_s, base_s * 2**attempt)`` ("equal jitter": never a burst of zero-delay retries, and
adapters restarted together spread out). A server's ``Retry-After`` is a floor: the wait is the larger
of it (capped at ``retry_after_max_s``) and the backoff.

`retry_until_done` repeats an operation while it fails with one of the given (retriable) errors,
logging each failure and sleeping through a `Wait`: a callable that sleeps, or raises to give up
(the worker's raises `Stopping` when the adapter stops). There is no attempt limit on purpose: a
routed event is never dropped because a dependency was down for a while.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

__all__ = ["Backoff", "Wait", "parse_retry_after", "retry_until_done"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Sleeps for the given seconds, or raises to abandon what is being retried (e.g. `Stopping`).
Wait = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 0.2
    max_s: float = 30.0
    retry_after_max_s: float = 300.0
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def ceiling_s(self, attempt: int) -> float:
        """The upper bound of the delay after `attempt` failures in a row (0 = the first failure)."""
        return min(self.max_s, self.base_s * 2.0 ** min(attempt, 64))

    def delay_s(self, attempt: int, *, retry_after_s: float | None = None) -> float:
        ceiling = self.ceiling_s(attempt)
        jittered = ceiling / 2 + self.jitter() * ceiling / 2
        if retry_after_s is None:
            return jittered
        return max(jittered, min(max(retry_after_s, 0.0), self.retry_after_max_s))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP-date); None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" and "٣" are digits to str.isdigit, not to float()
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


async def retry_until_done(
    operation: Callable[[], Awaitable[_T]],
    *,
    what: str,
    retriable: tuple[type[BaseException], ...],
    backoff: Backoff,
    wait: Wait = asyncio.sleep,
) -> _T:
    """`operation()`'s result, retrying it after each `retriable` failure until it succeeds."""
    attempt = 0
    while True:
        try:
            return await operation()
        except retriable as exc:
            delay = backoff.delay_s(attempt)
            log.warning("%s failed (attempt %d): %s; retrying in %.2f s", what, attempt + 1, exc, delay)
            attempt += 1
            await wait(delay)
