"""The simulators' settings: one `SimulatorSettings`, read from `TSW_SIM_*` environment variables.

Scalars are plain values (`TSW_SIM_LATENCY_MS=250`); sets, lists and tables are JSON
(`TSW_SIM_CUSTOMS_SANCTIONED_ORIGINS='["KP","IR"]'`, `TSW_SIM_HKD_RATES='{"HKD":"1","USD":"7.8"}'`). A
table given this way replaces the default one whole. The command line (`simulators.cli`) overrides the
environment for the options it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from simulators import censtatd, customs, tid
from simulators.logistics import normalize_vehicle
from simulators.money import DEFAULT_HKD_RATES
from simulators.sanctions import SANCTIONED_COUNTRIES

__all__ = ["AGENCY_IDS", "DEFAULT_PORTS", "AgencyId", "SimulatorSettings"]

AgencyId = Literal["customs", "tid", "censtatd", "logistics"]
AGENCY_IDS: tuple[AgencyId, ...] = ("customs", "tid", "censtatd", "logistics")
DEFAULT_PORTS: Mapping[AgencyId, int] = {"customs": 9101, "tid": 9102, "censtatd": 9103, "logistics": 9104}


_MAX_RATE = Decimal(1_000_000)  # keeps every HKD amount within Decimal's default 28 digits


def _upper(values: frozenset[str]) -> frozenset[str]:
    return frozenset(value.strip().upper() for value in values)


def _vehicles(values: frozenset[str]) -> frozenset[str]:
    return frozenset(normalize_vehicle(value) for value in values)


def _rates(rates: dict[str, Decimal]) -> dict[str, Decimal]:
    if any(not 0 < rate <= _MAX_RATE for rate in rates.values()):
        raise ValueError(f"every HKD rate must be positive and at most {_MAX_RATE}")
    return {currency.strip().upper(): rate for currency, rate in rates.items()}


Countries = Annotated[frozenset[str], AfterValidator(_upper)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class SimulatorSettings(BaseSettings):
    """Which agency to simulate, where to listen, the initial fault switches and the rule tables."""

    model_config = SettingsConfigDict(env_prefix="TSW_SIM_", frozen=True, extra="ignore")

    agency: AgencyId = "customs"
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)  # None: the agency's DEFAULT_PORTS entry
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: Rate = 0.0
    seed: int = 0
    hkd_rates: Annotated[dict[str, Decimal], AfterValidator(_rates)] = Field(
        default_factory=lambda: dict(DEFAULT_HKD_RATES)
    )

    customs_sanctioned_origins: Countries = SANCTIONED_COUNTRIES
    customs_inspection_chapters: frozenset[str] = customs.DEFAULT_INSPECTION_CHAPTERS
    customs_controlled_chapters: frozenset[str] = customs.DEFAULT_CONTROLLED_CHAPTERS
    customs_documents_threshold_hkd: Decimal = Field(default=customs.DEFAULT_DOCUMENTS_THRESHOLD_HKD, ge=0)
    customs_inspection_rate: Rate = 0.0
    customs_green_lane_limit_hkd: Decimal = Field(default=customs.DEFAULT_GREEN_LANE_LIMIT_HKD, ge=0)

    tid_controlled: dict[str, str] = Field(default_factory=lambda: dict(tid.DEFAULT_CONTROLLED))
    tid_sanctioned_countries: Countries = SANCTIONED_COUNTRIES

    censtatd_food_chapters: frozenset[str] = censtatd.DEFAULT_FOOD_CHAPTERS

    logistics_hold_rate: Rate = 0.0
    logistics_watch_vehicles: Annotated[frozenset[str], AfterValidator(_vehicles)] = frozenset()

    @property
    def listen_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.agency]
