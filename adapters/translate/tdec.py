"""hk.tdec (Hong Kong import/export trade declaration) -> TradeSummary.

- ``kind``: ``declarationKind`` (import, export, re-export);
- ``trader``: the Hong Kong importer/exporter (``importerExporter``): name and Business Registration
  Number;
- ``destination_country``: ``countryOfDestination``; for an import, Hong Kong (``HK``);
- ``total_value``: ``totalValue`` in ``currency`` (on the declared ``valueBasis``, CIF or FOB);
- ``lines``: one per ``lines`` item (with its ``licenceNumber``, if any); ``origin_countries``: their
  distinct ``countryOfOrigin``;
- ``transport``: ``transportMode`` (Rec 19 codes as words), ``transportIdentifier`` (vessel, flight or
  vehicle), the Hong Kong port as ``control_point`` (port of discharge for an import, of loading
  otherwise) and ``importExportDate`` (a date) as ``crossing_time``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from adapters.translate.fields import country, items, obj, text
from adapters.translate.parsing import xml_as_json
from adapters.translate.summary import (
    Kind,
    Line,
    TradeSummary,
    decimal_text,
    distinct,
    transport_mode,
)

__all__ = ["DOCUMENT_TYPE", "XML_ROOT", "from_json", "from_xml"]

DOCUMENT_TYPE = "hk.tdec"
XML_ROOT = "{urn:hk:tsw:tdec:1}TradeDeclaration"
_ARRAYS = {"Lines": "Line"}
_KINDS: dict[str, Kind] = {"import": "import", "export": "export", "re-export": "re-export"}


def from_xml(root: etree._Element) -> TradeSummary:
    return from_json(xml_as_json(root, arrays=_ARRAYS))


def from_json(document: Mapping[str, Any]) -> TradeSummary:
    kind = _KINDS.get(text(document, "declarationKind") or "", "unknown")
    lines = [_line(item) for item in items(document, "lines")]
    amount = decimal_text(document.get("totalValue"))
    currency = text(document, "currency")
    trader = obj(document, "importerExporter")
    return {
        "kind": kind,
        "trader": {"name": text(trader, "name"), "id": text(trader, "businessRegistrationNumber")},
        "origin_countries": distinct(line["origin_country"] for line in lines),
        "destination_country": country(document, "countryOfDestination")
        or ("HK" if kind == "import" else None),
        "total_value": {"amount": amount, "currency": currency} if amount and currency else None,
        "lines": lines,
        "transport": {
            "mode": transport_mode(text(document, "transportMode")),
            "vehicle": text(document, "transportIdentifier"),
            "control_point": text(document, "portOfDischarge" if kind == "import" else "portOfLoading"),
            "crossing_time": text(document, "importExportDate"),
        },
    }


def _line(item: Mapping[str, Any]) -> Line:
    return {
        "hs_code": text(item, "hsCode"),
        "description": text(item, "description"),
        "quantity": decimal_text(item.get("quantity")),
        "unit": text(item, "unit"),
        "value": decimal_text(item.get("value")),
        "origin_country": country(item, "countryOfOrigin"),
        "gross_weight_kg": decimal_text(item.get("grossWeightKg")),
        "licence_number": text(item, "licenceNumber"),
    }
