"""Business rules of road cargo advance cargo information (hk.aci.road, ROCARS)."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.documents import codelists
from gateway.documents.codelists import CodeLists
from gateway.documents.problems import Problem
from gateway.documents.rules import RULES, RuleContext
from gateway.documents.rules.aci_road import CROSSING_HORIZON_DAYS
from gateway.documents.view import JsonNode, XmlNode

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "hk.aci.road" / "examples" / "valid"
TODAY = date(2026, 11, 26)
CONTEXT = RuleContext(today=TODAY)
RULE_SET = RULES["hk.aci.road"]


def _example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((EXAMPLES / name).read_bytes())
    return document


def _seafood() -> dict[str, Any]:
    return _example("export-hzmb-dried-seafood.json")


def _shrimp() -> dict[str, Any]:
    return _example("import-mkt-frozen-shrimp.json")


def _problems(document: Any, context: RuleContext = CONTEXT) -> list[Problem]:
    return RULE_SET(JsonNode.of(document), context)


def _found(document: Any, context: RuleContext = CONTEXT) -> set[tuple[str, str]]:
    return {(problem.code, problem.path) for problem in _problems(document, context)}


def test_valid_documents_have_no_problem() -> None:
    assert _problems(_seafood()) == []
    assert _problems(_shrimp()) == []
    assert _problems(_example("import-hyw-fresh-vegetables.json")) == []


def test_code_lists() -> None:
    document = _seafood()
    document["shipper"]["country"] = "UK"
    document["consignee"]["country"] = "MO"
    document["currency"] = "RMB"
    document["goodsItems"][0]["packageType"] = "CTN"
    document["goodsItems"][1]["packageType"] = "00"
    assert _found(document) == {
        ("codelist.country", "/shipper/country"),
        ("codelist.currency", "/currency"),
        ("codelist.package", "/goodsItems/0/packageType"),
        ("codelist.package", "/goodsItems/1/packageType"),
    }


@pytest.mark.parametrize("package", ["CT", "PX", "BX", "BG", "CS", "4G", "43", "NE"])
def test_common_package_types_are_known(package: str) -> None:
    assert CodeLists().is_package_type(package)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("CSQU3054383", True),
        ("TRIU8624310", True),
        ("MSKU7281040", True),
        ("OOLU1845036", True),
        ("CSQU3054384", False),
        ("CSQU305438", False),
        ("CSQX3054383", False),
        ("csqu3054383", False),
    ],
)
def test_container_numbers_follow_iso_6346(number: str, valid: bool) -> None:
    assert codelists.is_container_number(number) is valid
    document = _shrimp()
    document["vehicle"]["containerNumber"] = number
    assert _found(document) == (set() if valid else {("container.check_digit", "/vehicle/containerNumber")})


def test_the_container_is_optional() -> None:
    document = _shrimp()
    del document["vehicle"]["containerNumber"]
    assert _found(document) == set()


def test_hs_codes_are_optional_but_checked_when_given() -> None:
    document = _seafood()
    del document["goodsItems"][0]["hsCode"]
    document["goodsItems"][1]["hsCode"] = "77123456"
    assert _found(document) == {("hs.chapter", "/goodsItems/1/hsCode")}
    document["goodsItems"][1]["hsCode"] = "0712390"
    assert _found(document) == {("hs.format", "/goodsItems/1/hsCode")}


def test_the_carrier_brn_is_optional_but_checked_when_given() -> None:
    document = _seafood()
    document["carrier"]["businessRegistrationNumber"] = "6502331"
    assert _found(document) == {("brn.format", "/carrier/businessRegistrationNumber")}
    del document["carrier"]["businessRegistrationNumber"]
    assert _found(document) == set()


@pytest.mark.parametrize(
    ("crossing", "expected"),
    [
        ("2026-12-26T23:59:59+08:00", None),  # 30 days ahead, Hong Kong date
        ("2026-12-26T15:59:59Z", None),  # the same instant in UTC
        ("2026-12-26T16:00:00Z", "date.too_far_ahead"),  # already 27 December in Hong Kong
        ("2026-12-27T00:00:00+08:00", "date.too_far_ahead"),
        ("2099-01-01T00:00:00+08:00", "date.too_far_ahead"),
        ("2020-01-01T08:00:00+08:00", None),  # a past crossing is not refused
        ("2026-02-29T08:00:00+08:00", "date.invalid"),
        ("2026-03-01T08:00:00", "date.invalid"),  # no UTC offset
        ("2026-03-01", "date.invalid"),
        ("soon", "date.invalid"),
        ("9999-12-31T23:00:00-10:00", "date.too_far_ahead"),
    ],
)
def test_crossing_time_horizon(crossing: str, expected: str | None) -> None:
    assert CROSSING_HORIZON_DAYS == 30
    document = _shrimp()
    document["expectedCrossingTime"] = crossing
    assert _found(document) == (set() if expected is None else {(expected, "/expectedCrossingTime")})


def test_counts_weights_and_values() -> None:
    document = _seafood()
    document["goodsItems"][0]["packageCount"] = 0
    document["goodsItems"][0]["grossWeightKg"] = -254.4
    document["goodsItems"][1]["value"] = 89600.125
    document["totalGrossWeightKg"] = 0
    assert _found(document) == {
        ("quantity.not_positive", "/goodsItems/0/packageCount"),
        ("weight.not_positive", "/goodsItems/0/grossWeightKg"),
        ("value.precision", "/goodsItems/1/value"),
        ("weight.not_positive", "/totalGrossWeightKg"),
        ("weight.total_mismatch", "/totalGrossWeightKg"),
    }


def test_total_weight_is_an_exact_decimal_sum() -> None:
    document = _seafood()
    document["goodsItems"][0]["grossWeightKg"] = 0.1
    document["goodsItems"][1]["grossWeightKg"] = 0.2
    document["totalGrossWeightKg"] = 0.3
    assert _found(document) == set()


def test_the_xml_form_reports_xpaths() -> None:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(EXAMPLES / "export-sbc-garments-container.xml"), parser).getroot()
    items = root.findall("{*}GoodsItems/{*}GoodsItem")
    count = items[1].find("{*}PackageCount")
    container = root.find("{*}Vehicle/{*}ContainerNumber")
    assert count is not None and container is not None
    count.text = "-3"
    container.text = "CSQU3054380"
    assert {(p.code, p.path) for p in RULE_SET(XmlNode.of(root), CONTEXT)} == {
        ("quantity.not_positive", "/RoadCargoInformation/GoodsItems/GoodsItem[2]/PackageCount"),
        ("container.check_digit", "/RoadCargoInformation/Vehicle/ContainerNumber"),
    }


def test_empty_and_odd_documents_raise_nothing() -> None:
    assert _problems({}) == []
    assert _problems({"goodsItems": {}, "vehicle": "none", "totalGrossWeightKg": []}) == []
    assert _problems({"goodsItems": [None, 3], "totalGrossWeightKg": 1}) == []


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "HK",
            "CN",
            "0",
            "-5",
            "NaN",
            "Infinity",
            "1e999",
            "CSQU3054383",
            "CT",
            "77000000",
            "2026-02-29T08:00:00+08:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
        ]
    )
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _shaped(template: Any) -> st.SearchStrategy[Any]:
    """Documents shaped like `template`: any field may be missing or replaced by arbitrary JSON."""
    if isinstance(template, dict):
        fields = {key: _shaped(value) | _JSON for key, value in template.items()}
        return st.fixed_dictionaries({}, optional=fields)
    if isinstance(template, list):
        return st.lists(_shaped(template[0]) | _JSON, max_size=4)
    return st.just(template) | _SCALARS


def _template() -> dict[str, Any]:
    template = copy.deepcopy(_shrimp())
    template["goodsItems"][0]["hsCode"] = "03061719"
    template["carrier"]["businessRegistrationNumber"] = "31978402"
    return template


_DOCUMENTS = _shaped(_template())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_DOCUMENTS, today=st.dates())
def test_rules_never_raise_on_json_shaped_like_road_cargo_information(document: Any, today: date) -> None:
    problems = _problems(document, RuleContext(today=today))
    assert all(isinstance(problem, Problem) for problem in problems)


def _xml_of(name: str, value: Any) -> etree._Element:
    element = etree.Element(name[:1].upper() + name[1:])
    if isinstance(value, dict):
        for key, item in value.items():
            if key.isascii() and key[:1].isalpha() and key.isalnum():
                element.append(_xml_of(key, item))
    elif isinstance(value, list):
        element.extend(_xml_of("item", item) for item in value)
    elif value is not None:
        element.text = "".join(char for char in str(value) if char.isprintable())
    return element


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_DOCUMENTS, today=st.dates())
def test_rules_never_raise_on_xml_shaped_like_road_cargo_information(document: Any, today: date) -> None:
    root = _xml_of("roadCargoInformation", document) if isinstance(document, dict) else etree.Element("R")
    assert isinstance(RULE_SET(XmlNode.of(root), RuleContext(today=today)), list)
