"""XML documents: a hardened parser and compiled XSD validation.

Input is parsed with no DTD loading, no entity resolution and no network; any DOCTYPE is refused
before parsing (entity bombs and external entities need one), `huge_tree` stays off, and XInclude is
never processed. Schemas are compiled once per pack, from local files only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from lxml import etree

from gateway.documents.problems import Problem
from gateway.documents.view import xml_path
from gateway.errors import PackError, UnsafeDocument

__all__ = ["CompiledXsd", "parse_xml"]

_DOCTYPE = b"<!DOCTYPE"
_ENTITY = b"<!ENTITY"


def _input_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(body: bytes, parser: etree.XMLParser | None = None) -> etree._Element:
    """Parse untrusted XML bytes, refusing DOCTYPEs, entities and malformed input with `UnsafeDocument`."""
    if _DOCTYPE in body or _ENTITY in body:
        raise UnsafeDocument("DOCTYPE and entity declarations are not allowed")
    try:
        root = etree.fromstring(body, parser or _input_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeDocument(f"malformed XML: {exc.msg}", path=f"line {exc.lineno}") from exc
    except ValueError as exc:  # e.g. unicode strings with encoding declarations
        raise UnsafeDocument(f"malformed XML: {exc}") from exc
    if root is None:
        raise UnsafeDocument("empty XML document")
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeDocument("DOCTYPE declarations are not allowed")
    return root


class CompiledXsd:
    """An XSD compiled once; `problems(root)` lists every schema error with its path."""

    def __init__(self, schema_path: Path) -> None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        try:
            self._schema = etree.XMLSchema(etree.parse(str(schema_path), parser))
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
            raise PackError(f"{schema_path}: cannot compile XSD: {exc}") from exc
        self._parser = _input_parser()

    @property
    def parser(self) -> etree.XMLParser:
        return self._parser

    def problems(self, root: etree._Element) -> list[Problem]:
        if self._schema.validate(root):
            return []
        return [
            Problem(code="xsd.invalid", path=_locate(root, entry.path), message=entry.message)
            for entry in cast(Iterable[Any], self._schema.error_log)
        ]


def _locate(root: etree._Element, libxml_path: str | None) -> str:
    """Turn libxml2's error path (document prefixes, `*` for unprefixed names) into a local-name XPath."""
    if not libxml_path:
        return "/"
    namespaces = {prefix: uri for prefix, uri in root.nsmap.items() if prefix}
    try:
        found = root.getroottree().xpath(libxml_path, namespaces=namespaces)
    except etree.XPathError:
        return libxml_path
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return xml_path(found[0])
    return libxml_path
