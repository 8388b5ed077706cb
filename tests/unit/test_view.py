"""The format-neutral document view: same names, same answers, each form's own paths."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from gateway.documents.view import JsonNode, Node, XmlNode, xml_path

_XML = b"""<?xml version="1.0"?>
<TradeDeclaration xmlns="urn:hk:tsw:tdec:1">
  <DeclarantReference> REF-1 </DeclarantReference>
  <Declarant>
    <Name>Pacific Link</Name>
    <BusinessRegistrationNumber>61528834</BusinessRegistrationNumber>
  </Declarant>
  <Empty/>
  <Commented>12<!-- a comment -->3</Commented>
  <Lines>
    <Line><Value>10.50</Value><HsCode>85171300</HsCode></Line>
    <!-- comments between items are not items -->
    <Line><Value>20</Value></Line>
  </Lines>
  <Single><Line><Value>1</Value></Line></Single>
</TradeDeclaration>
"""

_JSON: dict[str, Any] = {
    "declarantReference": "REF-1",
    "declarant": {"name": "Pacific Link", "businessRegistrationNumber": "61528834"},
    "nothing": None,
    "lines": [{"value": 10.5, "hsCode": "85171300"}, {"value": 20}],
    "flag": True,
    "big": 10**20,
    "tiny": 1e-7,
    "a/b~c": {"x": "y"},
    "notArray": {"value": 1},
}


def _xml() -> XmlNode:
    return XmlNode.of(etree.fromstring(_XML))


def _json() -> JsonNode:
    return JsonNode.of(_JSON)


def _text(node: Node | None) -> str | None:
    assert node is not None
    return node.text()


@pytest.mark.parametrize("view", [_xml, _json], ids=["xml", "json"])
def test_the_same_names_reach_the_same_data_in_both_forms(view: Any) -> None:
    root: Node = view()
    assert _text(root.child("declarantReference")) == "REF-1"
    declarant = root.child("declarant")
    assert declarant is not None
    assert _text(declarant.child("businessRegistrationNumber")) == "61528834"
    assert root.child("absent") is None
    assert declarant.text() is None  # an object/element with children is not a scalar
    lines = root.children("lines")
    assert [_text(line.child("value")) for line in lines] in (["10.50", "20"], ["10.5", "20"])
    assert root.children("absent") == []


def test_xml_paths_use_local_names_and_positions_only_among_same_named_siblings() -> None:
    root = _xml()
    assert root.path == "/TradeDeclaration"
    lines = root.children("lines")
    assert [line.path for line in lines] == [
        "/TradeDeclaration/Lines/Line[1]",
        "/TradeDeclaration/Lines/Line[2]",
    ]
    value = lines[1].child("value")
    assert value is not None and value.path == "/TradeDeclaration/Lines/Line[2]/Value"
    single = root.children("single")
    assert [item.path for item in single] == ["/TradeDeclaration/Single/Line"]
    assert lines[0].path_of("netWeightKg") == "/TradeDeclaration/Lines/Line[1]/NetWeightKg"


def test_xml_text_is_stripped_and_empty_elements_are_empty_strings() -> None:
    root = _xml()
    assert _text(root.child("empty")) == ""
    assert _text(root.child("commented")) == "123"
    assert root.child("lines") is not None and _text(root.child("lines")) is None


def test_xml_lookup_ignores_namespaces() -> None:
    document = b"<a:Root xmlns:a='urn:a' xmlns:b='urn:b'><b:Name>x</b:Name><Other>y</Other></a:Root>"
    root = XmlNode.of(etree.fromstring(document))
    assert _text(root.child("name")) == "x"
    assert _text(root.child("other")) == "y"
    assert root.path == "/Root"


def test_xml_duplicate_elements_give_the_first_with_a_predicate() -> None:
    root = XmlNode.of(etree.fromstring(b"<R><Name>first</Name><Name>second</Name></R>"))
    name = root.child("name")
    assert name is not None and name.text() == "first" and name.path == "/R/Name[1]"


def test_xml_path_of_any_element_matches_the_view() -> None:
    tree = etree.fromstring(_XML)
    second_value = tree.findall("{*}Lines/{*}Line")[1].find("{*}Value")
    assert second_value is not None
    assert xml_path(second_value) == "/TradeDeclaration/Lines/Line[2]/Value"
    assert xml_path(tree) == "/TradeDeclaration"


def test_json_paths_are_rfc6901_pointers() -> None:
    root = _json()
    assert root.path == ""
    lines = root.children("lines")
    assert [line.path for line in lines] == ["/lines/0", "/lines/1"]
    value = lines[1].child("value")
    assert value is not None and value.path == "/lines/1/value"
    odd = root.child("a/b~c")
    assert odd is not None and odd.path == "/a~1b~0c"
    assert root.path_of("a/b~c") == "/a~1b~0c"
    assert lines[0].path_of("netWeightKg") == "/lines/0/netWeightKg"


def test_json_scalars_render_without_float_noise() -> None:
    root = _json()
    assert _text(root.child("flag")) == "true"
    assert _text(root.child("big")) == "100000000000000000000"
    assert _text(root.child("tiny")) == "1e-07"
    assert _text(JsonNode.of({"v": 0.1 + 0.2}).child("v")) == "0.30000000000000004"
    assert _text(JsonNode.of({"v": 182500.5}).child("v")) == "182500.5"


def test_json_null_is_absent_and_non_arrays_have_no_children() -> None:
    root = _json()
    assert root.child("nothing") is None
    assert root.children("notArray") == []
    assert root.children("declarantReference") == []
    scalar = root.child("declarantReference")
    assert scalar is not None and scalar.child("x") is None and scalar.children("x") == []


def test_json_integers_too_long_to_print_are_not_text() -> None:
    assert _text(JsonNode.of({"v": 10**5000}).child("v")) is None
