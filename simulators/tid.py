"""Trade and Industry Department (TID): licences for strategic and other controlled commodities.

A line is controlled when its HS code starts with a prefix in `controlled` (a small documented table,
`DEFAULT_CONTROLLED`; real control lists work at subheading and export-control-number level):

- chapter `93`, arms and ammunition (munitions list, Import and Export (Strategic Commodities)
  Regulations, Cap. 60G);
- chemical-weapons precursor headings (Cap. 60G, Australia Group / CWC schedules): `2812` phosphorus
  halides, `2837` cyanides, `2920` phosphite esters, `2930` thiodiglycol and other organo-sulphur
  compounds, `2931` organo-phosphorus compounds;
- listed drug-precursor headings (1988 UN Convention tables; in Hong Kong, Control of Chemicals
  Ordinance, Cap. 145): `2841` potassium permanganate, `2902` toluene, `2914` acetone and methyl ethyl
  ketone, `2915` acetic anhydride, `2924` anthranilic and N-acetylanthranilic acid, `2932` safrole,
  piperonal and MDP2P, `2939` ephedrine and pseudoephedrine. (Cap. 145 licences really come from C&ED;
  the simulator keeps every licensing decision at one back-end.)

Decision:

1. `NOT_REQUIRED` when no line is controlled.
2. `REFUSED` when controlled goods come from (`origin_countries`, a line's `origin_country`) or go to
   (`destination_country`) a sanctioned country (default KP, IR, SY, CU).
3. `APPROVED` when every controlled line carries a `licence_number`; the reference is `TID-SC-` + 10
   digits derived from the declaration id.
4. `LICENCE_REQUIRED` otherwise (the reason lists the unlicensed lines).

Action `cancelled` is always `CANCELLATION_ACKNOWLEDGED`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulators.answers import CANCELLATION_ACKNOWLEDGED, Answer
from simulators.clock import rfc3339
from simulators.contract import Line, SubmissionRequest, TradeSummary
from simulators.references import digits_for
from simulators.sanctions import SANCTIONED_COUNTRIES, sanctioned_among

__all__ = ["DEFAULT_CONTROLLED", "TidRules", "decide", "licence_reference_for"]

DEFAULT_CONTROLLED: Mapping[str, str] = {
    "93": "arms and ammunition (munitions list)",
    "2812": "chemical-weapons precursor: phosphorus halides",
    "2837": "chemical-weapons precursor: cyanides",
    "2920": "chemical-weapons precursor: phosphite esters",
    "2930": "chemical-weapons precursor: organo-sulphur compounds",
    "2931": "chemical-weapons precursor: organo-phosphorus compounds",
    "2841": "drug precursor: permanganates",
    "2902": "drug precursor: toluene",
    "2914": "drug precursor: acetone, methyl ethyl ketone",
    "2915": "drug precursor: acetic anhydride",
    "2924": "drug precursor: anthranilic acids",
    "2932": "drug precursor: safrole, piperonal, MDP2P",
    "2939": "drug precursor: ephedrines",
}


@dataclass(frozen=True, slots=True)
class TidRules:
    controlled: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CONTROLLED))
    sanctioned_countries: frozenset[str] = SANCTIONED_COUNTRIES


@dataclass(frozen=True, slots=True)
class _Controlled:
    index: int
    line: Line
    category: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.index + 1,
            "hs_code": self.line.hs_code,
            "category": self.category,
            "licence_number": self.line.licence_number,
        }


def licence_reference_for(declaration_id: str) -> str:
    """`TID-SC-` + 10 digits, the same for every version of the declaration."""
    return "TID-SC-" + digits_for(f"tid:{declaration_id}")


def decide(request: SubmissionRequest, rules: TidRules, rng: random.Random, *, now: datetime) -> Answer:
    """TID's answer to one submission (see the module docstring for the rules); `rng` is unused."""
    del rng
    detail: dict[str, Any] = {"decided_at": rfc3339(now)}
    if request.action == "cancelled":
        return Answer(CANCELLATION_ACKNOWLEDGED, None, None, detail)
    controlled = _controlled_lines(request.summary, rules)
    detail["controlled_lines"] = [item.as_dict() for item in controlled]
    if not controlled:
        return Answer("NOT_REQUIRED", None, None, detail)
    sanctioned = sanctioned_among(_countries(request.summary), rules.sanctioned_countries)
    if sanctioned:
        names = ", ".join(sorted({country for country, _ in sanctioned}))
        return Answer("REFUSED", None, f"controlled goods to or from sanctioned country {names}", detail)
    unlicensed = [item for item in controlled if not item.line.licence_number]
    if unlicensed:
        return Answer("LICENCE_REQUIRED", None, _licence_reason(unlicensed), detail)
    return Answer("APPROVED", licence_reference_for(request.declaration_id), None, detail)


def _controlled_lines(summary: TradeSummary, rules: TidRules) -> list[_Controlled]:
    found: list[_Controlled] = []
    for index, line in enumerate(summary.goods):
        category = _category(line.hs_digits, rules.controlled)
        if category is not None:
            found.append(_Controlled(index, line, category))
    return found


def _category(hs_digits: str, controlled: Mapping[str, str]) -> str | None:
    matches = [prefix for prefix in controlled if hs_digits.startswith(prefix)]
    return controlled[max(matches, key=len)] if matches and hs_digits else None


def _countries(summary: TradeSummary) -> list[tuple[str, str]]:
    countries = summary.origins()
    if summary.destination_country:
        countries.append((summary.destination_country, "/summary/destination_country"))
    return countries


def _licence_reason(unlicensed: list[_Controlled]) -> str:
    parts = [f"line {item.index + 1} (HS {item.line.hs_code}: {item.category})" for item in unlicensed]
    return "licence required for " + "; ".join(parts)
