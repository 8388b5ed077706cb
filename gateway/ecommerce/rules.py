"""The ``hk.ecom.lvc`` business-rule set, for a consignment document lodged one at a time.

A canonical consignment document (`gateway.ecommerce.document`) may also come through
``POST /v1/declarations`` or a JSON Lines batch. After its JSON Schema passes, `LvcRules` checks it
exactly as the fast path checks CSV or JSON rows, by calling the same code rather than repeating it:
each item plus the consignment-level fields becomes one row for `parse_row`, the rows go through a
`ConsignmentAssembler`, and the problems' paths are moved from ``/<row>/<column>`` to the document's
(``/<column>`` for a consignment-level column, ``/items/<i>/<column>`` for an item's,
``/items`` for the threshold, ``/items/<i>`` for the item over the limit of items). A problem with a
consignment-level column is reported once, not once per item. Codes are those of
`gateway.ecommerce.rows` and `gateway.ecommerce.consignments`.

Registered in `gateway.documents.rules.RULES` with the default `LvcPolicy`; a gateway configured
with another policy builds ``LvcRules(policy)`` and hands it to `DocumentValidator(rules=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.documents.problems import Problem
from gateway.documents.view import Node
from gateway.ecommerce.columns import CONSIGNMENT_COLUMNS, ITEM_COLUMNS
from gateway.ecommerce.consignments import ConsignmentAssembler, ConsignmentResult
from gateway.ecommerce.policy import LvcPolicy
from gateway.ecommerce.rows import parse_row

if TYPE_CHECKING:  # a runtime import would be circular: gateway.documents.rules registers this module
    from gateway.documents.rules._common import RuleContext

__all__ = ["LvcRules"]

_CONSIGNMENT_COLUMN_SET = frozenset(CONSIGNMENT_COLUMNS)


@dataclass(frozen=True, slots=True)
class LvcRules:
    """The ``hk.ecom.lvc`` rule set: ``LvcRules()(JsonNode.of(document), context)``."""

    policy: LvcPolicy = field(default_factory=LvcPolicy)

    def __call__(self, document: Node, context: RuleContext) -> list[Problem]:
        header = {column: _text(document, column) for column in CONSIGNMENT_COLUMNS}
        assembler = ConsignmentAssembler(self.policy)
        results: list[ConsignmentResult | None] = []
        for index, item in enumerate(document.children("items")):
            row = {**header, **{column: _text(item, column) for column in ITEM_COLUMNS}}
            results.append(assembler.add(index, parse_row(row, index)))
        results.append(assembler.finish())
        moved = (_relocate(problem) for result in results if result for problem in result.problems)
        return list(dict.fromkeys(moved))


def _text(node: Node, name: str) -> str | None:
    child = node.child(name)
    return None if child is None else child.text()


def _relocate(problem: Problem) -> Problem:
    """``/<row>/<column>`` (or ``/<row>``) of the row form -> the path in the document."""
    _, index, column = (*problem.path.split("/", 2), "")[:3]
    if column in _CONSIGNMENT_COLUMN_SET:
        path = f"/{column}"
    elif column:
        path = f"/items/{index}/{column}"
    elif problem.code == "lvc.threshold":
        path = "/items"
    else:
        path = f"/items/{index}"
    return Problem(problem.code, path, problem.message)
