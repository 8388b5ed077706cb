"""One ``hk.ecom.lvc`` row in, a typed `Row` or every problem of the row out.

A row is a mapping of column name to value: ``csv.DictReader`` gives strings, a JSON array gives
strings, numbers and perhaps anything else. `parse_row(row, position)` checks all of it and returns
either a `Row` or a `RowProblems` listing EVERY problem found (never the first only), and never
raises on odd input. `position` is the caller's: the 0-based array index for JSON, the 1-based
physical line number for CSV. Problem paths are JSON Pointers ``/<position>/<column>``
(``/<position>`` for the row as a whole).

Decisions:

- Values are whitespace-stripped; an empty value is a missing one (``lvc.required``). Codes are
  case-sensitive (``hkd`` is refused, as in the other document types).
- Text and code columns must be strings: a JSON number for ``hs_code`` would already have lost its
  leading zero (``lvc.type``). Decimal columns take a JSON number or a string of a plain decimal
  (``12.50``; no exponent, no thousands separator, no sign other than a refused ``-``).
- Limits: at most `DECIMAL_LIMITS` digits before / after the decimal point (trailing zeros after the
  point do not count) and `TEXT_LIMITS` characters per text column (an..35 for references as in
  UN/EDIFACT and the WCO data model, more for names, addresses and descriptions).
- Code lists are `gateway.documents.codelists` (ISO 3166-1, ISO 4217 less non-money codes, the
  shipped UN/ECE Rec 20 subset), copied into frozensets once: a row costs set lookups, not pycountry.
- Messages echo a refused code (shortened) but never a text column's value, so ``buyer_id_ref``
  (the reference to the buyer's identity document) never reaches a problem, a log line or a repr.

=====================  =============================================================================
code                   meaning
=====================  =============================================================================
lvc.required           a column is missing, null or blank
lvc.type               a value is not a string (or, for a decimal column, not a number or a string)
lvc.unknown-column     a column the document type does not have (or more CSV cells than the header)
lvc.too-long           a text column is over its `TEXT_LIMITS` length (in characters)
lvc.hs-code            ``hs_code`` is not 6 to 8 ASCII digits of an HS chapter in use (01-97, not 77)
lvc.unit               ``unit`` is not a UN/ECE Rec 20 unit code the gateway knows
lvc.currency           ``currency`` is not an ISO 4217 code a value can be declared in
lvc.country            a country column is not an ISO 3166-1 alpha-2 code
lvc.transport-mode     ``transport_mode`` is not ``road``, ``air``, ``sea`` or ``post``
lvc.number             a decimal column is not a plain decimal number, or has too many digits
lvc.positive           a decimal column is zero or negative
lvc.precision          a decimal column has too many decimal places
=====================  =============================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import Any

from gateway.documents.codelists import CodeLists
from gateway.documents.problems import Problem
from gateway.ecommerce.columns import COLUMN_SET, COLUMNS, TRANSPORT_MODES

__all__ = ["DECIMAL_LIMITS", "TEXT_LIMITS", "Row", "RowParser", "RowProblems", "parse_row"]

TEXT_LIMITS: Mapping[str, int] = {
    "consignment_ref": 35,
    "platform": 70,
    "order_ref": 35,
    "tracking_no": 35,
    "seller_name": 140,
    "buyer_name": 140,
    "buyer_id_ref": 64,
    "consignee_address": 256,
    "description": 256,
}
"""Maximum length, in characters, of each free-text column (after stripping)."""

DECIMAL_LIMITS: Mapping[str, tuple[int, int]] = {
    "quantity": (9, 3),
    "value": (12, 2),
    "gross_weight_kg": (7, 3),
}
"""Per decimal column: (digits before the point, decimal places) at most."""

_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_SHOWN_CHARS = 24
_MAX_EXPONENT = 30  # a number written out has at most about this many digits
_HS_CODE_LENGTHS = frozenset({6, 7, 8})
_RESERVED_HS_CHAPTERS = frozenset({"77"})


@dataclass(frozen=True, slots=True)
class Row:
    """One line item, checked; ``buyer_id_ref`` is kept out of ``repr``.

    Decimals are exact and as written (``"87.50"`` is ``Decimal("87.50")``, equal to ``87.5``); the
    canonical document writes their shortest form. Fields are in `COLUMNS` order.
    """

    consignment_ref: str
    platform: str
    order_ref: str
    tracking_no: str
    seller_name: str
    seller_country: str
    buyer_name: str = field(repr=False)  # personal data: kept out of reprs, like the two below
    buyer_id_ref: str = field(repr=False)
    consignee_address: str = field(repr=False)
    destination_country: str
    description: str
    hs_code: str
    quantity: Decimal
    unit: str
    value: Decimal
    currency: str
    gross_weight_kg: Decimal
    origin_country: str
    transport_mode: str


@dataclass(frozen=True, slots=True)
class RowProblems:
    """A row refused: every problem found, and what of it is still readable.

    `consignment_ref` (None when unreadable) lets a refused row still be grouped with the rest of its
    consignment; `value` and `currency` (None when unreadable) still count towards its total, so an
    over-threshold consignment is told so at once, with its other problems.
    """

    consignment_ref: str | None
    problems: tuple[Problem, ...]
    value: Decimal | None = None
    currency: str | None = None


class RowParser:
    """Parses rows against code lists copied into frozensets once. Use `RowParser.shared()`."""

    __slots__ = ("_countries", "_currencies", "_units")

    def __init__(self, lists: CodeLists) -> None:
        self._countries = frozenset(lists.countries)
        self._currencies = frozenset(lists.currencies)
        self._units = frozenset(lists.units)

    @classmethod
    @cache
    def shared(cls) -> RowParser:
        """One parser per process, over `CodeLists.shared()` (built on first use, not at import)."""
        return cls(CodeLists.shared())

    def __call__(self, row: Mapping[str, Any], position: int) -> Row | RowProblems:
        parsed = self._fast(row)
        return parsed if parsed is not None else self._thorough(row, position)

    def _fast(self, row: Mapping[str, Any]) -> Row | None:
        """The common case in a few microseconds: every column present (and no other), well-formed,
        within its limits. None as soon as anything is unusual: `_thorough` then decides, and says
        why. It never accepts what `_thorough` refuses, and builds the same `Row` (property tests
        hold it to that; the length limits are `TEXT_LIMITS`, written out for speed)."""
        if len(row) != _COLUMN_COUNT:
            return None
        texts: list[str] | None
        try:
            texts = [_strip(value) for value in _values_of(row)]
        except (KeyError, TypeError):  # a column missing, or not a string (a JSON number?)
            texts = _with_numbers(row)
        if texts is None:
            return None
        (ref, platform, order_ref, tracking_no, seller_name, seller_country, buyer_name, buyer_id_ref,
         address, destination, description, hs_code, quantity, unit, value, currency, weight, origin,
         mode) = texts  # fmt: skip
        countries = self._countries
        if not (
            0 < len(ref) <= 35 and 0 < len(platform) <= 70 and 0 < len(order_ref) <= 35
            and 0 < len(tracking_no) <= 35 and 0 < len(seller_name) <= 140 and 0 < len(buyer_name) <= 140
            and 0 < len(buyer_id_ref) <= 64 and 0 < len(address) <= 256 and 0 < len(description) <= 256
            and seller_country in countries and destination in countries and origin in countries
            and unit in self._units and currency in self._currencies and mode in TRANSPORT_MODES
            and len(hs_code) in _HS_CODE_LENGTHS and hs_code.isascii() and hs_code.isdigit()
            and "01" <= hs_code[:2] <= "97" and hs_code[:2] not in _RESERVED_HS_CHAPTERS
            and _quantity_form(quantity) and _value_form(value) and _weight_form(weight)
        ):  # fmt: skip
            return None
        number, amount, kilograms = Decimal(quantity), Decimal(value), Decimal(weight)
        if not (number and amount and kilograms):  # zero
            return None
        return Row(ref, platform, order_ref, tracking_no, seller_name, seller_country, buyer_name,
                   buyer_id_ref, address, destination, description, hs_code, number, unit, amount,
                   currency, kilograms, origin, mode)  # fmt: skip

    def _thorough(self, row: Mapping[str, Any], position: int) -> Row | RowProblems:
        """Check every column and report every problem (the reference for `_fast`)."""
        problems: list[Problem] = []
        prefix = f"/{position}"
        get = row.get
        if not COLUMN_SET.issuperset(row):
            _unknown_columns(row, prefix, problems)
        countries = self._countries
        before_ref = len(problems)
        ref = _text(get("consignment_ref"), "consignment_ref", prefix, problems)
        ref_ok = len(problems) == before_ref
        parsed = Row(
            consignment_ref=ref,
            platform=_text(get("platform"), "platform", prefix, problems),
            order_ref=_text(get("order_ref"), "order_ref", prefix, problems),
            tracking_no=_text(get("tracking_no"), "tracking_no", prefix, problems),
            seller_name=_text(get("seller_name"), "seller_name", prefix, problems),
            seller_country=_coded(get("seller_country"), "seller_country", countries, prefix, problems),
            buyer_name=_text(get("buyer_name"), "buyer_name", prefix, problems),
            buyer_id_ref=_text(get("buyer_id_ref"), "buyer_id_ref", prefix, problems),
            consignee_address=_text(get("consignee_address"), "consignee_address", prefix, problems),
            destination_country=_coded(
                get("destination_country"), "destination_country", countries, prefix, problems
            ),
            description=_text(get("description"), "description", prefix, problems),
            hs_code=_hs_code(get("hs_code"), prefix, problems),
            quantity=_decimal(get("quantity"), "quantity", prefix, problems),
            unit=_coded(get("unit"), "unit", self._units, prefix, problems),
            value=_decimal(get("value"), "value", prefix, problems),
            currency=_coded(get("currency"), "currency", self._currencies, prefix, problems),
            gross_weight_kg=_decimal(get("gross_weight_kg"), "gross_weight_kg", prefix, problems),
            origin_country=_coded(get("origin_country"), "origin_country", countries, prefix, problems),
            transport_mode=_coded(get("transport_mode"), "transport_mode", TRANSPORT_MODES, prefix, problems),
        )
        if not problems:
            return parsed
        return RowProblems(
            consignment_ref=ref if ref_ok else None,
            problems=tuple(problems),
            value=None if parsed.value is _INVALID else parsed.value,
            currency=parsed.currency or None,
        )


def parse_row(row: Mapping[str, Any], position: int) -> Row | RowProblems:
    """Check one row with the process-wide `RowParser`; see the module docstring."""
    return RowParser.shared()(row, position)


# ---- the fast path --------------------------------------------------------------------------------

_COLUMN_COUNT = len(COLUMNS)
_values_of = itemgetter(*COLUMNS)
_strip = str.strip  # TypeError for anything but a str
_DECIMAL_INDEXES = frozenset(COLUMNS.index(column) for column in DECIMAL_LIMITS)


def _decimal_form(column: str) -> Callable[[str], object]:
    """A plain decimal within the column's limits (leading and trailing zeros counted: conservative)."""
    whole, places = DECIMAL_LIMITS[column]
    return re.compile(rf"[0-9]{{1,{whole}}}(?:\.[0-9]{{1,{places}}})?").fullmatch


