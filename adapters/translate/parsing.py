"""Reading routed documents safely: a hardened lxml parser, a Decimal-preserving JSON reader, and the
XML-to-JSON view that lets one translator serve both forms of a pack.

The packs' XML and JSON forms carry the same data in the same structure (element local names in
PascalCase, JSON keys the same names in camelCase, a wrapper element of repeated items a JSON array),
so `xml_as_json` turns the XML form into the JSON form's shape and the translators only read dicts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from adapters.errors import PoisonEvent

__all__ = ["local_name", "parse_json", "parse_xml", "xml_as_json"]


def _parser() -> etree.XMLParser:
    # No entities, no DTD, no network, no huge trees (DESIGN.md, "Secure XML parsing").
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def parse_xml(raw: bytes) -> etree._Element:
    """The root element; `PoisonEvent` for malformed XML or any DOCTYPE or entity declaration."""
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise PoisonEvent("document has a DOCTYPE or entity declaration, which is refused")
    try:
        root = etree.fromstring(raw, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise PoisonEvent(f"document is not well-formed XML: {exc}") from exc
    if root is None:
        raise PoisonEvent("document is empty")
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise PoisonEvent("document has a DOCTYPE, which is refused")
    return root


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object with every non-integer number as `Decimal`; `PoisonEvent` otherwise."""
    try:
        document = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PoisonEvent(f"document is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise PoisonEvent("document is not a JSON object")
    return document


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def xml_as_json(element: etree._Element, *, arrays: Mapping[str, str]) -> dict[str, Any]:
    """The JSON-form view of an XML element: child local names in camelCase; a child whose local name
    is a key of `arrays` becomes a list of its `arrays[name]` children; leaves become their text."""
    result: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):  # processing instructions
            continue
        name = local_name(child)
        if name in arrays:
            item = arrays[name]
            result[_camel(name)] = [
                _value(grandchild, arrays=arrays)
                for grandchild in child
                if isinstance(grandchild.tag, str) and local_name(grandchild) == item
            ]
        else:
            result[_camel(name)] = _value(child, arrays=arrays)
    return result


def _value(element: etree._Element, *, arrays: Mapping[str, str]) -> Any:
    if any(isinstance(child.tag, str) for child in element):
        return xml_as_json(element, arrays=arrays)
    return (element.text or "").strip() or None
