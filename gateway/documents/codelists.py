"""Code lists and identifier formats that business rules check values against.

- Countries: ISO 3166-1 alpha-2, from pycountry.
- Currencies: ISO 4217 alphabetic codes from pycountry, less those that are not money a trader can
  declare a value in (precious metals, bond-market and accounting units, ``XTS`` testing, ``XXX``).
- Units of measure: a subset of UN/ECE Recommendation 20 shipped in ``data/rec20_units.txt`` (no
  PyPI package carries Rec 20). Package types (UN/ECE Recommendation 21, e.g. ``CT`` carton) are
  checked against the ``X``-prefixed package units that Rec 20 carries (``XCT``).
- UN/LOCODE: format only (an existing country + three characters of ``[A-Z2-9]``); the gateway does
  not ship the 100,000-location list.
- Hong Kong Harmonized System (HKHS) codes: 8 digits; chapter 01-97, 77 being reserved by the HS.
- Hong Kong Business Registration Number (BRN): the 8-digit number on the BR certificate.
- Freight container numbers: ISO 6346 owner code, category, serial number and check digit.

`CodeLists` loads each list on first use and keeps it; build one per process (`CodeLists.shared()`)
and hand it to the rule sets. The format checks are plain functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, cached_property
from importlib import resources

import pycountry

__all__ = [
    "CodeLists",
    "hs_chapter_is_valid",
    "is_brn",
    "is_container_number",
    "is_hs_code",
]

_REC20_RESOURCE = ("data", "rec20_units.txt")
_NOT_DECLARABLE_CURRENCIES = frozenset(
    {"XAD", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)
_RESERVED_HS_CHAPTERS = frozenset({77})
_LOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
_HS_CODE = re.compile(r"[0-9]{8}")
_BRN = re.compile(r"[0-9]{8}")
_CONTAINER = re.compile(r"[A-Z]{3}[UJZR][0-9]{7}")


class CodeLists:
    """The code lists rules need, each loaded once on first use."""

    @classmethod
    @cache
    def shared(cls) -> CodeLists:
        """One instance per process, so every rule set shares the loaded lists."""
        return cls()

    @cached_property
    def countries(self) -> frozenset[str]:
        return frozenset(country.alpha_2 for country in pycountry.countries)

    @cached_property
    def currencies(self) -> frozenset[str]:
        codes = frozenset(currency.alpha_3 for currency in pycountry.currencies)
        return codes - _NOT_DECLARABLE_CURRENCIES

    @cached_property
    def units(self) -> Mapping[str, str]:
        """UN/ECE Rec 20 code -> name (the shipped subset)."""
        text = resources.files("gateway.documents").joinpath(*_REC20_RESOURCE).read_text("utf-8")
        return _parse_units(text)

    def is_country(self, code: str) -> bool:
        return code in self.countries

    def is_currency(self, code: str) -> bool:
        return code in self.currencies

    def is_unit(self, code: str) -> bool:
        return code in self.units

    def is_package_type(self, code: str) -> bool:
        """A UN/ECE Rec 21 package type code (``CT``), known as Rec 20 package unit ``XCT``."""
        return len(code) == 2 and f"X{code}" in self.units

    def is_locode(self, code: str) -> bool:
        """UN/LOCODE format: a known ISO 3166-1 country and three characters of ``[A-Z2-9]``."""
        return _LOCODE.fullmatch(code) is not None and code[:2] in self.countries


def _parse_units(text: str) -> dict[str, str]:
    units: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            code, _, name = line.partition("\t")
            units[code.strip()] = name.strip()
    return units


def is_hs_code(code: str) -> bool:
    """An 8-digit HKHS code (format only)."""
    return _HS_CODE.fullmatch(code) is not None


def hs_chapter_is_valid(code: str) -> bool:
    """The first two digits name an HS chapter in use: 01-97, except the reserved 77."""
    if not is_hs_code(code):
        return False
    chapter = int(code[:2])
    return 1 <= chapter <= 97 and chapter not in _RESERVED_HS_CHAPTERS


def is_brn(number: str) -> bool:
    """A Hong Kong Business Registration Number: exactly 8 digits."""
    return _BRN.fullmatch(number) is not None


def is_container_number(number: str) -> bool:
    """An ISO 6346 container number whose last digit is the right check digit."""
    if _CONTAINER.fullmatch(number) is None:
        return False
    return _container_check_digit(number[:10]) == int(number[10])


def _container_check_digit(prefix: str) -> int:
    total = sum(_ISO6346_VALUES[char] << position for position, char in enumerate(prefix))
    return total % 11 % 10


def _iso6346_values() -> dict[str, int]:
    values = {str(digit): digit for digit in range(10)}
    value = 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:  # 11, 22 and 33 are skipped
            value += 1
        values[letter] = value
        value += 1
    return values


_ISO6346_VALUES = _iso6346_values()
