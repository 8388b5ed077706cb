"""Routed documents -> TradeSummary: every example of both packs, the WCO samples, hostile input."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.errors import PoisonEvent
from adapters.translate import TradeSummary, translate
from tests.conftest import WCO_DIR
from tests.examples import content_type, examples, wco_samples

WCO = "wco.dec-dms"
_KINDS = {"import", "export", "re-export", "advance-cargo", "unknown"}
_LINE_KEYS = {
    "hs_code",
    "description",
    "quantity",
    "unit",
    "value",
    "origin_country",
    "gross_weight_kg",
    "licence_number",
}


def _translate(path: Path, document_type: str | None = None) -> TradeSummary:
    return translate(path.read_bytes(), content_type=content_type(path), document_type=document_type)


def _wco(name: str) -> TradeSummary:
    valid, _ = wco_samples()
    (path,) = [p for p in valid if p.name == name]
    return _translate(path, WCO)


def _decimal_or_none(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and Decimal(value).is_finite()


def assert_contract_shape(summary: TradeSummary) -> None:
    """The agency contract's TradeSummary: kinds, ISO codes, decimal strings, JSON-serialisable."""
    assert set(summary) == {
        "kind",
        "trader",
        "origin_countries",
        "destination_country",
        "total_value",
        "lines",
        "transport",
    }
    assert summary["kind"] in _KINDS
    assert set(summary["trader"]) == {"name", "id"}
    assert all(len(code) == 2 and code.isupper() for code in summary["origin_countries"])
    assert len(set(summary["origin_countries"])) == len(summary["origin_countries"])
    destination = summary["destination_country"]
    assert destination is None or (len(destination) == 2 and destination.isupper())
    total = summary["total_value"]
    assert total is None or (_decimal_or_none(total["amount"]) and len(total["currency"]) == 3)
    for line in summary["lines"]:
        assert set(line) == _LINE_KEYS
        for key in ("quantity", "value", "gross_weight_kg"):
            assert _decimal_or_none(line[key]), (key, line[key])
    assert set(summary["transport"]) == {"mode", "vehicle", "control_point", "crossing_time"}
    orjson.dumps(summary)


@pytest.mark.parametrize("kind", ["valid", "invalid"])
@pytest.mark.parametrize("pack", ["hk.tdec", "hk.aci.road"])
def test_every_pack_example_translates(pack: str, kind: str) -> None:
    for path in examples(pack, kind):
        summary = _translate(path, pack)
        assert_contract_shape(summary)
        if pack == "hk.aci.road":
            assert summary["kind"] == "advance-cargo"
            assert summary["transport"]["mode"] == "road"
        elif kind == "valid":
            assert summary["kind"] in {"import", "export", "re-export"}
            assert summary["lines"], path.name
            assert summary["trader"]["id"], path.name


def test_tdec_xml_import() -> None:
    summary = _translate(examples("hk.tdec", suffix="import-electronics-cn-sea.xml")[0], "hk.tdec")
    assert summary["kind"] == "import"
    assert summary["trader"] == {"name": "Harbour Gate Electronics Limited", "id": "37415520"}
    assert summary["origin_countries"] == ["CN"]
    assert summary["destination_country"] == "HK"
    assert summary["total_value"] == {"amount": "1299500.00", "currency": "HKD"}
    assert summary["lines"][0] == {
        "hs_code": "85171300",
        "description": "Smartphones, Huaxin model HX-12 Pro, 256 GB, 5G, with charger cable",
        "quantity": "500",
        "unit": "H87",
        "value": "1062500.00",
        "origin_country": "CN",
        "gross_weight_kg": "142.0",
        "licence_number": None,
    }
    assert summary["transport"] == {
        "mode": "sea",
        "vehicle": "XIN YANG SHAN 262S",
        "control_point": "HKHKG",
        "crossing_time": "2026-03-09",
    }


def test_tdec_json_keeps_number_spelling_and_rec19_modes() -> None:
    summary = _translate(examples("hk.tdec", suffix="export-jewellery-jp-air.json")[0], "hk.tdec")
    assert summary["kind"] == "export"
    assert summary["destination_country"] == "JP"
    assert summary["total_value"] == {"amount": "2364800.0", "currency": "HKD"}
    assert summary["lines"][0]["quantity"] == "120"
    assert summary["lines"][0]["gross_weight_kg"] == "4.2"
    assert summary["transport"]["mode"] == "air"  # Rec 19 code "4"
    assert summary["transport"]["control_point"] == "HKHKG"  # port of loading for an export


def test_tdec_licence_and_reexport_origins() -> None:
    summary = _translate(examples("hk.tdec", suffix="reexport-vn-sea-licensed.json")[0], "hk.tdec")
    assert summary["kind"] == "re-export"
    assert summary["origin_countries"] == ["TW", "KR"]
    assert "SC/2026/041873" in {line["licence_number"] for line in summary["lines"]}


