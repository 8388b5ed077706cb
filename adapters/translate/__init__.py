"""Routed document -> TradeSummary, the shape every agency back-end takes.

`translate(document, content_type=..., document_type=...)` reads the record value (XML or JSON, as the
``content-type`` header says; sniffed from the first byte when it says neither), checks that the
document is of the type the ``tsw-document-type`` header names (the XML root QName or the JSON
``documentType``; when the header is absent the document's own type is used), and translates it:

- ``hk.tdec``: XML and JSON (`adapters.translate.tdec`);
- ``hk.aci.road``: XML and JSON, kind ``advance-cargo`` (`adapters.translate.aci_road`);
- ``wco.dec-dms``: XML (`adapters.translate.wco`);
- ``hk.ecom.lvc``: JSON, one low-value e-commerce consignment (`adapters.translate.ecom_lvc`), routed
  alone or, parsed already, out of a bulk event (`translate_document`).

With ``agency`` given, the summary is what that agency may see (`adapters.translate.disclosure`: an
e-commerce buyer's identity reference goes to customs only).

Anything that cannot be translated (malformed, a DOCTYPE, an unknown or mismatched type) raises
`PoisonEvent` with the reason; it goes to the dead-letter topic, never to the agency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import InvalidOperation
from typing import Any, Literal

from lxml import etree

from adapters.errors import PoisonEvent
from adapters.translate import aci_road, ecom_lvc, tdec, wco
from adapters.translate.disclosure import disclose
from adapters.translate.parsing import parse_json, parse_xml
from adapters.translate.summary import TradeSummary, empty_summary

__all__ = ["DOCUMENT_TYPES", "TradeSummary", "empty_summary", "translate", "translate_document"]

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
    ecom_lvc.DOCUMENT_TYPE: ecom_lvc.from_json,
}
#: Every document type an adapter can translate.
DOCUMENT_TYPES: frozenset[str] = frozenset({*(kind for kind, _ in _XML.values()), *_JSON})


def translate(
    document: bytes, *, content_type: str | None, document_type: str | None, agency: str | None = None
) -> TradeSummary:
    """The TradeSummary of a routed document; `PoisonEvent` when it cannot be translated."""
    if document_type is not None and document_type not in DOCUMENT_TYPES:
        raise PoisonEvent(f"no translation for document type {document_type!r}")
    try:
        if _format(document, content_type) == "xml":
            kind, summary = _from_xml(document, document_type)
        else:
            kind, summary = _from_json(parse_json(document), document_type)
    except (TypeError, ValueError, KeyError, AttributeError, InvalidOperation) as exc:
        raise PoisonEvent(f"cannot translate the {document_type or 'document'}: {exc!r}") from exc
    return disclose(summary, document_type=kind, agency=agency)


def translate_document(
    document: Mapping[str, Any], *, document_type: str, agency: str | None = None
) -> TradeSummary:
    """The TradeSummary of a JSON document parsed already (one consignment of a bulk event), whose
    ``documentType`` must be `document_type`; `PoisonEvent` when it cannot be translated."""
    try:
        kind, summary = _from_json(document, document_type)
    except (TypeError, ValueError, KeyError, AttributeError, InvalidOperation) as exc:
        raise PoisonEvent(f"cannot translate the {document_type}: {exc!r}") from exc
    return disclose(summary, document_type=kind, agency=agency)


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


def _from_xml(document: bytes, document_type: str | None) -> tuple[str, TradeSummary]:
    root = parse_xml(document)
    found = _XML.get(str(root.tag))
    if found is None:
        raise PoisonEvent(f"no translation for XML root {root.tag!r}")
    kind, reader = found
    _check_type(kind, document_type)
    return kind, reader(root)


def _from_json(parsed: Mapping[str, Any], document_type: str | None) -> tuple[str, TradeSummary]:
    kind = parsed.get("documentType")
    reader = _JSON.get(kind) if isinstance(kind, str) else None
    if reader is None or not isinstance(kind, str):
        raise PoisonEvent(f"no translation for JSON documentType {kind!r}")
    _check_type(kind, document_type)
    return kind, reader(parsed)


def _check_type(found: str, declared: str | None) -> None:
    if declared is not None and found != declared:
        raise PoisonEvent(f"document is a {found}, but the event says {declared}")
