"""The webhook retry schedule: exponential back-off with jitter, Retry-After, maximum attempts and age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gateway.webhooks.retries import RetryPolicy, parse_retry_after

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    low = RetryPolicy(backoff_base_ms=1000, backoff_max_ms=10_000, jitter=lambda: 0.0)
    high = RetryPolicy(backoff_base_ms=1000, backoff_max_ms=10_000, jitter=lambda: 0.999999)
    assert [low.delay_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert [round(high.delay_s(n), 3) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert low.delay_s(10_000) == 5.0  # no overflow for absurd counts


def test_real_jitter_spreads_retries() -> None:
    policy = RetryPolicy(backoff_base_ms=1000, backoff_max_ms=60_000)
    delays = {policy.delay_s(3) for _ in range(50)}
    assert len(delays) > 1
    assert all(2.0 <= delay <= 4.0 for delay in delays)


def test_retry_after_replaces_the_backoff_but_not_the_cap() -> None:
    policy = RetryPolicy(backoff_base_ms=1000, backoff_max_ms=30_000, jitter=lambda: 0.0)
    assert policy.delay_s(1, retry_after_s=12) == 12
    assert policy.delay_s(5, retry_after_s=0) == 0
    assert policy.delay_s(1, retry_after_s=86_400) == 30


def test_gives_up_after_max_attempts_or_max_age() -> None:
    policy = RetryPolicy(
        backoff_base_ms=1000, backoff_max_ms=8000, max_attempts=3, max_age_s=60, jitter=lambda: 0
    )
    created = NOW
    assert policy.next_attempt_at(failed_attempts=1, created_at=created, now=NOW) == NOW + timedelta(
        seconds=0.5
    )
    assert policy.next_attempt_at(failed_attempts=2, created_at=created, now=NOW) == NOW + timedelta(
        seconds=1
    )
    assert policy.next_attempt_at(failed_attempts=3, created_at=created, now=NOW) is None
    late = NOW + timedelta(seconds=59.8)
    assert policy.next_attempt_at(failed_attempts=1, created_at=created, now=late) is None
    assert policy.expired(created_at=created, now=NOW + timedelta(seconds=61))
    assert not policy.expired(created_at=created, now=NOW + timedelta(seconds=59))


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(backoff_base_ms=0)
    with pytest.raises(ValueError):
        RetryPolicy(backoff_base_ms=5000, backoff_max_ms=1000)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (" 7 ", 7.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("soon", None),
        ("-5", None),
        ("١٢", None),  # non-ASCII digits are not delay-seconds
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected
