"""The low-value e-commerce consignment (``hk.ecom.lvc``): pure code, no I/O.

One CSV row (or JSON array entry) per line item; the adjacent rows sharing a ``consignment_ref`` form
one consignment. The pieces, each in a module of its own:

- `columns`: the column names, consignment-level and item-level;
- `rows`: `parse_row(row, position)` -> a typed `Row` or `RowProblems` (every problem of the row);
- `consignments`: `ConsignmentAssembler` / `assemble` -> one `ConsignmentResult` per consignment,
  streaming, with consistency and the low-value threshold checked (`policy.LvcPolicy`);
- `document`: the canonical consignment document and its deterministic bytes (`document_bytes`);
- `rules`: the same checks as a business-rule set for the ``hk.ecom.lvc`` schema pack;
- `generate`: realistic test files (``tsw generate ecommerce``).

    results = assemble((line, parse_row(row, line)) for line, row in numbered_csv_rows)
"""

from __future__ import annotations

from gateway.ecommerce.columns import COLUMNS, CONSIGNMENT_COLUMNS, ITEM_COLUMNS
from gateway.ecommerce.consignments import Consignment, ConsignmentAssembler, ConsignmentResult, assemble
from gateway.ecommerce.document import DOCUMENT_TYPE, consignment_document, document_bytes
from gateway.ecommerce.policy import LvcPolicy
from gateway.ecommerce.rows import Row, RowProblems, parse_row

__all__ = [
    "COLUMNS",
    "CONSIGNMENT_COLUMNS",
    "DOCUMENT_TYPE",
    "ITEM_COLUMNS",
    "Consignment",
    "ConsignmentAssembler",
    "ConsignmentResult",
    "LvcPolicy",
    "Row",
    "RowProblems",
    "assemble",
    "consignment_document",
    "document_bytes",
    "parse_row",
]
