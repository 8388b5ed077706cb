"""Business rules of the Hong Kong import/export trade declaration (schema pack ``hk.tdec``).

They run after schema validation, on either form through `gateway.documents.view`, and report
every problem found. Formats (patterns, lengths, enumerations) are the schema's job; codes marked
*defensive* below can only fire on input the schema lets through by mistake.

=========================  ===========================================================================
code                       meaning
=========================  ===========================================================================
codelist.country           a country (consignor/consignee, consignment, destination, origin) is not
                           an ISO 3166-1 alpha-2 code
codelist.currency          ``currency`` is not an ISO 4217 code a value can be declared in
codelist.unit              a line's ``unit`` is not a UN/ECE Rec 20 code the gateway knows
codelist.locode            a port is not a UN/LOCODE of an existing country
brn.format                 a Business Registration Number is not 8 digits (defensive)
hs.format                  a line's ``hsCode`` is not 8 digits (defensive)
hs.chapter                 a line's ``hsCode`` is outside chapters 01-97, or in the reserved chapter 77
field.required_for_kind    imports need ``consignor`` and ``countryOfConsignment``; exports and
                           re-exports need ``consignee`` and ``countryOfDestination``
value.basis                ``valueBasis`` is not CIF for an import, or not FOB for an export/re-export
country.hong_kong          an import consigned from, or an export/re-export destined to, Hong Kong
locode.not_hong_kong       an import's ``portOfDischarge``, or an export's/re-export's
                           ``portOfLoading``, is not a Hong Kong location (HK...)
origin.hong_kong           a re-export line of Hong Kong origin (that is a domestic export)
date.invalid               ``importExportDate`` is not a calendar date (e.g. 2026-02-30 in JSON)
date.future                ``importExportDate`` is after today (Hong Kong date, `RuleContext.today`)
quantity.not_positive      a line's ``quantity`` is zero or negative
weight.not_positive        a line's ``netWeightKg`` or ``grossWeightKg`` is zero or negative
weight.net_exceeds_gross   a line's ``netWeightKg`` is above its ``grossWeightKg``
value.not_positive         ``totalValue`` or a line's ``value`` is zero or negative
value.precision            ``totalValue`` or a line's ``value`` has more than 2 decimal places
value.total_mismatch       ``totalValue`` differs from the sum of the line values (exact decimals)
=========================  ===========================================================================

Late lodgement (more than 14 days after the import/export date) attracts a penalty but is not a
reason to refuse the declaration, so it is not a rule here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.documents.codelists import CodeLists
from gateway.documents.problems import Problem
from gateway.documents.rules._common import HONG_KONG, Checker, RuleContext
from gateway.documents.view import Node

__all__ = ["TdecRules"]

_IMPORT = "import"
_EXPORTS = frozenset({"export", "re-export"})
_REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "import": ("consignor", "countryOfConsignment"),
    "export": ("consignee", "countryOfDestination"),
    "re-export": ("consignee", "countryOfDestination"),
}
_VALUE_BASIS = {"import": "CIF", "export": "FOB", "re-export": "FOB"}
_HOME_PORT = {"import": "portOfDischarge", "export": "portOfLoading", "re-export": "portOfLoading"}


@dataclass(frozen=True, slots=True)
class TdecRules:
    """The ``hk.tdec`` rule set: ``TdecRules(CodeLists.shared())(document, context)``."""

    lists: CodeLists

    def __call__(self, document: Node, context: RuleContext) -> list[Problem]:
        check = Checker(self.lists, context)
        kind = check.text(document, "declarationKind")
        _parties(document, check)
        _kind_requirements(document, kind, check)
        _countries(document, kind, check)
        _ports(document, kind, check)
        _import_export_date(document, check)
        _values(document, kind, check)
        return check.problems


def _parties(document: Node, check: Checker) -> None:
    for name in ("declarant", "importerExporter"):
        check.brn(document.child(name), "businessRegistrationNumber")
    for name in ("consignor", "consignee"):
        check.country(document.child(name), "country")


def _kind_requirements(document: Node, kind: str | None, check: Checker) -> None:
    required = _REQUIRED_BY_KIND.get(kind or "")
    if required is None:
        return
    why = f"for a declaration of kind {kind!r}"
    check.require(document, required, code="field.required_for_kind", why=why)
    basis = check.text(document, "valueBasis")
    expected = _VALUE_BASIS[kind or ""]
    if basis is not None and basis != expected:
        check.report(
            "value.basis",
            check.path(document, "valueBasis"),
            f"a declaration of kind {kind!r} declares {expected} values, not {basis}",
        )


def _countries(document: Node, kind: str | None, check: Checker) -> None:
    consignment = check.country(document, "countryOfConsignment")
    destination = check.country(document, "countryOfDestination")
    if kind == _IMPORT and consignment == HONG_KONG:
        check.report(
            "country.hong_kong",
            check.path(document, "countryOfConsignment"),
            "an import cannot be consigned from Hong Kong",
        )
    if kind in _EXPORTS and destination == HONG_KONG:
        check.report(
            "country.hong_kong",
            check.path(document, "countryOfDestination"),
            f"a declaration of kind {kind!r} cannot be destined to Hong Kong",
        )


def _ports(document: Node, kind: str | None, check: Checker) -> None:
    ports = {name: check.locode(document, name) for name in ("portOfLoading", "portOfDischarge")}
    home = _HOME_PORT.get(kind or "")
    port = None if home is None else ports[home]
    if home is None or port is None or port.startswith(HONG_KONG):
        return
    check.report(
        "locode.not_hong_kong",
        check.path(document, home),
        f"{home} of a declaration of kind {kind!r} must be in Hong Kong (HK...), not {port}",
    )


def _import_export_date(document: Node, check: Checker) -> None:
    day = check.calendar_date(document, "importExportDate")
    if day is not None and day > check.context.today:
        check.report(
            "date.future",
            check.path(document, "importExportDate"),
            f"the import/export date {day.isoformat()} is after today ({check.context.today.isoformat()})",
        )


def _values(document: Node, kind: str | None, check: Checker) -> None:
    check.currency(document, "currency")
    total = check.amount(document, "totalValue", what="total value")
    line_sum = _lines(document, kind, check)
    if total is None or line_sum is None or total == line_sum:
        return
    check.report(
        "value.total_mismatch",
        check.path(document, "totalValue"),
        f"total value {total} does not equal the sum of the line values {line_sum}",
    )


def _lines(document: Node, kind: str | None, check: Checker) -> Decimal | None:
    """Check every line; the sum of their values, or None when there is none or one is unreadable."""
    values = [_line(line, kind, check) for line in document.children("lines")]
    if not values or any(value is None for value in values):
        return None
    return sum((value for value in values if value is not None), Decimal(0))


def _line(line: Node, kind: str | None, check: Checker) -> Decimal | None:
    check.hs_code(line, "hsCode")
    check.unit(line, "unit")
    check.positive(line, "quantity", code="quantity.not_positive", what="quantity")
    _weights(line, check)
    origin = check.country(line, "countryOfOrigin")
    if kind == "re-export" and origin == HONG_KONG:
        check.report(
            "origin.hong_kong",
            check.path(line, "countryOfOrigin"),
            "goods of Hong Kong origin are declared as an export, not a re-export",
        )
    return check.amount(line, "value", what="line value")


def _weights(line: Node, check: Checker) -> None:
    net = check.positive(line, "netWeightKg", code="weight.not_positive", what="net weight")
    gross = check.positive(line, "grossWeightKg", code="weight.not_positive", what="gross weight")
    if net is not None and gross is not None and net > gross:
        check.report(
            "weight.net_exceeds_gross",
            check.path(line, "netWeightKg"),
            f"net weight {net} kg exceeds gross weight {gross} kg",
        )
