"""Census and Statistics Department (C&SD): acknowledges trade declarations and computes the charge.

The declaration charge follows the published rule (Import and Export (Registration) Regulations,
Cap. 60E, reg. 8; rates since 1 August 2012, capped at HK$200 per declaration since 1 August 2018; see
C&ED, "Import and Export Declaration Charges", customs.gov.hk/en/cargo_clearance/declaration/charges):

- imports of food items: HK$0.2 per declaration, whatever the value;
- everything else (non-food imports, exports, re-exports): HK$0.2 for the first HK$46,000 of value,
  plus HK$0.125 for each further HK$1,000 or part thereof, the total rounded up to the nearest 10 cents;
- never more than HK$200.

So a value of 0 or 46,000 costs 0.20, 46,000.01 to 47,000 costs 0.40 (0.325 rounded up), and from
1,644,000.01 on the cap applies. "Food" is approximated by HS chapter (`DEFAULT_FOOD_CHAPTERS`: meat,
fish, dairy, vegetables, fruit, coffee and tea, cereals, oil seeds, edible fats, prepared foods and
beverages); an import counts as food when every line with a known chapter is in those chapters. The
value is `summary.total_value` converted to HKD with the rate table; when it is missing or in an
unknown currency, `detail.charge_hkd` is null and the reason says why. The Clothing Industry Training
Levy and late-lodgement penalties are not modelled.

The decision is always `ACKNOWLEDGED` (`CANCELLATION_ACKNOWLEDGED` for action `cancelled`), with the
reference `CSD` + 10 digits derived from the declaration id; `detail.charge_hkd` is a decimal string.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from simulators.answers import CANCELLATION_ACKNOWLEDGED, Answer
from simulators.clock import rfc3339
from simulators.contract import SubmissionRequest, TradeSummary
from simulators.money import DEFAULT_HKD_RATES, to_hkd
from simulators.references import digits_for

__all__ = ["CHARGE_CAP_HKD", "DEFAULT_FOOD_CHAPTERS", "CenstatdRules", "decide", "declaration_charge"]

FIRST_BAND_HKD = Decimal(46_000)
FIRST_BAND_CHARGE_HKD = Decimal("0.2")
STEP_HKD = Decimal(1_000)
STEP_CHARGE_HKD = Decimal("0.125")
CHARGE_CAP_HKD = Decimal(200)
_TEN_CENTS = Decimal("0.1")
_CENTS = Decimal("0.01")

DEFAULT_FOOD_CHAPTERS: frozenset[str] = frozenset(
    {"02", "03", "04", "07", "08", "09", "10", "11", "12", "15", "16", "17", "18", "19", "20", "21", "22"}
)


@dataclass(frozen=True, slots=True)
class CenstatdRules:
    food_chapters: frozenset[str] = DEFAULT_FOOD_CHAPTERS
    hkd_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_HKD_RATES))


def declaration_charge(value_hkd: Decimal, *, food_import: bool = False) -> Decimal:
    """The charge for one declaration of `value_hkd`, in HKD with two decimals (see the module doc)."""
    if food_import:
        return FIRST_BAND_CHARGE_HKD.quantize(_CENTS)
    return min(_uncapped_charge(value_hkd), CHARGE_CAP_HKD).quantize(_CENTS)


def _uncapped_charge(value_hkd: Decimal) -> Decimal:
    excess = max(value_hkd - FIRST_BAND_HKD, Decimal(0))
    steps = (excess / STEP_HKD).to_integral_value(rounding=ROUND_CEILING)
    return (FIRST_BAND_CHARGE_HKD + STEP_CHARGE_HKD * steps).quantize(_TEN_CENTS, rounding=ROUND_CEILING)


def reference_for(declaration_id: str) -> str:
    """`CSD` + 10 digits, the same for every version of the declaration."""
    return "CSD" + digits_for(f"censtatd:{declaration_id}")


def decide(request: SubmissionRequest, rules: CenstatdRules, rng: random.Random, *, now: datetime) -> Answer:
    """C&SD's answer: an acknowledgement carrying the declaration charge; `rng` is unused."""
    del rng
    reference = reference_for(request.declaration_id)
    detail: dict[str, Any] = {"decided_at": rfc3339(now)}
    if request.action == "cancelled":
        return Answer(CANCELLATION_ACKNOWLEDGED, reference, None, detail)
    reason = _charge_into(detail, request.summary, rules)
    return Answer("ACKNOWLEDGED", reference, reason, detail)


def _charge_into(detail: dict[str, Any], summary: TradeSummary, rules: CenstatdRules) -> str | None:
    """Fill `detail` with the charge and its basis; answer the reason when it cannot be assessed."""
    food = _is_food_import(summary, rules)
    detail.update(
        charge_hkd=None, value_hkd=None, capped=False, charge_basis="food-import" if food else "value"
    )
    value_hkd, reason = _value_hkd(summary, rules)
    if value_hkd is not None:
        detail["value_hkd"] = str(value_hkd.quantize(_CENTS))
    elif not food:  # a food import's charge does not depend on the value
        return reason
    value = value_hkd or Decimal(0)
    charge = declaration_charge(value, food_import=food)
    detail.update(charge_hkd=str(charge), capped=not food and _uncapped_charge(value) > CHARGE_CAP_HKD)
    return None


def _value_hkd(summary: TradeSummary, rules: CenstatdRules) -> tuple[Decimal | None, str]:
    total = summary.total_value
    if total is None:
        return None, "no total value declared: charge not assessed"
    value_hkd = to_hkd(total, rules.hkd_rates)
    return value_hkd, f"value in {total.currency} cannot be converted to HKD: charge not assessed"


def _is_food_import(summary: TradeSummary, rules: CenstatdRules) -> bool:
    chapters = [line.hs_chapter for line in summary.goods if line.hs_chapter]
    return summary.kind == "import" and bool(chapters) and all(c in rules.food_chapters for c in chapters)
