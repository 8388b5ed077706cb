"""Customs and Excise Department (C&ED): a risk engine with deterministic, configurable rules.

Every rule that fires adds a finding; the most severe finding decides:

1. `REJECTED`: an origin country (`summary.origin_countries` or a line's `origin_country`) is
   sanctioned (default KP, IR, SY, CU). The reason names the country.
2. `HELD_FOR_INSPECTION`: a line's HS chapter (first two digits) is on the inspection list (default
   `24`, tobacco: dutiable under Cap. 109 and C&ED's main anti-smuggling target), or the seeded random
   inspection fires (`inspection_rate`, default 0.0 so runs are deterministic).
3. `HELD_FOR_DOCUMENTS`: a line in a controlled chapter (default `93`, arms and ammunition) has no
   `licence_number`; or the total value, converted to HKD, exceeds `documents_threshold_hkd` (default
   HK$1,000,000,000: effectively off); a total in a currency missing from the rate table counts as over.
   A summary without a total value is not value-checked.
4. `CLEARED` otherwise. Action `cancelled` is always `CANCELLATION_ACKNOWLEDGED`.

**Green lane** (bulk submissions of e-commerce consignments, `decide_consignment`): the same rules
decide each consignment, plus one. A consignment is low-risk when no rule fires (random inspection
included) and its total value, in HKD, is below `green_lane_limit_hkd` (default HK$2,000, under the
fast path's HK$5,000 ceiling, so the lane still sorts): it is released at once, `CLEARED` with
`detail.lane = "green"`. Every other consignment is `detail.lane = "red"` with its decision: rejected
or held as above, and a consignment no rule flagged but whose value is not below the limit (or is not
declared) is `HELD_FOR_DOCUMENTS` (rule `green-lane-value`) for an officer's documentary check.

The reference is `CED` + 10 digits derived from the declaration id, so every version of a declaration
has the same one. `detail` reads like a WCO RES-DMS notification (see the samples in
`reference/wco-dms/samples/responses/`): `function_code` and `notification` use the WCO/UK CDS
notification codes (HMRC, "Customs Declarations End-to-End Service: notifications"): 01 DMSACC accepted,
02 DMSRCV received, 03 DMSREJ rejected, 05 DMSCTL under control (physical check), 06 DMSDOC documents
required, 09 DMSCLE cleared, 10 DMSINV invalidated (cancelled). Timestamps are RFC 3339, not WCO's
format code 304.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

from simulators.answers import CANCELLATION_ACKNOWLEDGED, Answer
from simulators.clock import rfc3339
from simulators.contract import SubmissionRequest, TradeSummary
from simulators.money import DEFAULT_HKD_RATES, to_hkd
from simulators.references import digits_for, hex_for
from simulators.sanctions import SANCTIONED_COUNTRIES, sanctioned_among

__all__ = [
    "DEFAULT_CONTROLLED_CHAPTERS",
    "DEFAULT_DOCUMENTS_THRESHOLD_HKD",
    "DEFAULT_GREEN_LANE_LIMIT_HKD",
    "DEFAULT_INSPECTION_CHAPTERS",
    "CustomsRules",
    "decide",
    "decide_consignment",
    "reference_for",
]

DEFAULT_INSPECTION_CHAPTERS: frozenset[str] = frozenset({"24"})
DEFAULT_CONTROLLED_CHAPTERS: frozenset[str] = frozenset({"93"})
DEFAULT_DOCUMENTS_THRESHOLD_HKD = Decimal("1000000000")
DEFAULT_GREEN_LANE_LIMIT_HKD = Decimal(2000)


@dataclass(frozen=True, slots=True)
class CustomsRules:
    sanctioned_origins: frozenset[str] = SANCTIONED_COUNTRIES
    inspection_chapters: frozenset[str] = DEFAULT_INSPECTION_CHAPTERS
    controlled_chapters: frozenset[str] = DEFAULT_CONTROLLED_CHAPTERS
    documents_threshold_hkd: Decimal = DEFAULT_DOCUMENTS_THRESHOLD_HKD
    inspection_rate: float = 0.0
    hkd_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_HKD_RATES))
    green_lane_limit_hkd: Decimal = DEFAULT_GREEN_LANE_LIMIT_HKD


class _Severity(IntEnum):
    DOCUMENTS = 1
    INSPECTION = 2
    REJECTION = 3


# severity -> (decision, WCO function code, notification name)
_OUTCOMES: dict[_Severity | None, tuple[str, str, str]] = {
    None: ("CLEARED", "09", "DMSCLE"),
    _Severity.DOCUMENTS: ("HELD_FOR_DOCUMENTS", "06", "DMSDOC"),
    _Severity.INSPECTION: ("HELD_FOR_INSPECTION", "05", "DMSCTL"),
    _Severity.REJECTION: ("REJECTED", "03", "DMSREJ"),
}
_CANCELLED = (CANCELLATION_ACKNOWLEDGED, "10", "DMSINV")


@dataclass(frozen=True, slots=True)
class _Finding:
    severity: _Severity
    rule: str
    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "pointer": self.pointer, "message": self.message}


def reference_for(declaration_id: str) -> str:
    """`CED` + 10 digits, the same for every version of the declaration."""
    return "CED" + digits_for(f"customs:{declaration_id}")


def decide(request: SubmissionRequest, rules: CustomsRules, rng: random.Random, *, now: datetime) -> Answer:
    """Customs' answer to one submission (see the module docstring for the rules)."""
    if request.action == "cancelled":
        return _answer(request, None, [], now=now, cancelled=True)
    findings = _findings(request.summary, rules, rng)
    severity = max((finding.severity for finding in findings), default=None)
    return _answer(request, severity, findings, now=now)


