"""Routed document -> TradeSummary, the shape every agency back-end takes.

`translate(document, content_type=..., document_type=...)` reads the record value (XML or JSON, as the
``content-type`` header says; sniffed from the first byte when it says neither), checks that the
document is of the type the ``tsw-document-type`` header names (the XML root QName or the JSON
``documentType``; when the header is absent the document's own type is used), and translates it:

- ``hk.tdec``: XML and JSON (`adapters.translate.tdec`);
- ``hk.aci.road``: XML and JSON, kind ``advance-cargo`` (`adapters.translate.aci_road`);
- ``wco.dec-dms``: XML (`adapters.translate.wco`).

Anything that cannot be translated (malformed, a DOCTYPE, an unknown or mismatched type) raises
`PoisonEvent` with the reason; it goes to the dead-letter topic, never to the agency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import InvalidOperation
from typing import Any, Literal

from lxml import etree

from adapters.errors import PoisonEvent
from adapters.translate import aci_road, tdec, wco
from adapters.translate.parsing import parse_json, parse_xml
from adapters.translate.summary import TradeSummary, empty_summary

__all__ = ["DOCUMENT_TYPES", "TradeSummary", "empty_summary", "translate"]

_XmlReader = Callable[[etree._Element], TradeSummary]
_JsonReader = Callable[[Mapping[str, Any]], TradeSummary]

_XML: dict[str, tuple[str, _XmlReader]] = {
    tdec.XML_ROOT: (tdec.DOCUMENT_TYPE, tdec.from_xml),
    aci_road.XML_ROOT: (aci_road.DOCUMENT_TYPE, aci_road.from_xml),
    wco.XML_ROOT: (wco.DOCUMENT_TYPE, wco.from_xml),
}
_JSON: dict[str, _JsonReader] = {
    tdec.DOCUMENT_TYPE: tdec.from_json,
    aci_road.DOCUMENT_TYPE: aci_road.from_json,
}
#: Every document type an adapter can translate.
DOCUMENT_TYPES: frozenset[str] = frozenset({*(kind for kind, _ in _XML.values()), *_JSON})


def translate(document: bytes, *, content_type: str | None, document_type: str | None) -> TradeSummary:
    """The TradeSummary of a routed document; `PoisonEvent` when it cannot be translated."""
    if document_type is not None and document_type not in DOCUMENT_TYPES:
        raise PoisonEvent(f"no translation for document type {document_type!r}")
    try:
        if _format(document, content_type) == "xml":
            return _from_xml(document, document_type)
        return _from_json(document, document_type)
    except (TypeError, ValueError, KeyError, AttributeError, InvalidOperation) as exc:
        raise PoisonEvent(f"cannot translate the {document_type or 'document'}: {exc!r}") from exc


def _format(document: bytes, content_type: str | None) -> Literal["xml", "json"]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return "xml"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    first = document.lstrip()[:1]
    if first == b"<":
        return "xml"
    if first == b"{":
        return "json"
    raise PoisonEvent(f"document is neither XML nor JSON (content-type {content_type!r})")


def _from_xml(document: bytes, document_type: str | None) -> TradeSummary:
    root = parse_xml(document)
    found = _XML.get(str(root.tag))
    if found is None:
        raise PoisonEvent(f"no translation for XML root {root.tag!r}")
    kind, reader = found
    _check_type(kind, document_type)
    return reader(root)


def _from_json(document: bytes, document_type: str | None) -> TradeSummary:
    parsed = parse_json(document)
    kind = parsed.get("documentType")
    reader = _JSON.get(kind) if isinstance(kind, str) else None
    if reader is None or not isinstance(kind, str):
        raise PoisonEvent(f"no translation for JSON documentType {kind!r}")
    _check_type(kind, document_type)
    return reader(parsed)


def _check_type(found: str, declared: str | None) -> None:
    if declared is not None and found != declared:
        raise PoisonEvent(f"document is a {found}, but the event says {declared}")