def test_tdec_xml_and_json_forms_read_alike() -> None:
    """The same declaration in both forms gives the same summary (numbers aside, spelt per form)."""
    document = orjson.loads(examples("hk.tdec", suffix="import-wine-fr-air.json")[0].read_bytes())
    xml = _tdec_as_xml(document)
    from_json = translate(orjson.dumps(document), content_type="application/json", document_type="hk.tdec")
    from_xml = translate(xml, content_type="application/xml", document_type="hk.tdec")
    assert _normalized(from_xml) == _normalized(from_json)


def _tdec_as_xml(document: dict[str, Any]) -> bytes:
    def element(name: str, value: Any) -> str:
        tag = name[:1].upper() + name[1:]
        if isinstance(value, dict):
            return f"<{tag}>{''.join(element(k, v) for k, v in value.items())}</{tag}>"
        if isinstance(value, list):
            return f"<{tag}>{''.join(element('line', item) for item in value)}</{tag}>"
        return f"<{tag}>{value}</{tag}>"

    body = "".join(element(k, v) for k, v in document.items() if k != "documentType")
    return f'<TradeDeclaration xmlns="urn:hk:tsw:tdec:1">{body}</TradeDeclaration>'.encode()


def _normalized(summary: TradeSummary) -> Any:
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            try:
                return Decimal(value).normalize()
            except ArithmeticError:
                return value
        return value

    return walk(summary)


def test_aci_road_json() -> None:
    summary = _translate(examples("hk.aci.road", suffix="export-hzmb-dried-seafood.json")[0], "hk.aci.road")
    assert summary["kind"] == "advance-cargo"
    assert summary["trader"] == {"name": "Sheung Wan Dried Seafood Company Limited", "id": None}
    assert summary["destination_country"] == "MO"
    assert summary["origin_countries"] == []
    assert summary["total_value"] == {"amount": "502400.0", "currency": "HKD"}
    assert [line["hs_code"] for line in summary["lines"]] == ["03072900", "07123900"]
    assert summary["lines"][0]["quantity"] == "24"
    assert summary["lines"][0]["unit"] == "CS"
    assert summary["transport"] == {
        "mode": "road",
        "vehicle": "VT 517",
        "control_point": "HZMB",
        "crossing_time": "2026-04-19T07:15:00+08:00",
    }


def test_aci_road_xml() -> None:
    summary = _translate(examples("hk.aci.road", suffix="import-lmc-electronic-components.xml")[0])
    assert summary["destination_country"] == "HK"
    assert summary["total_value"] == {"amount": "238400.00", "currency": "CNY"}
    assert summary["transport"]["vehicle"] == "NK 8321"
    assert summary["transport"]["control_point"] == "LMC"


def test_every_wco_sample_translates() -> None:
    valid, invalid = wco_samples()
    kinds: dict[str, int] = {}
    for path in [*valid, invalid]:
        summary = _translate(path, WCO)
        assert_contract_shape(summary)
        kinds[summary["kind"]] = kinds.get(summary["kind"], 0) + 1
    assert kinds["import"] > 50
    assert kinds["export"] > 10


def test_wco_import() -> None:
    summary = _wco("TT_IM001b__TT_IM001b.xml")
    assert summary["kind"] == "import"  # TypeCode IMA
    assert summary["trader"] == {"name": None, "id": "GB553202734852"}  # the importer's EORI
    assert summary["origin_countries"] == ["US"]
    assert summary["destination_country"] == "GB"
    assert summary["total_value"] == {"amount": "1000", "currency": "GBP"}
    (line,) = summary["lines"]
    assert line["hs_code"] == "85109000"  # the TSP classification, not the TRC one
    assert line["value"] == "1000"
    assert (line["quantity"], line["unit"]) == ("50", "BX")  # no supplementary units: packages
    assert line["gross_weight_kg"] == "150"
    assert summary["transport"]["mode"] == "sea"
    assert summary["transport"]["control_point"] == "WLALONBTW"


def test_wco_export() -> None:
    summary = _wco("TT_EX001a__TT_EX001a.xml")
    assert summary["kind"] == "export"  # TypeCode EXD
    assert summary["trader"]["id"] == "GB427168118378"  # the exporter
    assert summary["destination_country"] == "US"
    assert summary["total_value"] == {"amount": "200", "currency": "GBP"}  # statistical value
    assert summary["lines"][0]["hs_code"] == "46021910"
    assert summary["transport"] == {
        "mode": "sea",
        "vehicle": "CSCLGLOBE",
        "control_point": "GB000040",  # the exit office
        "crossing_time": None,
    }


def test_wco_supplementary_units_and_invoice_total() -> None:
    summary = _wco("TT_EX004a__TT_EX004a.xml")
    assert summary["total_value"] == {"amount": "100000", "currency": "GBP"}
    assert [(line["hs_code"], line["quantity"]) for line in summary["lines"]] == [
        ("93019000", "20"),
        ("93059100", "1"),
    ]


