"""From settings to one agency's decision functions: the only place that knows all four agencies.

`decider_for` decides a single submission; `consignment_decider_for` one consignment of a bulk
submission (the same rules, plus customs' green lane: `simulators.customs.decide_consignment`).
`draws_randomly` says whether any rule in force draws from the seeded generator at all.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Protocol, TypeVar

from simulators import censtatd, customs, logistics, tid
from simulators.answers import Answer
from simulators.config import SimulatorSettings
from simulators.contract import SubmissionRequest

__all__ = ["Decide", "consignment_decider_for", "decider_for", "draws_randomly"]

_Rules = TypeVar("_Rules")
_RulesIn = TypeVar("_RulesIn", contravariant=True)


class Decide(Protocol):
    """One agency's rules, bound: the answer to `request`, drawing any randomness from `rng`."""

    def __call__(self, request: SubmissionRequest, rng: random.Random, *, now: datetime) -> Answer: ...


class _Unbound(Protocol[_RulesIn]):
    def __call__(
        self, request: SubmissionRequest, rules: _RulesIn, rng: random.Random, *, now: datetime
    ) -> Answer: ...


def decider_for(settings: SimulatorSettings) -> Decide:
    """The decision function of `settings.agency`, with the rule tables from `settings`."""
    match settings.agency:
        case "customs":
            return _bind(customs.decide, _customs_rules(settings))
        case "tid":
            return _bind(tid.decide, tid.TidRules(settings.tid_controlled, settings.tid_sanctioned_countries))
        case "censtatd":
            rules = censtatd.CenstatdRules(settings.censtatd_food_chapters, settings.hkd_rates)
            return _bind(censtatd.decide, rules)
        case "logistics":
            return _bind(logistics.decide, _logistics_rules(settings))


def consignment_decider_for(settings: SimulatorSettings) -> Decide:
    """The decision function for one consignment of a bulk submission to `settings.agency`."""
    if settings.agency == "customs":
        return _bind(customs.decide_consignment, _customs_rules(settings))
    return decider_for(settings)


def draws_randomly(settings: SimulatorSettings) -> bool:
    """Whether `settings.agency`'s rules draw random numbers (a rate above zero)."""
    match settings.agency:
        case "customs":
            return settings.customs_inspection_rate > 0
        case "logistics":
            return settings.logistics_hold_rate > 0
        case _:
            return False


def _bind(decide: _Unbound[_Rules], rules: _Rules) -> Decide:
    def bound(request: SubmissionRequest, rng: random.Random, *, now: datetime) -> Answer:
        return decide(request, rules, rng, now=now)

    return bound


def _customs_rules(settings: SimulatorSettings) -> customs.CustomsRules:
    return customs.CustomsRules(
        sanctioned_origins=settings.customs_sanctioned_origins,
        inspection_chapters=settings.customs_inspection_chapters,
        controlled_chapters=settings.customs_controlled_chapters,
        documents_threshold_hkd=settings.customs_documents_threshold_hkd,
        inspection_rate=settings.customs_inspection_rate,
        hkd_rates=settings.hkd_rates,
        green_lane_limit_hkd=settings.customs_green_lane_limit_hkd,
    )


def _logistics_rules(settings: SimulatorSettings) -> logistics.LogisticsRules:
    return logistics.LogisticsRules(settings.logistics_hold_rate, settings.logistics_watch_vehicles)
