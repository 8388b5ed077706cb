"""When a failed webhook delivery is tried again, and when it is given up.

After the n-th failed attempt the next one waits `base * 2**(n-1)`, capped at `max`, with "equal
jitter": a uniformly random time between half of that and all of it, so that deliveries that failed
together (an endpoint that was down) do not all come back at once. A `Retry-After` header (seconds or
an HTTP date) on the failed answer replaces the computed wait, still capped at `max`. A delivery is
failed for good after `max_attempts` attempts, or when the next attempt would fall past `max_age`
from the status change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    backoff_base_ms: int = 2_000
    backoff_max_ms: int = 3_600_000
    max_attempts: int = 12
    max_age_s: float = 86_400.0
    jitter: Callable[[], float] = field(default=random.random, compare=False)  # uniform in [0, 1)

    def __post_init__(self) -> None:
        if self.backoff_base_ms <= 0 or self.backoff_max_ms < self.backoff_base_ms:
            raise ValueError("need 0 < backoff_base_ms <= backoff_max_ms")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay_s(self, failed_attempts: int, *, retry_after_s: float | None = None) -> float:
        """How long to wait after the `failed_attempts`-th failed attempt (1 for the first)."""
        cap_s = self.backoff_max_ms / 1000
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), cap_s)
        exponent = min(max(failed_attempts - 1, 0), 62)
        ceiling_s = min(self.backoff_base_ms * (1 << exponent) / 1000, cap_s)
        return ceiling_s / 2 + self.jitter() * ceiling_s / 2

    def next_attempt_at(
        self,
        *,
        failed_attempts: int,
        created_at: datetime,
        now: datetime,
        retry_after_s: float | None = None,
    ) -> datetime | None:
        """When to try again, or None when the delivery is to be failed for good."""
        if failed_attempts >= self.max_attempts:
            return None
        at = now + timedelta(seconds=self.delay_s(failed_attempts, retry_after_s=retry_after_s))
        return None if self.expired(created_at=created_at, now=at) else at

    def expired(self, *, created_at: datetime, now: datetime) -> bool:
        return now - created_at > timedelta(seconds=self.max_age_s)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """`Retry-After` (RFC 9110: delay-seconds or an HTTP date) in seconds from `now`; None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
