"""Backoff with jitter, Retry-After, the retry loop and the circuit breaker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from adapters.circuit import CircuitBreaker, CircuitState
from adapters.errors import CircuitOpen
from adapters.retry import Backoff, parse_retry_after, retry_until_done


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- backoff


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=0.5, max_s=4.0)
    assert [backoff.ceiling_s(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.ceiling_s(10_000) == 4.0  # no overflow


@pytest.mark.parametrize("draw", [0.0, 0.37, 0.999])
def test_equal_jitter_stays_between_half_and_full_ceiling(draw: float) -> None:
    backoff = Backoff(base_s=1.0, max_s=60.0, jitter=lambda: draw)
    for attempt in range(8):
        ceiling = backoff.ceiling_s(attempt)
        delay = backoff.delay_s(attempt)
        assert ceiling / 2 <= delay <= ceiling
        assert delay == pytest.approx(ceiling / 2 + draw * ceiling / 2)


def test_jitter_spreads_delays() -> None:
    backoff = Backoff(base_s=1.0, max_s=1.0)
    assert len({round(backoff.delay_s(0), 6) for _ in range(50)}) > 10


def test_retry_after_is_a_floor_with_a_cap() -> None:
    backoff = Backoff(base_s=0.1, max_s=1.0, retry_after_max_s=30.0, jitter=lambda: 1.0)
    assert backoff.delay_s(0, retry_after_s=5.0) == 5.0
    assert backoff.delay_s(5, retry_after_s=0.0) == 1.0  # the backoff when larger
    assert backoff.delay_s(0, retry_after_s=3600.0) == 30.0  # capped
    assert backoff.delay_s(0, retry_after_s=-4.0) == pytest.approx(0.1)


def test_parse_retry_after() -> None:
    now = datetime(2026, 3, 9, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after(None) is None


async def test_retry_until_done_retries_only_retriable_errors() -> None:
    waits: list[float] = []
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise TimeoutError("not yet")
        return "done"

    async def wait(delay_s: float) -> None:
        waits.append(delay_s)

    backoff = Backoff(base_s=1.0, max_s=8.0, jitter=lambda: 1.0)
    result = await retry_until_done(
        flaky, what="flaky", retriable=(TimeoutError,), backoff=backoff, wait=wait
    )
    assert result == "done"
    assert waits == [1.0, 2.0, 4.0]

    async def broken() -> str:
        raise KeyError("not retriable")

    with pytest.raises(KeyError):
        await retry_until_done(broken, what="broken", retriable=(TimeoutError,), backoff=backoff, wait=wait)


# ---- circuit breaker


def test_circuit_opens_after_the_threshold_and_probes_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10.0, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN

    clock.now += 4.0
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert raised.value.retry_after_s == pytest.approx(6.0)
    assert raised.value.retriable

    clock.now += 6.0
    assert breaker.state is CircuitState.HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one probe at a time
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED
    assert breaker.consecutive_failures == 0
    breaker.before_call()


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=5.0, clock=clock)
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 5.0
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call()
    assert raised.value.retry_after_s == pytest.approx(5.0)


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=5.0, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(failure_threshold=0)
