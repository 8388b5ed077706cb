"""Kafka topic names."""

from __future__ import annotations

from gateway.contracts.agencies import AGENCIES

__all__ = ["RESPONSES_TOPIC", "dlq_topic", "route_topic"]

RESPONSES_TOPIC = "tsw.responses"


def route_topic(agency: str) -> str:
    """`tsw.route.<agency>`: where documents for one agency are published (key = declaration id)."""
    if agency not in AGENCIES:
        raise ValueError(f"unknown agency id {agency!r}")
    return f"tsw.route.{agency}"


def dlq_topic(agency: str) -> str:
    """`tsw.dlq.<agency>`: events an agency adapter could not deliver, with the reason."""
    if agency not in AGENCIES:
        raise ValueError(f"unknown agency id {agency!r}")
    return f"tsw.dlq.{agency}"
