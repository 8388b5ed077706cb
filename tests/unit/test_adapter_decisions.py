"""Agency decisions -> the gateway's AgencyStatus, as the agency contract lists them."""

from __future__ import annotations

import pytest

from adapters.decisions import DECISIONS, agency_status
from adapters.errors import DeliveryRejected, PoisonEvent
from gateway.contracts.agencies import Agency
from gateway.contracts.responses import AgencyStatus

CLEARED, HELD, REJECTED = AgencyStatus.CLEARED, AgencyStatus.HELD, AgencyStatus.REJECTED


@pytest.mark.parametrize(
    ("agency", "decision", "status"),
    [
        (Agency.CUSTOMS, "CLEARED", CLEARED),
        (Agency.CUSTOMS, "HELD_FOR_INSPECTION", HELD),
        (Agency.CUSTOMS, "HELD_FOR_DOCUMENTS", HELD),
        (Agency.CUSTOMS, "REJECTED", REJECTED),
        (Agency.TID, "APPROVED", CLEARED),
        (Agency.TID, "NOT_REQUIRED", CLEARED),
        (Agency.TID, "LICENCE_REQUIRED", HELD),
        (Agency.TID, "REFUSED", REJECTED),
        (Agency.CENSTATD, "ACKNOWLEDGED", CLEARED),
        (Agency.LOGISTICS, "RELEASED", CLEARED),
        (Agency.LOGISTICS, "HELD", HELD),
        *((agency, "CANCELLATION_ACKNOWLEDGED", AgencyStatus.CANCELLED) for agency in Agency),
    ],
)
def test_contract_decisions(agency: Agency, decision: str, status: AgencyStatus) -> None:
    assert agency_status(agency, decision) is status


def test_every_agency_has_a_table() -> None:
    assert set(DECISIONS) == set(Agency)


@pytest.mark.parametrize(
    ("agency", "decision"),
    [
        (Agency.CUSTOMS, "APPROVED"),  # another agency's word
        (Agency.LOGISTICS, "CLEARED"),
        (Agency.CENSTATD, "acknowledged"),  # case matters
        (Agency.TID, ""),
    ],
)
def test_unknown_decisions_are_poison(agency: Agency, decision: str) -> None:
    with pytest.raises(DeliveryRejected) as raised:
        agency_status(agency, decision)
    assert isinstance(raised.value, PoisonEvent)
    assert repr(decision) in raised.value.reason
