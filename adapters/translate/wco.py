"""wco.dec-dms (WCO Data Model customs declaration, UK CDS profile) -> TradeSummary.

The document is a ``MetaData`` envelope (``urn:wco:datamodel:WCO:DocumentMetaData-DMS:2``) holding one
``Declaration`` (``urn:wco:datamodel:WCO:DEC-DMS:2``); a bare ``Declaration`` root is read too.

- ``kind``: from ``Declaration/TypeCode`` (DE 1/1 + 1/2, e.g. ``IMA``, ``EXD``): ``IM`` import, ``EX``
  export; anything else (``CO`` special fiscal territories, ``GP``, ``IN``...) unknown;
- ``trader``: the importer (imports) or exporter (exports), else the declarant: ``Name`` and ``ID``
  (an EORI number in the UK profile);
- ``lines``: one per ``GoodsShipment/GovernmentAgencyGoodsItem``: the ``Commodity/Classification`` whose
  ``IdentificationTypeCode`` is ``TSP`` (the tariff commodity code) as ``hs_code``; the supplementary
  units (``GoodsMeasure/TariffQuantity``) or else the package count as quantity; the value from
  ``CustomsValueAmount``, else ``StatisticalValueAmount``, else the invoice line's ``ItemChargeAmount``;
  ``Origin/CountryCode``; ``GoodsMeasure/GrossMassMeasure`` (kg);
- ``total_value``: ``Declaration/InvoiceAmount`` with its ``currencyID``, else the sum of the line
  values when they share one currency;
- ``destination_country``: ``GoodsShipment/Destination`` (or a goods item's);
- ``transport``: ``BorderTransportMeans`` mode (Rec 19 code as a word) and identity (else the
  arrival/departure means), the exit office (exports) or goods location as ``control_point``.

A declaration without goods (a cancellation, a movement message) translates with no lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from adapters.errors import PoisonEvent
from adapters.translate.summary import (
    Kind,
    Line,
    Money,
    Trader,
    TradeSummary,
    decimal_text,
    distinct,
    transport_mode,
)

__all__ = ["DOCUMENT_TYPE", "XML_ROOT", "from_xml"]

DOCUMENT_TYPE = "wco.dec-dms"
XML_ROOT = "{urn:wco:datamodel:WCO:DocumentMetaData-DMS:2}MetaData"
_DEC = "urn:wco:datamodel:WCO:DEC-DMS:2"
_DECLARATION = f"{{{_DEC}}}Declaration"
_NS = {"d": _DEC}
_KINDS: dict[str, Kind] = {"IM": "import", "EX": "export"}
_TARIFF_CLASSIFICATION = "TSP"
_NATIONAL_LICENCE_CATEGORY = "9"  # DE 2/3 document codes 9xxx: UK national licences


@dataclass(frozen=True, slots=True)
class _Priced:
    line: Line
    currency: str | None


def from_xml(root: etree._Element) -> TradeSummary:
    declaration = root if root.tag == _DECLARATION else root.find("d:Declaration", _NS)
    if declaration is None:
        raise PoisonEvent("the WCO MetaData envelope carries no Declaration")
    kind = _KINDS.get((_text(declaration, "d:TypeCode") or "")[:2], "unknown")
    shipment = declaration.find("d:GoodsShipment", _NS)
    goods = [] if shipment is None else shipment.findall("d:GovernmentAgencyGoodsItem", _NS)
    priced = [_line(item) for item in goods]
    lines = [entry.line for entry in priced]
    return {
        "kind": kind,
        "trader": _trader(declaration, shipment, kind),
        "origin_countries": distinct(line["origin_country"] for line in lines),
        "destination_country": _destination(shipment, goods),
        "total_value": _total(declaration, priced),
        "lines": lines,
        "transport": {
            "mode": transport_mode(_text(declaration, "d:BorderTransportMeans/d:ModeCode")),
            "vehicle": _vehicle(declaration, shipment, kind),
            "control_point": _control_point(declaration, shipment, kind),
            "crossing_time": None,
        },
    }


def _text(element: etree._Element | None, path: str) -> str | None:
    if element is None:
        return None
    value = element.findtext(path, namespaces=_NS)
    return (value or "").strip() or None


def _first(candidates: Iterable[str | None]) -> str | None:
    return next((value for value in candidates if value), None)


def _trader(declaration: etree._Element, shipment: etree._Element | None, kind: Kind) -> Trader:
    roles = {"import": ("d:Importer",), "export": ("d:Exporter",)}.get(kind, ("d:Importer", "d:Exporter"))
    for role in roles:
        for holder in (declaration, shipment):
            party = None if holder is None else holder.find(role, _NS)
            if party is not None and (_text(party, "d:Name") or _text(party, "d:ID")):
                return {"name": _text(party, "d:Name"), "id": _text(party, "d:ID")}
    declarant = declaration.find("d:Declarant", _NS)
    return {"name": _text(declarant, "d:Name"), "id": _text(declarant, "d:ID")}


def _line(item: etree._Element) -> _Priced:
    commodity = item.find("d:Commodity", _NS)
    quantity, unit = _quantity(item, commodity)
    amount = _amount(item, commodity)
    origin = _text(item, "d:Origin/d:CountryCode")
    line: Line = {
        "hs_code": _hs_code(commodity),
        "description": _text(commodity, "d:Description"),
        "quantity": quantity,
        "unit": unit,
        "value": None if amount is None else decimal_text(amount.text),
        "origin_country": origin.upper() if origin and len(origin) == 2 else None,
        "gross_weight_kg": decimal_text(_text(commodity, "d:GoodsMeasure/d:GrossMassMeasure")),
        "licence_number": _licence(item),
    }
    return _Priced(line=line, currency=None if amount is None else amount.get("currencyID"))


def _licence(item: etree._Element) -> str | None:
    """The item's national licence (DE 2/3 documents of category 9, e.g. 9104 a standard individual
    export licence for military goods, 9100 an open individual licence), if it declares one."""
    for document in item.findall("d:AdditionalDocument", _NS):
        if _text(document, "d:CategoryCode") == _NATIONAL_LICENCE_CATEGORY:
            reference = _text(document, "d:ID")
            if reference:
                return reference
    return None


def _hs_code(commodity: etree._Element | None) -> str | None:
    if commodity is None:
        return None
    for classification in commodity.findall("d:Classification", _NS):
        if _text(classification, "d:IdentificationTypeCode") == _TARIFF_CLASSIFICATION:
            return _text(classification, "d:ID")
    return None


def _quantity(item: etree._Element, commodity: etree._Element | None) -> tuple[str | None, str | None]:
    tariff = None if commodity is None else commodity.find("d:GoodsMeasure/d:TariffQuantity", _NS)
    if tariff is not None and decimal_text(tariff.text):
        return decimal_text(tariff.text), tariff.get("unitCode")
    packages = item.findall("d:Packaging", _NS)
    counts = [decimal_text(_text(package, "d:QuantityQuantity")) for package in packages]
    if not counts or None in counts:
        return None, None
    types = distinct(_text(package, "d:TypeCode") for package in packages)
    return str(sum(Decimal(count) for count in counts if count)), types[0] if len(types) == 1 else None


def _amount(item: etree._Element, commodity: etree._Element | None) -> etree._Element | None:
    for holder, path in (
        (item, "d:CustomsValueAmount"),
        (item, "d:StatisticalValueAmount"),
        (commodity, "d:InvoiceLine/d:ItemChargeAmount"),
    ):
        found = None if holder is None else holder.find(path, _NS)
        if found is not None and decimal_text(found.text):
            return found
    return None


def _total(declaration: etree._Element, priced: list[_Priced]) -> Money | None:
    invoice = declaration.find("d:InvoiceAmount", _NS)
    amount = None if invoice is None else decimal_text(invoice.text)
    currency = None if invoice is None else invoice.get("currencyID")
    if amount and currency:
        return {"amount": amount, "currency": currency}
    currencies = {entry.currency for entry in priced}
    values = [entry.line["value"] for entry in priced]
    if len(currencies) != 1 or None in values:
        return None
    currency = currencies.pop()
    total = sum((Decimal(value) for value in values if value), Decimal(0))
    return {"amount": str(total), "currency": currency} if currency else None


def _destination(shipment: etree._Element | None, goods: list[etree._Element]) -> str | None:
    code = _first([_text(shipment, "d:Destination/d:CountryCode")])
    code = code or _first(_text(item, "d:Destination/d:CountryCode") for item in goods)
    return code.upper() if code and len(code) == 2 else None


def _vehicle(declaration: etree._Element, shipment: etree._Element | None, kind: Kind) -> str | None:
    means = "d:ArrivalTransportMeans" if kind == "import" else "d:DepartureTransportMeans"
    return _first(
        [
            _text(declaration, "d:BorderTransportMeans/d:ID"),
            _text(shipment, f"d:Consignment/{means}/d:ID"),
            _text(shipment, "d:Consignment/d:ArrivalTransportMeans/d:ID"),
            _text(shipment, "d:Consignment/d:DepartureTransportMeans/d:ID"),
        ]
    )


def _control_point(declaration: etree._Element, shipment: etree._Element | None, kind: Kind) -> str | None:
    exit_office = _text(declaration, "d:ExitOffice/d:ID") if kind == "export" else None
    return exit_office or _text(shipment, "d:Consignment/d:GoodsLocation/d:Name")
