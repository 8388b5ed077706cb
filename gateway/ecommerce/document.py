"""The canonical ``hk.ecom.lvc`` document: what is stored, signed and routed for one consignment.

    {"documentType": "hk.ecom.lvc", <the consignment-level columns>,
     "items": [{<the item-level columns>}, ...]}

Keys are the column names (`gateway.ecommerce.columns`), items in row order. Decisions:

- Decimals (``quantity``, ``value``, ``gross_weight_kg``) are JSON *strings* holding the shortest
  plain decimal of the value (``"59.9"``, ``"2"``, ``"0.45"``: no exponent, no trailing zeros), so no
  binary floating point ever touches a declared value and equal values give equal bytes.
- `document_bytes` serialises with orjson, keys sorted, no whitespace: the same consignment always
  gives the same bytes (they are what the receipt's digest and the routed event's signature cover).
- ``buyer_id_ref`` is part of the document (the agencies need it); it is kept out of logs by never
  logging documents, and out of reprs by `Row`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from gateway.ecommerce.consignments import Consignment
from gateway.ecommerce.rows import Row

__all__ = ["DOCUMENT_TYPE", "consignment_document", "decimal_text", "document_bytes"]

DOCUMENT_TYPE = "hk.ecom.lvc"


def consignment_document(consignment: Consignment) -> dict[str, Any]:
    """The canonical document of an accepted consignment, as a dict."""
    first = consignment.rows[0]
    return {
        "documentType": DOCUMENT_TYPE,
        "consignment_ref": first.consignment_ref,
        "platform": first.platform,
        "order_ref": first.order_ref,
        "tracking_no": first.tracking_no,
        "seller_name": first.seller_name,
        "seller_country": first.seller_country,
        "buyer_name": first.buyer_name,
        "buyer_id_ref": first.buyer_id_ref,
        "consignee_address": first.consignee_address,
        "destination_country": first.destination_country,
        "transport_mode": first.transport_mode,
        "currency": first.currency,
        "items": [_item(row) for row in consignment.rows],
    }


def document_bytes(consignment: Consignment) -> bytes:
    """The canonical document's exact bytes: orjson, sorted keys, compact."""
    return orjson.dumps(consignment_document(consignment), option=orjson.OPT_SORT_KEYS)


def decimal_text(number: Decimal) -> str:
    """The shortest plain decimal text of a finite number: ``Decimal("59.90")`` -> ``"59.9"``."""
    text = str(number)
    if "E" in text or ("." in text and text[-1] == "0"):
        text = format(number.normalize(), "f")
    return text


def _item(row: Row) -> dict[str, str]:
    return {
        "description": row.description,
        "hs_code": row.hs_code,
        "quantity": decimal_text(row.quantity),
        "unit": row.unit,
        "value": decimal_text(row.value),
        "gross_weight_kg": decimal_text(row.gross_weight_kg),
        "origin_country": row.origin_country,
    }
