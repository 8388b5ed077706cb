"""What one fault scenario found: the ledger every scenario fills in and `tsw chaos` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ScenarioReport"]


@dataclass(slots=True)
class ScenarioReport:
    """The outcome of one scenario run.

    `accepted` counts 202 answers; `routed` the accepted declarations found on their agencies'
    topics afterwards; `lost` the accepted ones never routed (must be 0); `duplicated` the declarations
    routed under more than one event id, or one event id delivered more than once to an agency.
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

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.accepted > 0 and self.routed == self.accepted
