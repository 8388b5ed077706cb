"""The agency back-end contract's request bodies, validated with pydantic.

`SubmissionRequest` is the body of `POST /v1/submissions`; `TradeSummary` is the agency-neutral view of
the declaration that the adapters send. Every summary field may be null (or absent) when unknown;
amounts and quantities are decimal strings (`"1234.50"`; anything `Decimal` reads as a finite number
below 10**18 in magnitude, so `"1E+3"` too), never JSON numbers; countries are ISO 3166-1 alpha-2 and
currencies ISO 4217 (upper-cased on input). Unknown fields are ignored, so newer adapters can send
more than this version reads.

One extension to the contract: a line may carry `licence_number` (the licence or permit that covers
it, as a trade declaration's `licenceNumber`). It is optional, and the customs and TID simulators use
it to tell licensed controlled goods from unlicensed ones.

`BulkSubmissionRequest` is the body of `POST /v1/bulk-submissions`: many consignments (each a declaration
id and its summary) decided in one request; at most `MAX_BULK_CONSIGNMENTS`, each declaration id once.

`FaultSwitches` is the body of `PUT /v1/faults` (and of `GET /v1/faults`); it forbids unknown fields, so a
misspelt switch is a 422, not a silent no-op.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = [
    "MAX_BULK_CONSIGNMENTS",
    "Action",
    "BulkConsignment",
    "BulkSubmissionRequest",
    "FaultSwitches",
    "Kind",
    "Line",
    "Money",
    "SubmissionRequest",
    "TradeSummary",
    "Trader",
    "Transport",
    "decimal_of",
]

_MAX_MAGNITUDE = Decimal(10) ** 18
MAX_BULK_CONSIGNMENTS = 100_000


def _decimal_text(text: str) -> str:
    """Accept what `Decimal` reads as a finite number below 10**18 in magnitude (`"12.50"`, `"1E+3"`)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a decimal number") from None
    if not value.is_finite() or abs(value) >= _MAX_MAGNITUDE:
        raise ValueError("not a finite decimal number below 10**18 in magnitude")
    return text


DecimalString = Annotated[str, StringConstraints(max_length=64), AfterValidator(_decimal_text)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$", to_upper=True)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=2000)]

Action = Literal["submitted", "amended", "cancelled"]
Kind = Literal["import", "export", "re-export", "advance-cargo", "unknown"]


def decimal_of(text: str) -> Decimal:
    """The value of a string that passed `DecimalString` validation."""
    return Decimal(text)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Trader(_Wire):
    name: Text | None = None
    id: Text | None = None


class Money(_Wire):
    amount: DecimalString
    currency: CurrencyCode


class Line(_Wire):
    hs_code: Annotated[str, StringConstraints(max_length=32)] | None = None
    description: Text | None = None
    quantity: DecimalString | None = None
    unit: Text | None = None
    value: DecimalString | None = None
    origin_country: CountryCode | None = None
    gross_weight_kg: DecimalString | None = None
    licence_number: Text | None = None  # extension: see the module docstring

    @property
    def hs_digits(self) -> str:
        """The HS code's digits only (`"9301.10"` -> `"930110"`); empty when unknown."""
        code = self.hs_code or ""
        if code.isascii() and code.isdigit():  # the usual case, without a pass per character
            return code
        return "".join(ch for ch in code if ch.isascii() and ch.isdigit())

    @property
    def hs_chapter(self) -> str | None:
        """The HS chapter (first two digits), or None when the code has fewer than two digits."""
        digits = self.hs_digits
        return digits[:2] if len(digits) >= 2 else None


class Transport(_Wire):
    mode: Text | None = None
    vehicle: Text | None = None
    control_point: Text | None = None
    crossing_time: Text | None = None


class TradeSummary(_Wire):
    kind: Kind | None = None
    trader: Trader | None = None
    origin_countries: list[CountryCode] | None = None
    destination_country: CountryCode | None = None
    total_value: Money | None = None
    lines: list[Line] | None = None
    transport: Transport | None = None

    @property
    def goods(self) -> list[Line]:
        return list(self.lines or ())

    def origins(self) -> list[tuple[str, str]]:
        """Every origin country with its JSON pointer in the request, summary-level ones first."""
        found = [(c, f"/summary/origin_countries/{i}") for i, c in enumerate(self.origin_countries or ())]
        found += [
            (line.origin_country, f"/summary/lines/{i}/origin_country")
            for i, line in enumerate(self.goods)
            if line.origin_country
        ]
        return found


class SubmissionRequest(_Wire):
    submission_id: Identifier
    declaration_id: Identifier
    action: Action
    document_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    summary: TradeSummary


class BulkConsignment(_Wire):
    declaration_id: Identifier
    summary: TradeSummary


class BulkSubmissionRequest(_Wire):
    submission_id: Identifier
    document_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    consignments: Annotated[list[BulkConsignment], Field(min_length=1, max_length=MAX_BULK_CONSIGNMENTS)]

    @field_validator("consignments")
    @classmethod
    def _each_declaration_once(cls, consignments: list[BulkConsignment]) -> list[BulkConsignment]:
        if len({consignment.declaration_id for consignment in consignments}) != len(consignments):
            raise ValueError("a declaration_id appears more than once")
        return consignments


class FaultSwitches(BaseModel):
    """The fault switches. `PUT` replaces all of them: an omitted switch is off."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    down: bool = False
    down_for_s: float | None = Field(default=None, ge=0.0, le=86_400.0)
