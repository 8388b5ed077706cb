"""Fault injection: latency, random errors and downtime, switchable at start-up or at run time.

`Faults.gate()` runs before the service handles a request:

1. while the service is down (`down`, or inside a `down_for_s` window) it raises `Unavailable` at once;
2. it sleeps `latency_ms`;
3. with probability `error_rate` (seeded, so a run is reproducible) it raises `Unavailable`.

A request refused this way never reaches the service: it is not recorded as a delivery. `down_for_s`
takes the service down for that many seconds from the moment it is set (whatever `down` says), after
which it is up again by itself; `down` without `down_for_s` keeps it down until the switches are set
again. `Retry-After` is the whole seconds left in a `down_for_s` window, else 1.
"""

from __future__ import annotations

import asyncio
import math
import random

from simulators.clock import Clock
from simulators.contract import FaultSwitches

__all__ = ["Faults", "Unavailable"]


class Unavailable(Exception):
    """The service refuses the request; the client may retry after `retry_after_s` seconds."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Faults:
    """One simulator's fault switches and what they imply for the next request."""

    def __init__(self, initial: FaultSwitches, *, clock: Clock, rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._switches = initial
        self._down_until: float | None = None
        self.set(initial)

    def set(self, switches: FaultSwitches) -> FaultSwitches:
        """Replace every switch; answer the switches now in force."""
        self._switches = switches
        window = switches.down_for_s
        self._down_until = None if window is None else self._clock.monotonic() + window
        return self.current()

    def current(self) -> FaultSwitches:
        """The switches in force: `down` true while down, `down_for_s` the seconds left in a window."""
        left = self._window_left_s()
        down = left is not None or (self._switches.down and self._switches.down_for_s is None)
        remaining = None if left is None else round(left, 3)
        return self._switches.model_copy(update={"down": down, "down_for_s": remaining})

    async def gate(self) -> None:
        """Raise `Unavailable` when the service is down or an injected error fires; else wait the latency."""
        self._refuse_if_down()
        if self._switches.latency_ms:
            await asyncio.sleep(self._switches.latency_ms / 1000)
        if self._switches.error_rate and self._rng.random() < self._switches.error_rate:
            raise Unavailable("injected error (fault switch error_rate)", retry_after_s=1)

    def _refuse_if_down(self) -> None:
        left = self._window_left_s()
        if left is not None:
            raise Unavailable(
                f"service down for {left:.1f} more s (fault switch down_for_s)",
                retry_after_s=max(1, math.ceil(left)),
            )
        if self._switches.down and self._switches.down_for_s is None:
            raise Unavailable("service down (fault switch down)", retry_after_s=1)

    def _window_left_s(self) -> float | None:
        if self._down_until is None:
            return None
        left = self._down_until - self._clock.monotonic()
        return left if left > 0 else None
