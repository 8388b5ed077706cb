"""What one fault scenario found: the ledger every scenario fills in and `tsw chaos` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ScenarioReport"]


@dataclass(slots=True)
class ScenarioReport:
    """The outcome of one scenario run.

    `accepted` counts declarations a 202 was read for (each once, a replayed Idempotency-Key
    included); `routed` the accepted declarations found on every target agency's topic afterwards;
    `lost` the accepted ones missing from at least one of those topics (must be 0); `duplicated` the
    declarations an agency would receive twice even with its adapter dropping repeated event ids: routed
    to one agency under more than one event id (must be 0).

    `republished` counts records on a topic that repeat an event id already there (a relay that died
    between Kafka's acknowledgement and its own commit sends the batch again, same ids): harmless,
    since adapters deduplicate by `ce_id`, but reported. `connection_errors` counts requests whose
    connection broke before an answer (each retried with its Idempotency-Key); `in_doubt` the
    submissions never answered at all (their fate is unknown to the client, so they are neither
    accepted nor lost). `checks` holds a scenario's own properties ("202s throughout": True).
    """

    name: str
    faults: list[str] = field(default_factory=list)  # what was done, in order ("broker SIGKILL at 12.0 s")
    submitted: int = 0
    accepted: int = 0
    refused: dict[int, int] = field(default_factory=dict)  # HTTP status -> count (503s while the fault lasts)
    routed: int = 0
    lost: int = 0
    duplicated: int = 0
    notes: list[str] = field(default_factory=list)
    republished: int = 0
    connection_errors: int = 0
    in_doubt: int = 0
    longest_accept_gap_s: float | None = None  # longest wait between two 202s during the load
    checks: dict[str, bool] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.accepted > 0
            and self.routed == self.accepted
            and all(self.checks.values())
        )
