"""hk.aci.road (ROCARS road cargo advance cargo information) -> TradeSummary, kind ``advance-cargo``.

- ``trader``: the shipper (ROCARS: the shipper or its agent lodges the ACI); the form has no trader
  id for it, so ``id`` is null;
- ``destination_country``: the consignee's country; ``origin_countries`` stays empty and each line's
  ``origin_country`` null: an ACI does not declare the goods' origin;
- ``lines``: one per goods item, ``quantity`` = package count in ``unit`` = package type code;
- ``total_value``: the sum of the item values in ``currency`` (null if any item lacks a value);
- ``transport``: mode ``road``, the vehicle's registration mark, the control point and the expected
  crossing time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from adapters.translate.fields import country, items, obj, text
from adapters.translate.parsing import xml_as_json
from adapters.translate.summary import Line, TradeSummary, decimal_text, sum_amounts

__all__ = ["DOCUMENT_TYPE", "XML_ROOT", "from_json", "from_xml"]

DOCUMENT_TYPE = "hk.aci.road"
XML_ROOT = "{urn:hk:tsw:aci-road:1}RoadCargoInformation"
_ARRAYS = {"GoodsItems": "GoodsItem"}


def from_xml(root: etree._Element) -> TradeSummary:
    return from_json(xml_as_json(root, arrays=_ARRAYS))


def from_json(document: Mapping[str, Any]) -> TradeSummary:
    lines = [_line(item) for item in items(document, "goodsItems")]
    amount = sum_amounts(line["value"] for line in lines)
    currency = text(document, "currency")
    shipper = obj(document, "shipper")
    return {
        "kind": "advance-cargo",
        "trader": {"name": text(shipper, "name"), "id": None},
        "origin_countries": [],
        "destination_country": country(obj(document, "consignee"), "country"),
        "total_value": {"amount": amount, "currency": currency} if amount and currency else None,
        "lines": lines,
        "transport": {
            "mode": "road",
            "vehicle": text(obj(document, "vehicle"), "registrationMark"),
            "control_point": text(document, "controlPoint"),
            "crossing_time": text(document, "expectedCrossingTime"),
        },
    }


def _line(item: Mapping[str, Any]) -> Line:
    return {
        "hs_code": text(item, "hsCode"),
        "description": text(item, "description"),
        "quantity": decimal_text(item.get("packageCount")),
        "unit": text(item, "packageType"),
        "value": decimal_text(item.get("value")),
        "origin_country": None,
        "gross_weight_kg": decimal_text(item.get("grossWeightKg")),
        "licence_number": None,
    }
