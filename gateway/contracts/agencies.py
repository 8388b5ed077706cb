"""The agency ids a document can be routed to."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AGENCIES", "Agency"]


class Agency(StrEnum):
    CUSTOMS = "customs"  # Customs and Excise Department
    TID = "tid"  # Trade and Industry Department: licences, strategic commodities, certificates of origin
    CENSTATD = "censtatd"  # Census and Statistics Department: trade statistics, declaration charges
    LOGISTICS = "logistics"  # cross-boundary logistics operator


AGENCIES: frozenset[str] = frozenset(agency.value for agency in Agency)
