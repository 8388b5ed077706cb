"""A circuit breaker for one agency back-end: closed, open, half-open.

- **closed**: calls go through; `failure_threshold` retriable failures in a row open the circuit.
- **open**: calls are refused (`CircuitOpen` with the time left) for `cooldown_s`, so a dead back-end
  is not hammered; the adapter waits instead.
- **half-open**: after the cool-down one probe call is let through; its success closes the circuit,
  its failure opens it again for another cool-down.

Only retriable failures count: a 4xx answer proves the back-end is alive (`record_success`).
The clock is injectable for tests; nothing here sleeps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

from adapters.errors import CircuitOpen

__all__ = ["CircuitBreaker", "CircuitState"]

log = logging.getLogger(__name__)


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 10.0,
        name: str = "backend",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._threshold = failure_threshold
        self._cooldown_s = cooldown_s
        self._name = name
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._remaining_s() <= 0:
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _remaining_s(self) -> float:
        return self._opened_at + self._cooldown_s - self._clock()

    def before_call(self) -> None:
        """Allow a call or raise `CircuitOpen`; in half-open state, only one probe at a time."""
        if self._state is CircuitState.OPEN:
            remaining = self._remaining_s()
            if remaining > 0:
                raise CircuitOpen(remaining)
            self._state = CircuitState.HALF_OPEN
            log.info("circuit %s half-open: probing", self._name)
        if self._state is CircuitState.HALF_OPEN:
            if self._probing:
                raise CircuitOpen(self._cooldown_s)
            self._probing = True

    def record_success(self) -> None:
        if self._state is not CircuitState.CLOSED:
            log.info("circuit %s closed: the back-end answers again", self._name)
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._state is CircuitState.HALF_OPEN or self._failures >= self._threshold:
            if self._state is not CircuitState.OPEN:
                log.warning(
                    "circuit %s open for %.1f s after %d failure(s) in a row",
                    self._name,
                    self._cooldown_s,
                    self._failures,
                )
            self._state = CircuitState.OPEN
            self._opened_at = self._clock()