_quantity_form = _decimal_form("quantity")
_value_form = _decimal_form("value")
_weight_form = _decimal_form("gross_weight_kg")


def _with_numbers(row: Mapping[str, Any]) -> list[str] | None:
    """The stripped texts of a row whose decimal columns may be JSON numbers; None if anything else
    is unusual (a column missing, a non-string elsewhere)."""
    texts: list[str] = []
    for index, column in enumerate(COLUMNS):
        value = row.get(column)
        if isinstance(value, str):
            texts.append(value.strip())
        elif index in _DECIMAL_INDEXES and value is not None:
            texts.append(_number_text(value))
        else:
            return None
    return texts


# ---- the thorough path, column by column ----------------------------------------------------------

_INVALID = Decimal(0)  # placeholder in a Row that is never returned (the row has problems)


def _text(raw: object, column: str, prefix: str, problems: list[Problem]) -> str:
    """A stripped, non-empty text within its length limit; "" after reporting a problem."""
    if isinstance(raw, str):
        text = raw.strip()
        if text and len(text) <= TEXT_LIMITS[column]:
            return text
        if text:
            message = f"{column} is {len(text)} characters long, over {TEXT_LIMITS[column]}"
            problems.append(Problem("lvc.too-long", f"{prefix}/{column}", message))
            return ""
    _not_text(raw, column, prefix, problems)
    return ""


