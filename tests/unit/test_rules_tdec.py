"""Business rules of the Hong Kong trade declaration (hk.tdec), and the code lists they use."""

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
from gateway.documents.rules import RULES, RuleContext, hong_kong_today
from gateway.documents.view import JsonNode, XmlNode

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "hk.tdec" / "examples" / "valid"
TODAY = date(2026, 11, 26)
CONTEXT = RuleContext(today=TODAY)
RULE_SET = RULES["hk.tdec"]


def _example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((EXAMPLES / name).read_bytes())
    return document


def _wine() -> dict[str, Any]:
    return _example("import-wine-fr-air.json")


def _reexport() -> dict[str, Any]:
    return _example("reexport-vn-sea-licensed.json")


def _problems(document: Any, context: RuleContext = CONTEXT) -> list[Problem]:
    return RULE_SET(JsonNode.of(document), context)


def _found(document: Any, context: RuleContext = CONTEXT) -> set[tuple[str, str]]:
    return {(problem.code, problem.path) for problem in _problems(document, context)}


def test_valid_documents_have_no_problem() -> None:
    assert _problems(_wine()) == []
    assert _problems(_reexport()) == []
    assert _problems(_example("export-jewellery-jp-air.json")) == []


# ---- code lists -----------------------------------------------------------------------------------


def test_unknown_codes_are_reported_where_they_are() -> None:
    document = _wine()
    document["consignor"]["country"] = "UK"
    document["countryOfConsignment"] = "EU"
    document["currency"] = "RMB"
    document["lines"][1]["unit"] = "BTL"
    document["lines"][0]["countryOfOrigin"] = "XK"
    document["portOfLoading"] = "QQCDG"
    assert _found(document) == {
        ("codelist.country", "/consignor/country"),
        ("codelist.country", "/countryOfConsignment"),
        ("codelist.currency", "/currency"),
        ("codelist.unit", "/lines/1/unit"),
        ("codelist.country", "/lines/0/countryOfOrigin"),
        ("codelist.locode", "/portOfLoading"),
    }


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "XDR"])
def test_currencies_that_are_not_money_are_refused(currency: str) -> None:
    document = _wine()
    document["currency"] = currency
    assert _found(document) == {("codelist.currency", "/currency")}


@pytest.mark.parametrize(
    ("hs_code", "expected"),
    [
        ("01012100", None),
        ("97011000", None),
        ("76011000", None),
        ("78011000", None),
        ("77010000", "hs.chapter"),
        ("00123456", "hs.chapter"),
        ("98010000", "hs.chapter"),
        ("99999999", "hs.chapter"),
        ("8517130", "hs.format"),
        ("851713000", "hs.format"),
        ("8517130A", "hs.format"),
        ("85171300\n", "hs.format"),
        ("\uff18\uff15\uff11\uff17\uff11\uff13\uff10\uff10", "hs.format"),  # full-width digits
    ],
)
def test_hs_codes(hs_code: str, expected: str | None) -> None:
    document = _wine()
    document["lines"][0]["hsCode"] = hs_code
    assert _found(document) == (set() if expected is None else {(expected, "/lines/0/hsCode")})


@pytest.mark.parametrize("brn", ["1234567", "123456789", "1234567A", "12345678-000", ""])
def test_business_registration_numbers_the_schema_should_have_refused(brn: str) -> None:
    document = _wine()
    document["declarant"]["businessRegistrationNumber"] = brn
    expected = set() if brn == "" else {("brn.format", "/declarant/businessRegistrationNumber")}
    assert _found(document) == expected


def test_code_lists_load_lazily_and_once() -> None:
    lists = CodeLists()
    assert "units" not in vars(lists)
    assert lists.is_unit("KGM") and lists.is_unit("H87") and lists.is_unit("PCE")
    assert not lists.is_unit("PCS") and not lists.is_unit("kgm")
    assert lists.units is lists.units
    assert CodeLists.shared() is CodeLists.shared()


def test_the_unit_list_is_a_documented_subset() -> None:
    units = CodeLists().units
    assert {
        "KGM",
        "GRM",
        "TNE",
        "LTR",
        "MTR",
        "MTK",
        "MTQ",
        "PCE",
        "H87",
        "C62",
        "NAR",
        "SET",
        "PR",
        "DZN",
        "KWH",
        "XCT",
        "XPX",
    } <= set(units)
    assert units["KGM"] == "kilogram"
    assert all(not code.startswith("#") and name for code, name in units.items())


def test_locode_format_needs_a_real_country() -> None:
    lists = CodeLists()
    assert lists.is_locode("HKHKG") and lists.is_locode("CNSZX") and lists.is_locode("USLA2")
    assert not lists.is_locode("ZZABC") and not lists.is_locode("HKHK1") and not lists.is_locode("HKHKGX")
    assert not lists.is_locode("hkhkg")


