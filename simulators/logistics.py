"""Cross-boundary logistics operator: acknowledges advance cargo information, releases or holds.

Every submission (advance cargo information, kind `advance-cargo`, or any other kind) is acknowledged
with the reference `LOG` + 10 digits derived from the declaration id, and answered:

1. `HELD` when the vehicle (`summary.transport.vehicle`, compared without spaces or hyphens and
   upper-cased) is on the watch list (default empty);
2. `HELD` when the seeded random hold fires (`hold_rate`, default 0.0 so runs are deterministic);
3. `RELEASED` otherwise.

Action `cancelled` is always `CANCELLATION_ACKNOWLEDGED`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulators.answers import CANCELLATION_ACKNOWLEDGED, Answer
from simulators.clock import rfc3339
from simulators.contract import SubmissionRequest, Transport
from simulators.references import digits_for

__all__ = ["LogisticsRules", "decide", "normalize_vehicle", "reference_for"]


@dataclass(frozen=True, slots=True)
class LogisticsRules:
    hold_rate: float = 0.0
    watch_vehicles: frozenset[str] = frozenset()  # normalized: see `normalize_vehicle`


def normalize_vehicle(registration: str) -> str:
    """`"ab 1234"`, `"AB-1234"` -> `"AB1234"`."""
    return "".join(ch for ch in registration.upper() if ch not in " -")


def reference_for(declaration_id: str) -> str:
    """`LOG` + 10 digits, the same for every version of the declaration."""
    return "LOG" + digits_for(f"logistics:{declaration_id}")


def decide(request: SubmissionRequest, rules: LogisticsRules, rng: random.Random, *, now: datetime) -> Answer:
    """The operator's answer to one submission (see the module docstring for the rules)."""
    reference = reference_for(request.declaration_id)
    transport = request.summary.transport or Transport()
    detail = _detail(request, transport, now=now)
    if request.action == "cancelled":
        return Answer(CANCELLATION_ACKNOWLEDGED, reference, None, detail)
    reason = _hold_reason(transport, rules, rng)
    if reason is not None:
        return Answer("HELD", reference, reason, detail)
    return Answer("RELEASED", reference, None, detail | {"released_at": detail["acknowledged_at"]})


def _hold_reason(transport: Transport, rules: LogisticsRules, rng: random.Random) -> str | None:
    watched = {normalize_vehicle(vehicle) for vehicle in rules.watch_vehicles}
    if transport.vehicle and normalize_vehicle(transport.vehicle) in watched:
        return f"vehicle {transport.vehicle} is on the watch list"
    if rules.hold_rate > 0 and rng.random() < rules.hold_rate:
        where = f" at {transport.control_point}" if transport.control_point else ""
        return f"consignment selected for examination{where}"
    return None


def _detail(request: SubmissionRequest, transport: Transport, *, now: datetime) -> dict[str, Any]:
    stamp = rfc3339(now)
    return {
        "kind": request.summary.kind,
        "vehicle": transport.vehicle,
        "control_point": transport.control_point,
        "crossing_time": transport.crossing_time,
        "acknowledged_at": stamp,
        "decided_at": stamp,
    }