def _coded(raw: object, column: str, codes: frozenset[str], prefix: str, problems: list[Problem]) -> str:
    """A stripped value from `codes`; "" after reporting a problem."""
    if isinstance(raw, str):
        text = raw.strip()
        if text in codes:
            return text
        if text:
            code, what = _CODED[column]
            problems.append(Problem(code, f"{prefix}/{column}", f"{_shown(text)} is not {what}"))
            return ""
    _not_text(raw, column, prefix, problems)
    return ""


def _hs_code(raw: object, prefix: str, problems: list[Problem]) -> str:
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) in _HS_CODE_LENGTHS and text.isascii() and text.isdigit():
            if "01" <= text[:2] <= "97" and text[:2] not in _RESERVED_HS_CHAPTERS:
                return text
            message = f"{_shown(text)} is not in an HS chapter in use (01 to 97, 77 reserved)"
            problems.append(Problem("lvc.hs-code", f"{prefix}/hs_code", message))
            return ""
        if text:
            message = f"{_shown(text)} is not an HS code of 6 to 8 digits"
            problems.append(Problem("lvc.hs-code", f"{prefix}/hs_code", message))
            return ""
    _not_text(raw, "hs_code", prefix, problems)
    return ""


def _not_text(raw: object, column: str, prefix: str, problems: list[Problem]) -> None:
    """Report a value that is absent, blank or not a string."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        problems.append(Problem("lvc.required", f"{prefix}/{column}", f"{column} is required"))
    else:
        problems.append(Problem("lvc.type", f"{prefix}/{column}", f"{column} must be a string"))


def _decimal(raw: object, column: str, prefix: str, problems: list[Problem]) -> Decimal:
    """A positive decimal within the column's limits, as written; a placeholder after a problem."""
    text = raw.strip() if isinstance(raw, str) else _number_text(raw)
    path = f"{prefix}/{column}"
    if not text:
        if raw is None or isinstance(raw, str):
            problems.append(Problem("lvc.required", path, f"{column} is required"))
        else:
            problems.append(Problem("lvc.type", path, f"{column} must be a number or a string"))
        return _INVALID
    if _NUMBER.fullmatch(text) is None:
        problems.append(Problem("lvc.number", path, f"{_shown(text)} is not a decimal number like 12.50"))
        return _INVALID
    whole, _, fraction = text.lstrip("-").partition(".")
    whole = whole.lstrip("0")
    fraction = fraction.rstrip("0")
    if text[0] == "-" or not (whole or fraction):
        problems.append(Problem("lvc.positive", path, f"{column} must be above zero, not {_shown(text)}"))
        return _INVALID
    max_whole, max_places = DECIMAL_LIMITS[column]
    count = len(problems)
    if len(whole) > max_whole:
        problems.append(Problem("lvc.number", path, f"{column} has over {max_whole} digits before the point"))
    if len(fraction) > max_places:
        problems.append(Problem("lvc.precision", path, f"{column} has over {max_places} decimal places"))
    return _INVALID if len(problems) > count else Decimal(text)