def test_wco_special_territory_and_cancellation_are_unknown_kind() -> None:
    assert _wco("TT_IM056a__TT_IM056a.xml")["kind"] == "unknown"  # TypeCode COA
    cancellation = _wco("TT_EX052a__Step3_Cancellation.xml")
    assert cancellation["kind"] == "unknown"
    assert cancellation["lines"] == []


def test_document_type_header_may_be_absent() -> None:
    path = examples("hk.tdec", suffix=".xml")[0]
    assert _translate(path) == _translate(path, "hk.tdec")


def test_content_type_is_sniffed_when_missing() -> None:
    path = examples("hk.aci.road", suffix=".json")[0]
    assert translate(path.read_bytes(), content_type=None, document_type=None)["kind"] == "advance-cargo"


@pytest.mark.parametrize(
    ("document", "media", "document_type", "reason"),
    [
        (b"<TradeDeclaration xmlns='urn:hk:tsw:tdec:1'><Lines>", "application/xml", "hk.tdec", "well-formed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
            b'<TradeDeclaration xmlns="urn:hk:tsw:tdec:1"/>',
            "application/xml",
            "hk.tdec",
            "DOCTYPE",
        ),
        (b"<Other xmlns='urn:x'/>", "application/xml", None, "no translation for XML root"),
        (b'{"documentType": "hk.tdec"', "application/json", "hk.tdec", "not valid JSON"),
        (b"[1, 2]", "application/json", "hk.tdec", "not a JSON object"),
        (b'{"documentType": "hk.other"}', "application/json", None, "no translation for JSON"),
        (b'{"documentType": "hk.tdec", "totalValue": NaN}', "application/json", None, "not valid JSON"),
        (b'{"documentType": "hk.aci.road"}', "application/json", "hk.tdec", "but the event says hk.tdec"),
        (b"<x/>", "application/xml", "hk.unknown", "no translation for document type"),
        (b"\x00\x01binary", "application/octet-stream", None, "neither XML nor JSON"),
        (b"\xff\xfe{}", "application/json", "hk.tdec", "not valid JSON"),
    ],
)
def test_untranslatable_documents_are_poison(
    document: bytes, media: str, document_type: str | None, reason: str
) -> None:
    with pytest.raises(PoisonEvent) as raised:
        translate(document, content_type=media, document_type=document_type)
    assert reason in raised.value.reason


def test_wco_envelope_without_declaration_is_poison() -> None:
    document = b'<md:MetaData xmlns:md="urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"/>'
    with pytest.raises(PoisonEvent, match="no Declaration"):
        translate(document, content_type="application/xml", document_type=WCO)


def test_wrong_shapes_read_as_unknown() -> None:
    document = {
        "documentType": "hk.tdec",
        "declarationKind": 7,
        "importerExporter": "nobody",
        "lines": [{"hsCode": 1, "quantity": True, "value": "abc"}, "not a line"],
        "totalValue": "12.5",
        "currency": "HKD",
    }
    summary = translate(orjson.dumps(document), content_type="application/json", document_type="hk.tdec")
    assert summary["kind"] == "unknown"
    assert summary["trader"] == {"name": None, "id": None}
    assert summary["total_value"] == {"amount": "12.5", "currency": "HKD"}
    assert len(summary["lines"]) == 1
    assert summary["lines"][0]["hs_code"] is None
    assert summary["lines"][0]["quantity"] is None
    assert summary["lines"][0]["value"] is None


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.sampled_from(
    [
        "declarationKind",
        "lines",
        "goodsItems",
        "totalValue",
        "currency",
        "importerExporter",
        "shipper",
        "consignee",
        "vehicle",
        "transportMode",
        "countryOfDestination",
        "hsCode",
        "value",
        "quantity",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document_type=st.sampled_from(["hk.tdec", "hk.aci.road"]),
    body=st.dictionaries(_fields, _json_values, max_size=8),
)
def test_any_json_document_translates_or_is_poison(document_type: str, body: dict[str, Any]) -> None:
    raw = json.dumps({"documentType": document_type, **body}, default=str).encode()
    try:
        summary = translate(raw, content_type="application/json", document_type=document_type)
    except PoisonEvent:
        return
    assert_contract_shape(summary)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200), media=st.sampled_from(["application/xml", "application/json", None]))
def test_any_bytes_translate_or_are_poison(raw: bytes, media: str | None) -> None:
    with contextlib.suppress(PoisonEvent):
        translate(raw, content_type=media, document_type=None)


def test_wco_items_carry_their_national_licence() -> None:
    from adapters.translate import translate

    sample = WCO_DIR / "samples" / "declarations" / "TT_EX004a__TT_EX004a.xml"
    summary = translate(sample.read_bytes(), content_type="application/xml", document_type="wco.dec-dms")
    arms = [line for line in summary["lines"] if (line["hs_code"] or "").startswith("93")]
    assert arms and all(line["licence_number"] == "GBSIEXYK3ZZZ-0001" for line in arms)
