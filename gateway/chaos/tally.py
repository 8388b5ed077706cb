"""From what the clients saw (`gateway.chaos.load`) and what reached Kafka (`gateway.chaos.ledger`) to
the figures of a `ScenarioReport`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gateway.chaos.ledger import LedgerFigures
from gateway.chaos.load import LoadResult
from gateway.chaos.report import ScenarioReport

__all__ = ["accepted_routes", "tally"]

_SAMPLE = 5


def accepted_routes(loads: Sequence[LoadResult]) -> dict[str, tuple[str, ...]]:
    """Every declaration a 202 was read for, in any of `loads`, with its target agencies."""
    routes: dict[str, tuple[str, ...]] = {}
    for load in loads:
        routes.update(load.routes())
    return routes


def tally(report: ScenarioReport, loads: Sequence[LoadResult], figures: LedgerFigures) -> None:
    """Fill `report`'s counts. A declaration on the topics that no 202 named is explained by a
    submission left in doubt; any more than those were made by a retry that should have replayed its
    Idempotency-Key, and count as duplicated."""
    refused: Counter[int] = Counter()
    for load in loads:
        refused.update(load.refused)
    in_doubt = sum(load.in_doubt for load in loads)
    report.submitted = sum(load.submitted for load in loads)
    report.accepted = len(accepted_routes(loads))
    report.refused = dict(sorted(refused.items()))
    report.connection_errors = sum(load.connection_errors for load in loads)
    report.in_doubt = in_doubt
    report.routed = figures.routed
    report.lost = len(figures.lost)
    unexplained = max(0, figures.unclaimed - in_doubt)
    report.duplicated = len(figures.duplicated) + unexplained
    report.republished = figures.republished
    replayed = sum(load.replayed for load in loads)
    report.notes.append(
        f"{figures.records} records on the route topics, {figures.delivered} distinct event ids"
        f" (delivered once each by adapters deduplicating by ce_id); {replayed} retries answered with"
        f" the id of an earlier attempt (Idempotent-Replayed)"
    )
    if figures.lost:
        report.notes.append(f"lost, e.g.: {', '.join(figures.lost[:_SAMPLE])}")
    if figures.duplicated:
        report.notes.append(f"under two event ids, e.g.: {', '.join(figures.duplicated[:_SAMPLE])}")
    if unexplained:
        report.notes.append(f"{unexplained} routed declarations no 202 named beyond the {in_doubt} in doubt")
