"""The TradeSummary: what every agency back-end takes, whatever the document type.

Amounts, quantities and weights are decimal strings, exactly as the document wrote them (JSON numbers
keep their spelling too: they are parsed as `Decimal`); any field may be null when the document does
not say. The shape is the agency contract's (see `adapters` docs):

    {"kind", "trader": {"name", "id"}, "origin_countries", "destination_country",
     "total_value": {"amount", "currency"} | null, "lines": [...], "transport": {...}}

One extension, which back-ends that do not know it ignore: each line's ``licence_number`` (the import/
export licence or permit a trade declaration names for controlled goods), as the simulators read it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Literal, TypedDict

__all__ = [
    "Kind",
    "Line",
    "Money",
    "TradeSummary",
    "Trader",
    "Transport",
    "decimal_text",
    "distinct",
    "empty_summary",
    "sum_amounts",
    "transport_mode",
]

Kind = Literal["import", "export", "re-export", "advance-cargo", "unknown"]


class Trader(TypedDict):
    name: str | None
    id: str | None


class Money(TypedDict):
    amount: str
    currency: str


class Line(TypedDict):
    hs_code: str | None
    description: str | None
    quantity: str | None
    unit: str | None
    value: str | None
    origin_country: str | None
    gross_weight_kg: str | None
    licence_number: str | None  # extension: the licence or permit covering the line, if declared


class Transport(TypedDict):
    mode: str | None
    vehicle: str | None
    control_point: str | None
    crossing_time: str | None


class TradeSummary(TypedDict):
    kind: Kind
    trader: Trader
    origin_countries: list[str]
    destination_country: str | None
    total_value: Money | None
    lines: list[Line]
    transport: Transport


def empty_summary() -> TradeSummary:
    """A summary that says nothing (e.g. for a cancellation whose body is not a document)."""
    return {
        "kind": "unknown",
        "trader": {"name": None, "id": None},
        "origin_countries": [],
        "destination_country": None,
        "total_value": None,
        "lines": [],
        "transport": {"mode": None, "vehicle": None, "control_point": None, "crossing_time": None},
    }


def decimal_text(value: object) -> str | None:
    """A decimal string for a number or numeric text; None for anything else (booleans included).

    A float (a JSON number read by orjson, as in a bulk event) is written as its shortest repr: the
    document's value exactly for up to 15 significant digits (``19.99`` -> ``"19.99"``), though trailing
    zeros and exponents may be spelled differently (``1.10`` -> ``"1.1"``, ``1e2`` -> ``"100.0"``).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, int | Decimal):
        return str(value) if _finite(Decimal(value)) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return text if text and _finite(Decimal(text)) else None
        except InvalidOperation:
            return None
    return None


def _finite(value: Decimal) -> bool:
    return value.is_finite()


def sum_amounts(amounts: Iterable[str | None]) -> str | None:
    """The sum of decimal strings, or None when any is missing (or there are none)."""
    total = Decimal(0)
    seen = False
    for amount in amounts:
        if amount is None:
            return None
        total += Decimal(amount)
        seen = True
    return str(total) if seen else None


def distinct(values: Iterable[str | None]) -> list[str]:
    """The non-null values, first occurrence order, without repeats."""
    return list(dict.fromkeys(value for value in values if value))


#: UN/ECE Recommendation 19 transport mode codes, as words (0 and 9 say nothing).
_REC19 = {
    "1": "sea",
    "2": "rail",
    "3": "road",
    "4": "air",
    "5": "post",
    "6": "multimodal",
    "7": "fixed-installation",
    "8": "inland-waterway",
}
_UNKNOWN_MODES = {"0", "9", ""}


def transport_mode(value: str | None) -> str | None:
    """A transport mode as a lower-case word: Rec 19 codes are translated, words pass through."""
    if value is None:
        return None
    text = value.strip()
    if text in _UNKNOWN_MODES:
        return None
    return _REC19.get(text, text.lower())
