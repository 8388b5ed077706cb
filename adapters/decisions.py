"""An agency's decision (its own word) -> the gateway's `AgencyStatus`, per the agency contract.

- customs:   CLEARED -> CLEARED; HELD_FOR_INSPECTION, HELD_FOR_DOCUMENTS -> HELD; REJECTED -> REJECTED
- tid:       APPROVED, NOT_REQUIRED -> CLEARED; LICENCE_REQUIRED -> HELD; REFUSED -> REJECTED
- censtatd:  ACKNOWLEDGED -> CLEARED
- logistics: RELEASED -> CLEARED; HELD -> HELD
- any agency: CANCELLATION_ACKNOWLEDGED -> CANCELLED (the agency acknowledges a cancellation)

A word outside this table cannot be mapped: `DeliveryRejected` (the event goes to the dead-letter topic
with the agency's word in the reason, rather than guessing a status for it).
"""

from __future__ import annotations

from adapters.errors import DeliveryRejected
from gateway.contracts.agencies import Agency
from gateway.contracts.responses import AgencyStatus

__all__ = ["DECISIONS", "agency_status"]

_CLEARED, _HELD, _REJECTED = AgencyStatus.CLEARED, AgencyStatus.HELD, AgencyStatus.REJECTED

#: Every agency's decisions and what they mean for the gateway.
DECISIONS: dict[Agency, dict[str, AgencyStatus]] = {
    Agency.CUSTOMS: {
        "CLEARED": _CLEARED,
        "HELD_FOR_INSPECTION": _HELD,
        "HELD_FOR_DOCUMENTS": _HELD,
        "REJECTED": _REJECTED,
    },
    Agency.TID: {
        "APPROVED": _CLEARED,
        "NOT_REQUIRED": _CLEARED,
        "LICENCE_REQUIRED": _HELD,
        "REFUSED": _REJECTED,
    },
    Agency.CENSTATD: {"ACKNOWLEDGED": _CLEARED},
    Agency.LOGISTICS: {"RELEASED": _CLEARED, "HELD": _HELD},
}
_ANY_AGENCY: dict[str, AgencyStatus] = {"CANCELLATION_ACKNOWLEDGED": AgencyStatus.CANCELLED}


def agency_status(agency: Agency, decision: str) -> AgencyStatus:
    """The gateway's status for `agency`'s `decision`; `DeliveryRejected` for an unknown word."""
    status = DECISIONS[agency].get(decision) or _ANY_AGENCY.get(decision)
    if status is None:
        raise DeliveryRejected(f"{agency.value} answered decision {decision!r}, which has no status mapping")
    return status
