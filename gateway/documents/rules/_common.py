"""Building blocks shared by the rule sets: the rule context, and a `Checker` that reads fields
through a `Node`, checks them and collects every problem found.

Checks are defensive: a missing, empty or unreadable field yields no problem here (schema
validation reports it), and no input makes them raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from gateway.documents import codelists
from gateway.documents.codelists import CodeLists
from gateway.documents.problems import Problem
from gateway.documents.view import Node

__all__ = ["HONG_KONG", "HONG_KONG_TIME", "Checker", "RuleContext", "RuleSet", "hong_kong_today"]

HONG_KONG = "HK"
HONG_KONG_TIME = timezone(timedelta(hours=8), "HKT")

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_DIGITS = 30  # far beyond any schema's totalDigits; keeps Decimal arithmetic exact and in range


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What rules may know besides the document. `today` is the date in Hong Kong (UTC+8)."""

    today: date


RuleSet = Callable[[Node, RuleContext], list[Problem]]


def hong_kong_today() -> date:
    """Today's date in Hong Kong, whatever the host's time zone: the clock for `RuleContext.today`."""
    return datetime.now(HONG_KONG_TIME).date()


def to_decimal(text: str) -> Decimal | None:
    """A finite decimal of sane size, or None for anything else (``NaN``, ``1e999``, ``abc``)."""
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or not -_MAX_DIGITS <= number.adjusted() <= _MAX_DIGITS:
        return None
    return number


def decimal_places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def to_date(text: str) -> date | None:
    """An ISO 8601 calendar date ``YYYY-MM-DD`` that exists, else None."""
    if _DATE.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def to_hong_kong_date(text: str) -> date | None:
    """The Hong Kong calendar date of an RFC 3339 date-time with an offset, else None."""
    if len(text) < 20 or _DATE.fullmatch(text[:10]) is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    try:
        return moment.astimezone(HONG_KONG_TIME).date()
    except OverflowError:  # within hours of year 1 or 9999: the local date is near enough
        return moment.date()


@dataclass(slots=True)
class Checker:
    """Reads fields of one document and collects every problem found, in the order checks run."""

    lists: CodeLists
    context: RuleContext
    problems: list[Problem] = field(default_factory=list)

    def report(self, code: str, path: str, message: str) -> None:
        self.problems.append(Problem(code=code, path=path, message=message))

    def path(self, parent: Node, name: str) -> str:
        """The path of `parent`'s child `name`, present or not."""
        node = parent.child(name)
        return parent.path_of(name) if node is None else node.path

    def text(self, parent: Node | None, name: str) -> str | None:
        """The child's text, or None when the parent or child is missing, empty or not a scalar."""
        node = None if parent is None else parent.child(name)
        return _text_of(node)

    def scalar(self, parent: Node | None, name: str) -> tuple[str, Node] | None:
        node = None if parent is None else parent.child(name)
        text = _text_of(node)
        return None if text is None or node is None else (text, node)

    def require(self, parent: Node, names: tuple[str, ...], *, code: str, why: str) -> None:
        """Report `code` for each of `names` that `parent` lacks; `why` ends the message."""
        for name in names:
            if parent.child(name) is None:
                self.report(code, parent.path_of(name), f"{name} is required {why}")

    def coded(
        self, parent: Node | None, name: str, *, valid: Callable[[str], bool], code: str, what: str
    ) -> str | None:
        """The child's text when `valid` accepts it; otherwise report `code` and return None."""
        found = self.scalar(parent, name)
        if found is None:
            return None
        text, node = found
        if valid(text):
            return text
        self.report(code, node.path, f"{text!r} is not {what}")
        return None

    def country(self, parent: Node | None, name: str) -> str | None:
        return self.coded(
            parent,
            name,
            valid=self.lists.is_country,
            code="codelist.country",
            what="an ISO 3166-1 alpha-2 country code",
        )

    def currency(self, parent: Node | None, name: str) -> str | None:
        return self.coded(
            parent,
            name,
            valid=self.lists.is_currency,
            code="codelist.currency",
            what="an ISO 4217 currency code",
        )

    def unit(self, parent: Node | None, name: str) -> str | None:
        return self.coded(
            parent,
            name,
            valid=self.lists.is_unit,
            code="codelist.unit",
            what="a UN/ECE Recommendation 20 unit of measure code known to the gateway",
        )

    def locode(self, parent: Node | None, name: str) -> str | None:
        return self.coded(
            parent,
            name,
            valid=self.lists.is_locode,
            code="codelist.locode",
            what="a UN/LOCODE (ISO 3166-1 country code and 3 characters of A-Z, 2-9)",
        )

    def brn(self, parent: Node | None, name: str) -> str | None:
        return self.coded(
            parent,
            name,
            valid=codelists.is_brn,
            code="brn.format",
            what="a Hong Kong Business Registration Number (8 digits)",
        )

    def hs_code(self, parent: Node | None, name: str) -> str | None:
        found = self.scalar(parent, name)
        if found is None:
            return None
        code, node = found
        if not codelists.is_hs_code(code):
            self.report("hs.format", node.path, f"{code!r} is not an 8-digit HKHS code")
        elif not codelists.hs_chapter_is_valid(code):
            self.report("hs.chapter", node.path, f"{code!r} is not in an HS chapter in use (01-97, not 77)")
        else:
            return code
        return None

    def number(self, parent: Node | None, name: str) -> tuple[Decimal, Node] | None:
        """A decimal field; None when missing or not a number (schema validation reports that)."""
        found = self.scalar(parent, name)
        if found is None:
            return None
        number = to_decimal(found[0])
        return None if number is None else (number, found[1])

    def positive(self, parent: Node | None, name: str, *, code: str, what: str) -> Decimal | None:
        """A decimal field, reporting `code` when it is zero or negative (the value is still returned)."""
        found = self.number(parent, name)
        if found is None:
            return None
        number, node = found
        if number <= 0:
            self.report(code, node.path, f"{what} must be greater than zero, not {number}")
        return number

    def amount(self, parent: Node | None, name: str, *, what: str) -> Decimal | None:
        """A money amount: greater than zero, at most 2 decimal places."""
        found = self.number(parent, name)
        if found is None:
            return None
        number, node = found
        if number <= 0:
            self.report("value.not_positive", node.path, f"{what} must be greater than zero, not {number}")
        if decimal_places(number) > 2:
            self.report("value.precision", node.path, f"{what} {number} has more than 2 decimal places")
        return number

    def calendar_date(self, parent: Node | None, name: str) -> date | None:
        found = self.scalar(parent, name)
        if found is None:
            return None
        text, node = found
        day = to_date(text)
        if day is None:
            self.report("date.invalid", node.path, f"{text!r} is not a calendar date (YYYY-MM-DD)")
        return day


def _text_of(node: Node | None) -> str | None:
    text = None if node is None else node.text()
    return text or None
