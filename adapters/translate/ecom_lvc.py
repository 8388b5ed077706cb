"""hk.ecom.lvc (low-value cross-boundary e-commerce consignment) -> TradeSummary.

The consignment is JSON only (flat snake_case keys; numbers as JSON numbers or decimal strings, both
read). One consignment is one parcel sold on a platform:

- ``kind``: ``import`` when ``destination_country`` is Hong Kong; ``export`` when the seller is in Hong
  Kong; otherwise ``re-export`` (a parcel consolidated or transhipped through Hong Kong between two
  other places);
- ``trader``: the Hong Kong party, as for a trade declaration: for an import the buyer (the importer of
  record of a parcel sent to a person): ``buyer_name`` and ``buyer_id_ref``; otherwise the seller
  (``seller_name``; no id: the fast path carries none for sellers). ``buyer_id_ref`` is personal data:
  `adapters.translate.disclosure` decides which agencies see it;
- ``origin_countries``: the items' distinct ``origin_country``; ``destination_country`` as given;
- ``lines``: one per ``items`` entry (``hs_code``, ``description``, ``quantity``, ``unit``, ``value``,
  ``gross_weight_kg``, ``origin_country``; no licence on the fast path);
- ``total_value``: the sum of the item values in ``currency`` (null if any item lacks a value);
- ``transport``: ``transport_mode`` (road, air, sea, post); a parcel's ``tracking_no`` is not a vehicle,
  so vehicle, control point and crossing time stay null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.translate.fields import country, items, text
from adapters.translate.summary import (
    Kind,
    Line,
    Trader,
    TradeSummary,
    decimal_text,
    distinct,
    sum_amounts,
    transport_mode,
)

__all__ = ["DOCUMENT_TYPE", "from_json"]

DOCUMENT_TYPE = "hk.ecom.lvc"
_HONG_KONG = "HK"


def from_json(document: Mapping[str, Any]) -> TradeSummary:
    lines = [_line(item) for item in items(document, "items")]
    amount = sum_amounts(line["value"] for line in lines)
    currency = text(document, "currency")
    kind = _kind(document)
    return {
        "kind": kind,
        "trader": _trader(document, kind),
        "origin_countries": distinct(line["origin_country"] for line in lines),
        "destination_country": country(document, "destination_country"),
        "total_value": {"amount": amount, "currency": currency} if amount and currency else None,
        "lines": lines,
        "transport": {
            "mode": transport_mode(text(document, "transport_mode")),
            "vehicle": None,
            "control_point": None,
            "crossing_time": None,
        },
    }


def _kind(document: Mapping[str, Any]) -> Kind:
    if country(document, "destination_country") == _HONG_KONG:
        return "import"
    if country(document, "seller_country") == _HONG_KONG:
        return "export"
    return "re-export"


def _trader(document: Mapping[str, Any], kind: Kind) -> Trader:
    if kind == "import":
        return {"name": text(document, "buyer_name"), "id": text(document, "buyer_id_ref")}
    return {"name": text(document, "seller_name"), "id": None}


def _line(item: Mapping[str, Any]) -> Line:
    return {
        "hs_code": text(item, "hs_code"),
        "description": text(item, "description"),
        "quantity": decimal_text(item.get("quantity")),
        "unit": text(item, "unit"),
        "value": decimal_text(item.get("value")),
        "origin_country": country(item, "origin_country"),
        "gross_weight_kg": decimal_text(item.get("gross_weight_kg")),
        "licence_number": None,
    }