def _number_text(raw: object) -> str:
    """The plain decimal text of a JSON (or Python) number; "" for anything else. Exponents are
    written out when the number is of sane size, else kept (and refused as not a plain decimal)."""
    if isinstance(raw, bool):
        return ""
    if isinstance(raw, int):
        try:
            return str(raw)
        except ValueError:  # beyond sys.get_int_max_str_digits(): "too many digits" either way
            return "9" * 100
    if isinstance(raw, float):
        raw = Decimal(repr(raw)) if math.isfinite(raw) else Decimal("NaN")
    if not isinstance(raw, Decimal):
        return ""
    text = str(raw)
    if raw.is_finite() and ("E" in text) and -_MAX_EXPONENT <= raw.adjusted() <= _MAX_EXPONENT:
        return format(raw, "f")
    return text


def _unknown_columns(row: Mapping[Any, Any], prefix: str, problems: list[Problem]) -> None:
    for key in row:
        if key in COLUMN_SET:
            continue
        if key is None:  # csv.DictReader's restkey: cells beyond the header
            message = "the row has more cells than the header has columns"
            problems.append(Problem("lvc.unknown-column", prefix, message))
            continue
        name = str(key)
        escaped = name.replace("~", "~0").replace("/", "~1")
        message = f"{_shown(name)} is not a column of hk.ecom.lvc"
        problems.append(Problem("lvc.unknown-column", f"{prefix}/{escaped}", message))


def _shown(text: str) -> str:
    """A value as quoted in a message, cut short."""
    return repr(text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}...")


_CODED: Mapping[str, tuple[str, str]] = {
    "seller_country": ("lvc.country", "an ISO 3166-1 alpha-2 country code"),
    "destination_country": ("lvc.country", "an ISO 3166-1 alpha-2 country code"),
    "origin_country": ("lvc.country", "an ISO 3166-1 alpha-2 country code"),
    "currency": ("lvc.currency", "an ISO 4217 currency code (e.g. HKD, CNY, USD)"),
    "unit": ("lvc.unit", "a UN/ECE Recommendation 20 unit code the gateway knows (e.g. H87, PR, KGM)"),
    "transport_mode": ("lvc.transport-mode", "a transport mode: road, air, sea or post"),
}
