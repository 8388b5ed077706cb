"""Percentiles as the benchmarks report them: the value at rank `int(q * n)` of the sorted sample."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["percentile_ms"]


def percentile_ms(values_s: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `values_s` (seconds), in milliseconds; NaN for no values."""
    if not values_s:
        return float("nan")
    ordered = sorted(values_s)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
