"""Business rules of the project's document types, keyed by the ``rules`` entry of a schema pack.

A rule set is a callable ``(document, context) -> list[Problem]``: `document` is the root `Node` of
a schema-valid document in either form (``XmlNode.of(root)`` or ``JsonNode.of(parsed)`` from
`gateway.documents.view`), `context` carries what rules may know besides it (today's date in Hong
Kong). It returns every problem found, empty when the document passes; it never raises on odd
input. Each module's docstring lists its stable problem codes.

    problems = RULES[pack.rules](XmlNode.of(root), RuleContext(today=hong_kong_today()))

Code lists load lazily on first use and are shared by every rule set (`CodeLists.shared()`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gateway.documents.codelists import CodeLists
from gateway.documents.rules._common import RuleContext, RuleSet, hong_kong_today
from gateway.documents.rules.aci_road import AciRoadRules
from gateway.documents.rules.tdec import TdecRules
from gateway.ecommerce.rules import LvcRules

__all__ = ["RULES", "RuleContext", "RuleSet", "hong_kong_today"]

RULES: Mapping[str, RuleSet] = MappingProxyType(
    {
        "hk.tdec": TdecRules(CodeLists.shared()),
        "hk.aci.road": AciRoadRules(CodeLists.shared()),
        "hk.ecom.lvc": LvcRules(),  # the e-commerce fast path's checks, default LvcPolicy
    }
)
