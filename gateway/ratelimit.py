"""Per-client rate limits: a token bucket per (class of routes, client), in this process's memory.

Each client may send `burst` requests at once and `per_s` a second sustained. With several gateway
processes each enforces the limit on its own, so a client's real limit is the sum. `per_s` 0 turns a
class off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import RateLimited

__all__ = ["RateLimits", "TokenBuckets", "retry_after_header"]

_MAX_BUCKETS = 100_000


class TokenBuckets:
    def __init__(self, *, per_s: float, burst: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._per_s = per_s
        self._burst = float(burst)
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> None:
        """Take one token for `key`, or raise `RateLimited` saying when one will be there."""
        if self._per_s <= 0:
            return
        now = self._monotonic()
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            wait_s = (1.0 - tokens) / self._per_s
            raise RateLimited(f"over the rate limit of {self._per_s:g} requests/s", retry_after_s=wait_s)
        if len(self._buckets) >= _MAX_BUCKETS and key not in self._buckets:
            self._buckets.clear()  # bounded memory; a cleared bucket starts full, which only forgives
        self._buckets[key] = (tokens - 1.0, now)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The buckets of each class of routes: `api` (everything) and `bulk` (e-commerce and batches)."""

    api: TokenBuckets
    bulk: TokenBuckets

    def take(self, route_class: str, client_id: str) -> None:
        (self.bulk if route_class == "bulk" else self.api).take(client_id)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