def decide_consignment(
    request: SubmissionRequest, rules: CustomsRules, rng: random.Random, *, now: datetime
) -> Answer:
    """Customs' answer to one consignment of a bulk submission: `decide`'s rules, then the green lane."""
    if request.action == "cancelled":
        return decide(request, rules, rng, now=now)
    findings = _findings(request.summary, rules, rng)
    if not findings:
        findings = _green_lane_findings(request.summary, rules)
    severity = max((finding.severity for finding in findings), default=None)
    answer = _answer(request, severity, findings, now=now)
    lane = "red" if findings else "green"
    return Answer(answer.decision, answer.reference, answer.reason, {**answer.detail, "lane": lane})


def _green_lane_findings(summary: TradeSummary, rules: CustomsRules) -> list[_Finding]:
    """Nothing when the value is below the green-lane limit; else why an officer must look."""
    pointer, limit = "/summary/total_value", rules.green_lane_limit_hkd
    value_hkd = None if summary.total_value is None else to_hkd(summary.total_value, rules.hkd_rates)
    if value_hkd is None:  # an unknown currency was flagged already: here, no declared value
        message = "no declared value: documentary check before release"
    elif value_hkd >= limit:
        message = f"value HK${value_hkd:,.2f} is not below the green-lane limit HK${limit:,.2f}"
    else:
        return []
    return [_Finding(_Severity.DOCUMENTS, "green-lane-value", pointer, message)]


def _findings(summary: TradeSummary, rules: CustomsRules, rng: random.Random) -> list[_Finding]:
    findings = _sanction_findings(summary, rules) + _chapter_findings(summary, rules)
    if rules.inspection_rate > 0 and rng.random() < rules.inspection_rate:
        findings.append(
            _Finding(_Severity.INSPECTION, "random-inspection", "", "selected for random inspection")
        )
    value_finding = _value_finding(summary, rules)
    return findings + ([value_finding] if value_finding else [])


def _sanction_findings(summary: TradeSummary, rules: CustomsRules) -> list[_Finding]:
    return [
        _Finding(_Severity.REJECTION, "sanctioned-origin", pointer, f"origin country {country} is sanctioned")
        for country, pointer in sanctioned_among(summary.origins(), rules.sanctioned_origins)
    ]


def _chapter_findings(summary: TradeSummary, rules: CustomsRules) -> list[_Finding]:
    findings: list[_Finding] = []
    for index, line in enumerate(summary.goods):
        chapter, pointer = line.hs_chapter, f"/summary/lines/{index}/hs_code"
        if chapter in rules.inspection_chapters:
            message = f"HS chapter {chapter} (line {index + 1}) is selected for physical inspection"
            findings.append(_Finding(_Severity.INSPECTION, "inspection-chapter", pointer, message))
        if chapter in rules.controlled_chapters and not line.licence_number:
            message = (
                f"HS chapter {chapter} (line {index + 1}) is controlled: a licence or permit is required"
            )
            findings.append(_Finding(_Severity.DOCUMENTS, "controlled-chapter", pointer, message))
    return findings


def _value_finding(summary: TradeSummary, rules: CustomsRules) -> _Finding | None:
    total = summary.total_value
    if total is None:
        return None
    value_hkd = to_hkd(total, rules.hkd_rates)
    pointer = "/summary/total_value"
    if value_hkd is None:
        message = f"value in {total.currency} cannot be converted to HKD: documents required"
        return _Finding(_Severity.DOCUMENTS, "unknown-currency", pointer, message)
    if value_hkd > rules.documents_threshold_hkd:
        message = (
            f"value HK${value_hkd:,.2f} exceeds HK${rules.documents_threshold_hkd:,.2f}: documents required"
        )
        return _Finding(_Severity.DOCUMENTS, "value-threshold", pointer, message)
    return None


def _answer(
    request: SubmissionRequest,
    severity: _Severity | None,
    findings: list[_Finding],
    *,
    now: datetime,
    cancelled: bool = False,
) -> Answer:
    decision, function_code, notification = _CANCELLED if cancelled else _OUTCOMES[severity]
    reference = reference_for(request.declaration_id)
    stamp = rfc3339(now)
    detail: dict[str, Any] = {
        "wco_type_name": "RES",
        "function_code": function_code,
        "notification": notification,
        "functional_reference_id": hex_for(f"customs:{request.submission_id}"),
        "issue_datetime": stamp,
        "acceptance_datetime": None if severity is _Severity.REJECTION else stamp,
        "declaration": {"id": reference, "functional_reference_id": request.declaration_id},
        "findings": [finding.as_dict() for finding in findings],
        "decided_at": stamp,
    }
    decisive = (finding.message for finding in findings if finding.severity == severity)
    reason = "; ".join(dict.fromkeys(decisive))  # each message once, in order
    return Answer(decision, reference, reason or None, detail)
