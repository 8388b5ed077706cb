"""A read-only, format-neutral view over a parsed document, so one rule set serves XML and JSON.

Business rules walk a document through `Node`; `XmlNode` and `JsonNode` implement it over an lxml
element tree and a parsed JSON object. Names are always given in camelCase, the JSON spelling; the
XML form of a pack uses the same names in PascalCase (``declarantReference`` <-> ``DeclarantReference``).

Conventions (they are the pack authoring rules for every document type the rules read):

- ``child(name)``: the field ``name`` of an object / the element ``Name`` under an element, whatever
  its namespace. JSON ``null`` counts as absent. With several same-named XML elements (only in
  schema-invalid input) the first is returned.
- ``children(name)``: a repeated field. In JSON it is an array ``name`` (``"lines": [...]``); in XML it
  is a wrapper element ``Name`` whose element children are the items (``<Lines><Line/>...</Lines>``).
  The item element's name is not guessed from the plural: every element child of the wrapper is an
  item (the schema fixes which name it has; comments and processing instructions are skipped).
  A missing field, or one that is not an array, gives ``[]``.
- ``text()``: a scalar as text; ``None`` when the node is an object, an array, JSON ``null`` or an XML
  element with element children. XML text is whitespace-stripped; JSON numbers are rendered without
  float noise (``repr`` of a float is the shortest string that reads back as the same float, so
  ``182500.5`` stays ``"182500.5"``), booleans as ``true``/``false``.
- ``path``: where the node is, for error reporting. XML: an absolute XPath of local names with
  1-based positional predicates only where same-named siblings exist
  (``/TradeDeclaration/Lines/Line[2]/Value``). JSON: an RFC 6901 pointer (``/lines/1/value``; the
  document itself is ``""``). ``path_of(name)`` is the path the child ``name`` has or would have.

Paths are built only when asked for (a problem is being reported): walking a valid document costs a
few dictionary lookups per field.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol

from lxml import etree

__all__ = ["JsonNode", "Node", "XmlNode", "xml_path"]


class Node(Protocol):
    """One place in a document: an object/element, an array item or a scalar field."""

    @property
    def path(self) -> str: ...

    def child(self, name: str) -> Node | None: ...

    def children(self, name: str) -> list[Node]: ...

    def text(self) -> str | None: ...

    def path_of(self, name: str) -> str: ...


@lru_cache(maxsize=1024)  # names come from rule code, not from documents: a small, fixed set
def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def xml_path(element: etree._Element) -> str:
    """The path of any element of a parsed document, in the `XmlNode.path` convention."""
    steps: list[str] = []
    current: etree._Element | None = element
    while current is not None:
        steps.append(_xml_step(current))
        current = current.getparent()
    return "/" + "/".join(reversed(steps))


def _xml_step(element: etree._Element) -> str:
    local = _local(str(element.tag))
    parent = element.getparent()
    if parent is None:
        return local
    same = [other for other in parent.iterchildren(tag=etree.Element) if _local(str(other.tag)) == local]
    if len(same) < 2:
        return local
    position = next((i for i, other in enumerate(same, 1) if other is element), 1)
    return f"{local}[{position}]"


class XmlNode:
    """`Node` over an lxml element; namespace-agnostic (elements are matched by local name)."""

    __slots__ = ("_element", "_index", "_parent", "_step")

    def __init__(self, element: etree._Element, parent: XmlNode | None, step: str) -> None:
        """Internal: use `XmlNode.of`. Positional parameters: this runs once per field read."""
        self._element = element
        self._parent = parent
        self._step = step
        self._index: dict[str, list[etree._Element]] | None = None

    @classmethod
    def of(cls, root: etree._Element) -> XmlNode:
        """The view of a parsed document (or of any element, which then acts as the root)."""
        return cls(root, None, _local(str(root.tag)))

    @property
    def path(self) -> str:
        prefix = "" if self._parent is None else self._parent.path
        return f"{prefix}/{self._step}"

    def path_of(self, name: str) -> str:
        return f"{self.path}/{_pascal(name)}"

    def child(self, name: str) -> XmlNode | None:
        local = _pascal(name)
        found = self._children_index().get(local)
        if not found:
            return None
        step = local if len(found) == 1 else f"{local}[1]"
        return XmlNode(found[0], self, step)

    def children(self, name: str) -> list[Node]:
        wrapper = self.child(name)
        return [] if wrapper is None else wrapper._items()

    def text(self) -> str | None:
        element = self._element
        if not len(element):
            return (element.text or "").strip()
        if self._children_index():
            return None
        return "".join(str(text) for text in element.itertext()).strip()  # comments/PIs are skipped

    def _items(self) -> list[Node]:
        index = self._children_index()
        seen: dict[str, int] = {}
        items: list[Node] = []
        for element in self._element.iterchildren(tag=etree.Element):
            local = _local(str(element.tag))
            position = seen[local] = seen.get(local, 0) + 1
            step = local if len(index[local]) == 1 else f"{local}[{position}]"
            items.append(XmlNode(element, self, step))
        return items

    def _children_index(self) -> dict[str, list[etree._Element]]:
        if self._index is None:
            index: dict[str, list[etree._Element]] = {}
            for element in self._element.iterchildren(tag=etree.Element):
                index.setdefault(_local(str(element.tag)), []).append(element)
            self._index = index
        return self._index


def _escape(token: str) -> str:
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def _scalar_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return _int_text(value)
    return None


def _int_text(value: int) -> str | None:
    try:
        return str(value)
    except ValueError:  # more digits than sys.get_int_max_str_digits(): not a usable number anyway
        return None


class JsonNode:
    """`Node` over parsed JSON (dicts, lists, str, int, float, bool, None; e.g. from orjson.loads)."""

    __slots__ = ("_parent", "_token", "_value")

    def __init__(self, value: Any, parent: JsonNode | None, token: str) -> None:
        """Internal: use `JsonNode.of`."""
        self._value = value
        self._parent = parent
        self._token = token

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> JsonNode:
        """The view of a parsed JSON document; its path is the empty pointer ``""``."""
        return cls(document, None, "")

    @property
    def path(self) -> str:
        if self._parent is None:
            return ""
        return f"{self._parent.path}/{_escape(self._token)}"

    def path_of(self, name: str) -> str:
        return f"{self.path}/{_escape(name)}"

    def child(self, name: str) -> JsonNode | None:
        value = self._value
        if type(value) is not dict and not isinstance(value, Mapping):  # dict first: skips the ABC check
            return None
        found = value.get(name)
        return None if found is None else JsonNode(found, self, name)

    def children(self, name: str) -> list[Node]:
        array = self.child(name)
        if array is None or not isinstance(array._value, list):
            return []
        return [JsonNode(item, array, str(i)) for i, item in enumerate(array._value)]

    def text(self) -> str | None:
        return _scalar_text(self._value)