def test_identifier_formats() -> None:
    assert codelists.is_brn("05836271") and not codelists.is_brn("5836271")
    assert codelists.is_hs_code("85171300") and not codelists.hs_chapter_is_valid("77000000")
    assert not codelists.hs_chapter_is_valid("bad")


# ---- declaration kinds ----------------------------------------------------------------------------


def test_an_import_needs_its_consignor_and_country_of_consignment() -> None:
    document = _wine()
    del document["consignor"], document["countryOfConsignment"]
    assert _found(document) == {
        ("field.required_for_kind", "/consignor"),
        ("field.required_for_kind", "/countryOfConsignment"),
    }


def test_an_export_needs_its_consignee_and_destination() -> None:
    document = _reexport()
    del document["consignee"], document["countryOfDestination"]
    assert _found(document) == {
        ("field.required_for_kind", "/consignee"),
        ("field.required_for_kind", "/countryOfDestination"),
    }


@pytest.mark.parametrize(("kind", "basis"), [("import", "FOB"), ("export", "CIF"), ("re-export", "CIF")])
def test_value_basis_follows_the_kind(kind: str, basis: str) -> None:
    document = _wine() if kind == "import" else _reexport()
    document["declarationKind"] = kind
    document["valueBasis"] = basis
    assert ("value.basis", "/valueBasis") in _found(document)


def test_hong_kong_cannot_be_the_other_end() -> None:
    imported = _wine()
    imported["countryOfConsignment"] = "HK"
    exported = _reexport()
    exported["countryOfDestination"] = "HK"
    assert _found(imported) == {("country.hong_kong", "/countryOfConsignment")}
    assert _found(exported) == {("country.hong_kong", "/countryOfDestination")}


def test_the_hong_kong_end_of_the_voyage_must_be_a_hong_kong_port() -> None:
    imported = _wine()
    imported["portOfDischarge"] = "CNSZX"
    exported = _reexport()
    exported["portOfLoading"] = "CNYTN"
    assert _found(imported) == {("locode.not_hong_kong", "/portOfDischarge")}
    assert _found(exported) == {("locode.not_hong_kong", "/portOfLoading")}


def test_hong_kong_origin_is_an_export_not_a_re_export() -> None:
    document = _reexport()
    document["lines"][1]["countryOfOrigin"] = "HK"
    assert _found(document) == {("origin.hong_kong", "/lines/1/countryOfOrigin")}
    document["declarationKind"] = "export"
    assert _found(document) == set()


def test_an_unknown_kind_only_skips_the_kind_rules() -> None:
    document = _wine()
    document["declarationKind"] = "transhipment"
    document["currency"] = "ABC"
    assert _found(document) == {("codelist.currency", "/currency")}


# ---- dates ----------------------------------------------------------------------------------------


def test_the_import_export_date_may_be_today_but_not_tomorrow() -> None:
    document = _wine()
    document["importExportDate"] = "2026-11-26"
    assert _found(document) == set()
    document["importExportDate"] = "2026-11-27"
    assert _found(document) == {("date.future", "/importExportDate")}


def test_old_declarations_are_late_but_not_refused() -> None:
    document = _wine()
    document["importExportDate"] = "2020-01-02"
    assert _found(document) == set()


@pytest.mark.parametrize(
    "day", ["2026-02-30", "2026-13-01", "26-01-01", "2026-1-1", "tomorrow", "2026-01-01T00:00"]
)
def test_dates_that_do_not_exist(day: str) -> None:
    document = _wine()
    document["importExportDate"] = day
    assert _found(document) == {("date.invalid", "/importExportDate")}


def test_today_is_the_date_in_hong_kong() -> None:
    assert isinstance(hong_kong_today(), date)


# ---- quantities, weights, values ------------------------------------------------------------------


def test_line_measures() -> None:
    document = _wine()
    line = document["lines"][0]
    line["quantity"] = -1
    line["netWeightKg"] = 3000
    document["lines"][1]["grossWeightKg"] = 0
    assert _found(document) == {
        ("quantity.not_positive", "/lines/0/quantity"),
        ("weight.net_exceeds_gross", "/lines/0/netWeightKg"),
        ("weight.not_positive", "/lines/1/grossWeightKg"),
        ("weight.net_exceeds_gross", "/lines/1/netWeightKg"),
    }


def test_net_weight_is_optional() -> None:
    document = _wine()
    for line in document["lines"]:
        del line["netWeightKg"]
    assert _found(document) == set()


