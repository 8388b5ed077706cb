"""Per-client token buckets: a burst, then the sustained rate, each client on its own."""

from __future__ import annotations

import pytest

from gateway.errors import RateLimited
from gateway.ratelimit import RateLimits, TokenBuckets, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_sustained_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_s=2.0, burst=3, monotonic=clock)
    for _ in range(3):
        buckets.take("a")
    with pytest.raises(RateLimited) as refused:
        buckets.take("a")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    buckets.take("b")  # another client is not affected
    clock.now += 0.5
    buckets.take("a")
    with pytest.raises(RateLimited):
        buckets.take("a")


def test_zero_rate_is_no_limit_and_classes_are_separate() -> None:
    clock = Clock()
    limits = RateLimits(
        api=TokenBuckets(per_s=1.0, burst=1, monotonic=clock),
        bulk=TokenBuckets(per_s=0.0, burst=1, monotonic=clock),
    )
    limits.take("api", "a")
    for _ in range(100):
        limits.take("bulk", "a")
    with pytest.raises(RateLimited):
        limits.take("api", "a")


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2)] == ["1", "1", "2"]
