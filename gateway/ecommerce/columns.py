"""The columns of an ``hk.ecom.lvc`` row: CSV header names, JSON keys and canonical document keys.

One row is one line item; the rows sharing a ``consignment_ref`` form one consignment. Columns are
of two kinds:

- consignment-level (`CONSIGNMENT_COLUMNS`): said once per consignment, repeated on each of its rows,
  and required to agree across them (who sells, who buys, where it goes, how, which reference and in
  which currency);
- item-level (`ITEM_COLUMNS`): one value per line item.

``currency`` is consignment-level on purpose: the low-value threshold applies to the consignment's
total, and one currency per consignment makes that total a plain sum (a parcel is paid in one
currency at checkout). A trader with a mixed-currency order converts before declaring.
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "COLUMN_SET",
    "CONSIGNMENT_COLUMNS",
    "DECIMAL_COLUMNS",
    "ITEM_COLUMNS",
    "TRANSPORT_MODES",
]

COLUMNS: tuple[str, ...] = (
    "consignment_ref",
    "platform",
    "order_ref",
    "tracking_no",
    "seller_name",
    "seller_country",
    "buyer_name",
    "buyer_id_ref",
    "consignee_address",
    "destination_country",
    "description",
    "hs_code",
    "quantity",
    "unit",
    "value",
    "currency",
    "gross_weight_kg",
    "origin_country",
    "transport_mode",
)
"""Every column, in the order of the CSV header the gateway writes and documents."""

CONSIGNMENT_COLUMNS: tuple[str, ...] = (
    "consignment_ref",
    "platform",
    "order_ref",
    "tracking_no",
    "seller_name",
    "seller_country",
    "buyer_name",
    "buyer_id_ref",
    "consignee_address",
    "destination_country",
    "transport_mode",
    "currency",
)
"""Columns that must agree across the rows of one consignment (top-level keys of the document)."""

ITEM_COLUMNS: tuple[str, ...] = (
    "description",
    "hs_code",
    "quantity",
    "unit",
    "value",
    "gross_weight_kg",
    "origin_country",
)
"""Columns of one line item (keys of each entry of the document's ``items``)."""

DECIMAL_COLUMNS: tuple[str, ...] = ("quantity", "value", "gross_weight_kg")
"""Item columns holding decimal numbers (JSON numbers or strings in, strings in the document)."""

COLUMN_SET: frozenset[str] = frozenset(COLUMNS)

TRANSPORT_MODES: frozenset[str] = frozenset({"road", "air", "sea", "post"})
