"""Time, injectable: a monotonic clock for fault windows and a wall clock for answers' timestamps."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["Clock", "rfc3339"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """`monotonic()` in seconds for durations; `now()` an aware UTC datetime for timestamps."""

    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=_utc_now)


@functools.lru_cache(maxsize=64)  # a bulk stamps every one of its consignments with the same moment
def rfc3339(moment: datetime) -> str:
    """`2026-11-26T03:10:00.000000Z`: UTC, microseconds, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