def test_totals_are_compared_as_exact_decimals() -> None:
    document = _wine()
    document["lines"][0]["value"] = 0.1
    document["lines"][1]["value"] = 0.2
    document["totalValue"] = 0.3  # 0.1 + 0.2 != 0.3 in binary floating point, but it is in the declaration
    assert _found(document) == set()
    document["totalValue"] = 0.31
    assert _found(document) == {("value.total_mismatch", "/totalValue")}


def test_values_must_be_positive_money() -> None:
    document = _wine()
    document["lines"][0]["value"] = 0
    document["lines"][1]["value"] = 80100.001
    document["totalValue"] = 80100.001
    assert _found(document) == {
        ("value.not_positive", "/lines/0/value"),
        ("value.precision", "/lines/1/value"),
        ("value.precision", "/totalValue"),
    }


def test_an_unreadable_line_value_skips_the_total_check() -> None:
    document = _wine()
    document["lines"][0]["value"] = "lots"
    document["totalValue"] = 1
    assert _found(document) == set()


def test_every_problem_is_reported_at_once() -> None:
    document = _reexport()
    document["currency"] = "ZZZ"
    document["importExportDate"] = "2027-01-01"
    for line in document["lines"]:
        line["hsCode"] = "77000000"
        line["unit"] = "ZZ9"
    codes = [problem.code for problem in _problems(document)]
    assert sorted(codes) == sorted(
        ["codelist.currency", "date.future", "hs.chapter", "hs.chapter", "codelist.unit", "codelist.unit"]
    )


# ---- XML form -------------------------------------------------------------------------------------


def _xml_root() -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(EXAMPLES / "import-electronics-cn-sea.xml"), parser).getroot()


def test_the_xml_form_reports_xpaths() -> None:
    root = _xml_root()
    lines = root.findall("{*}Lines/{*}Line")
    value = lines[1].find("{*}Value")
    unit = lines[2].find("{*}Unit")
    assert value is not None and unit is not None
    value.text = "96000.50"
    unit.text = "PCS"
    assert {(p.code, p.path) for p in RULE_SET(XmlNode.of(root), CONTEXT)} == {
        ("value.total_mismatch", "/TradeDeclaration/TotalValue"),
        ("codelist.unit", "/TradeDeclaration/Lines/Line[3]/Unit"),
    }


def test_the_xml_form_reports_missing_fields_where_they_would_be() -> None:
    root = _xml_root()
    consignor = root.find("{*}Consignor")
    assert consignor is not None
    root.remove(consignor)
    assert [(p.code, p.path) for p in RULE_SET(XmlNode.of(root), CONTEXT)] == [
        ("field.required_for_kind", "/TradeDeclaration/Consignor"),
    ]


# ---- robustness -----------------------------------------------------------------------------------


def test_empty_and_odd_documents_raise_nothing() -> None:
    assert _problems({}) == []
    assert _problems({"lines": "none", "declarant": [], "totalValue": {"a": 1}}) == []
    assert _problems({"lines": [None, 1, "x", []], "totalValue": 5}) == []
    assert _problems({"totalValue": "NaN", "lines": [{"value": "Infinity"}]}) == []
    assert _problems({"totalValue": "1e999999999", "lines": [{"value": "9e999999999"}]}) == []


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "HK",
            "0",
            "-1",
            "NaN",
            "-Infinity",
            "1e999",
            "1E-999",
            "2026-02-30",
            "77000000",
            "import",
            "export",
            "re-export",
            "CIF",
            "FOB",
            "HKHKG",
            " ",
            "0.005",
            "sNaN",
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
    template = copy.deepcopy(_wine())
    template.update({key: value for key, value in _reexport().items() if key not in template})
    return template


_DOCUMENTS = _shaped(_template())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_DOCUMENTS, today=st.dates())
def test_rules_never_raise_on_json_shaped_like_a_declaration(document: Any, today: date) -> None:
    problems = _problems(document, RuleContext(today=today))
    assert all(isinstance(problem, Problem) for problem in problems)


def _xml_of(name: str, value: Any) -> etree._Element:
    element = etree.Element(name[:1].upper() + name[1:])
    if isinstance(value, dict):
        for key, item in value.items():
            if key[:1].isascii() and key[:1].isalpha() and key.isascii() and key.isalnum():
                element.append(_xml_of(key, item))
    elif isinstance(value, list):
        element.extend(_xml_of("item", item) for item in value)
    elif value is not None:
        element.text = "".join(char for char in str(value) if char.isprintable())
    return element


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_DOCUMENTS)
def test_rules_never_raise_on_xml_shaped_like_a_declaration(document: Any) -> None:
    root = _xml_of("tradeDeclaration", document) if isinstance(document, dict) else etree.Element("T")
    assert isinstance(RULE_SET(XmlNode.of(root), CONTEXT), list)
