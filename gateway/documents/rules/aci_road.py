"""Business rules of road cargo advance cargo information (schema pack ``hk.aci.road``, ROCARS).

They run after schema validation, on either form through `gateway.documents.view`, and report
every problem found. Codes marked *defensive* can only fire on input the schema lets through by
mistake.

=========================  ===========================================================================
code                       meaning
=========================  ===========================================================================
codelist.country           the shipper's or consignee's ``country`` is not an ISO 3166-1 alpha-2 code
codelist.currency          ``currency`` is not an ISO 4217 code a value can be declared in (e.g. RMB)
codelist.package           a goods item's ``packageType`` is not a UN/ECE Rec 21 code the gateway knows
brn.format                 the carrier's Business Registration Number is not 8 digits (defensive)
hs.format                  a goods item's ``hsCode`` is not 8 digits (defensive)
hs.chapter                 a goods item's ``hsCode`` is outside chapters 01-97, or in reserved chapter 77
container.check_digit      ``vehicle/containerNumber`` fails the ISO 6346 check digit
date.invalid               ``expectedCrossingTime`` is not a real date-time with a UTC offset
date.too_far_ahead         ``expectedCrossingTime`` is more than `CROSSING_HORIZON_DAYS` days after
                           today (Hong Kong dates): ACI is for an imminent crossing, and a far date is
                           almost always a typing error in the year
quantity.not_positive      a goods item's ``packageCount`` is zero or negative
weight.not_positive        ``totalGrossWeightKg`` or a goods item's ``grossWeightKg`` is not above zero
weight.total_mismatch      ``totalGrossWeightKg`` differs from the sum of the items' gross weights
value.not_positive         a goods item's ``value`` is zero or negative
value.precision            a goods item's ``value`` has more than 2 decimal places
=========================  ===========================================================================

A crossing time in the past is not refused: ACI is also lodged to regularise a crossing, and the
gateway cannot know the truck's real arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from gateway.documents import codelists
from gateway.documents.codelists import CodeLists
from gateway.documents.problems import Problem
from gateway.documents.rules._common import Checker, RuleContext, to_hong_kong_date
from gateway.documents.view import Node

__all__ = ["CROSSING_HORIZON_DAYS", "AciRoadRules"]

CROSSING_HORIZON_DAYS = 30


@dataclass(frozen=True, slots=True)
class AciRoadRules:
    """The ``hk.aci.road`` rule set: ``AciRoadRules(CodeLists.shared())(document, context)``."""

    lists: CodeLists

    def __call__(self, document: Node, context: RuleContext) -> list[Problem]:
        check = Checker(self.lists, context)
        for party in ("shipper", "consignee"):
            check.country(document.child(party), "country")
        check.brn(document.child("carrier"), "businessRegistrationNumber")
        _container(document.child("vehicle"), check)
        _crossing_time(document, check)
        check.currency(document, "currency")
        _goods(document, check)
        return check.problems


def _container(vehicle: Node | None, check: Checker) -> None:
    check.coded(
        vehicle,
        "containerNumber",
        valid=codelists.is_container_number,
        code="container.check_digit",
        what="an ISO 6346 container number with a correct check digit",
    )


def _crossing_time(document: Node, check: Checker) -> None:
    found = check.scalar(document, "expectedCrossingTime")
    if found is None:
        return
    text, node = found
    day = to_hong_kong_date(text)
    if day is None:
        check.report("date.invalid", node.path, f"{text!r} is not a real date and time with a UTC offset")
        return
    if day - check.context.today > timedelta(days=CROSSING_HORIZON_DAYS):
        check.report(
            "date.too_far_ahead",
            node.path,
            f"the expected crossing ({day.isoformat()}) is more than {CROSSING_HORIZON_DAYS} days ahead",
        )


def _goods(document: Node, check: Checker) -> None:
    total = check.positive(
        document, "totalGrossWeightKg", code="weight.not_positive", what="total gross weight"
    )
    weights = [_goods_item(item, check) for item in document.children("goodsItems")]
    if total is None or not weights or any(weight is None for weight in weights):
        return
    weight_sum = sum((weight for weight in weights if weight is not None), Decimal(0))
    if weight_sum != total:
        check.report(
            "weight.total_mismatch",
            check.path(document, "totalGrossWeightKg"),
            f"total gross weight {total} kg does not equal the items' gross weights, {weight_sum} kg",
        )


def _goods_item(item: Node, check: Checker) -> Decimal | None:
    """Check one goods item; its gross weight (None when unreadable)."""
    check.hs_code(item, "hsCode")
    check.positive(item, "packageCount", code="quantity.not_positive", what="package count")
    check.coded(
        item,
        "packageType",
        valid=check.lists.is_package_type,
        code="codelist.package",
        what="a UN/ECE Recommendation 21 package type code known to the gateway",
    )
    check.amount(item, "value", what="goods value")
    return check.positive(item, "grossWeightKg", code="weight.not_positive", what="gross weight")
