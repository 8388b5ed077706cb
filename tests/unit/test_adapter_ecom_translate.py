"""hk.ecom.lvc consignments -> TradeSummary: numbers in either spelling, the kind from the parties'
countries, the buyer's identity reference for customs only, and summaries the simulators accept."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
import pytest

from adapters.bulk_delivery import BulkSubmission
from adapters.errors import PoisonEvent
from adapters.translate import DOCUMENT_TYPES, translate, translate_document
from simulators.contract import BulkSubmissionRequest
from tests.examples import examples
from tests.unit.test_adapter_translate import assert_contract_shape

Json = dict[str, Any]


def consignment(**changes: Any) -> Json:
    document: Json = {
        "documentType": "hk.ecom.lvc",
        "consignment_ref": "SHOP-0001",
        "platform": "ShopNow",
        "order_ref": "ORD-778812",
        "tracking_no": "SN123456789HK",
        "seller_name": "Shenzhen Bright Gadgets Co",
        "seller_country": "CN",
        "buyer_name": "Chan Tai Man",
        "buyer_id_ref": "HKID-REF-8c1f02",
        "consignee_address": "Flat 3A, 12 Nathan Road, Tsim Sha Tsui, Kowloon",
        "destination_country": "HK",
        "transport_mode": "road",
        "currency": "HKD",
        "items": [
            {
                "description": "Phone case",
                "hs_code": "39269099",
                "quantity": "2",
                "unit": "H87",
                "value": "58.50",
                "gross_weight_kg": "0.12",
                "origin_country": "CN",
            },
            {
                "description": "USB-C cable",
                "hs_code": "854442",
                "quantity": 3,
                "unit": "H87",
                "value": 41.5,
                "gross_weight_kg": 0.3,
                "origin_country": "vn",
            },
        ],
    }
    document.update(changes)
    return document


def test_the_document_type_is_registered_for_single_json_documents() -> None:
    assert "hk.ecom.lvc" in DOCUMENT_TYPES
    summary = translate(
        orjson.dumps(consignment()), content_type="application/json", document_type="hk.ecom.lvc"
    )
    assert_contract_shape(summary)
    assert summary == {
        "kind": "import",
        "trader": {"name": "Chan Tai Man", "id": "HKID-REF-8c1f02"},
        "origin_countries": ["CN", "VN"],
        "destination_country": "HK",
        "total_value": {"amount": "100.00", "currency": "HKD"},
        "lines": [
            {
                "hs_code": "39269099",
                "description": "Phone case",
                "quantity": "2",
                "unit": "H87",
                "value": "58.50",
                "origin_country": "CN",
                "gross_weight_kg": "0.12",
                "licence_number": None,
            },
            {
                "hs_code": "854442",
                "description": "USB-C cable",
                "quantity": "3",
                "unit": "H87",
                "value": "41.5",  # a JSON number keeps its spelling on the single path (Decimal)
                "origin_country": "VN",
                "gross_weight_kg": "0.3",
                "licence_number": None,
            },
        ],
        "transport": {"mode": "road", "vehicle": None, "control_point": None, "crossing_time": None},
    }


@pytest.mark.parametrize("kind", ["valid", "invalid"])
def test_every_pack_example_translates(kind: str) -> None:
    for path in examples("hk.ecom.lvc", kind):
        raw = path.read_bytes()
        summary = translate(raw, content_type="application/json", document_type="hk.ecom.lvc")
        assert_contract_shape(summary)
        assert summary == translate_document(orjson.loads(raw), document_type="hk.ecom.lvc"), path.name
        if kind == "valid":
            assert summary["lines"] and summary["total_value"], path.name
            assert summary["kind"] in {"import", "export", "re-export"}


def test_a_parsed_consignment_reads_json_numbers_and_decimal_strings_alike() -> None:
    """Out of a bulk event the document is parsed by orjson: numbers are floats, kept exactly."""
    parsed = orjson.loads(orjson.dumps(consignment()))
    assert isinstance(parsed["items"][1]["value"], float)
    summary = translate_document(parsed, document_type="hk.ecom.lvc")
    assert_contract_shape(summary)
    assert [line["value"] for line in summary["lines"]] == ["58.50", "41.5"]
    assert [line["quantity"] for line in summary["lines"]] == ["2", "3"]
    assert summary["lines"][1]["gross_weight_kg"] == "0.3"
    assert summary["total_value"] == {"amount": "100.00", "currency": "HKD"}


@pytest.mark.parametrize(
    ("changes", "kind", "trader"),
    [
        ({}, "import", {"name": "Chan Tai Man", "id": "HKID-REF-8c1f02"}),
        (
            {"seller_country": "HK", "seller_name": "Kowloon Tea House", "destination_country": "AU"},
            "export",
            {"name": "Kowloon Tea House", "id": None},
        ),
        ({"destination_country": "US"}, "re-export", {"name": "Shenzhen Bright Gadgets Co", "id": None}),
    ],
)
def test_the_kind_and_trader_follow_the_parties_countries(
    changes: Json, kind: str, trader: dict[str, str | None]
) -> None:
    summary = translate_document(consignment(**changes), document_type="hk.ecom.lvc")
    assert (summary["kind"], summary["trader"]) == (kind, trader)


@pytest.mark.parametrize(("agency", "sees_buyer_id"), [("customs", True), ("logistics", False)])
def test_only_customs_receives_the_buyers_identity_reference(agency: str, sees_buyer_id: bool) -> None:
    document = consignment()
    single = translate(
        orjson.dumps(document), content_type="application/json", document_type="hk.ecom.lvc", agency=agency
    )
    bulk = translate_document(document, document_type="hk.ecom.lvc", agency=agency)
    for summary in (single, bulk):
        assert summary["trader"]["name"] == "Chan Tai Man"
        assert (summary["trader"]["id"] == "HKID-REF-8c1f02") is sees_buyer_id
        assert (b"HKID-REF-8c1f02" in orjson.dumps(summary)) is sees_buyer_id


def test_other_document_types_keep_their_trader_id_for_every_agency() -> None:
    tdec = {
        "documentType": "hk.tdec",
        "declarationKind": "import",
        "importerExporter": {"name": "Harbour Gate", "businessRegistrationNumber": "37415520"},
    }
    summary = translate_document(tdec, document_type="hk.tdec", agency="logistics")
    assert summary["trader"]["id"] == "37415520"  # a company's registration number is no secret


def test_unusable_fields_read_as_unknown_rather_than_failing() -> None:
    document = consignment(currency=None, transport_mode="POST", destination_country="Hong Kong")
    document["items"][0].update(value="a lot", quantity=True, origin_country="CHN")
    summary = translate_document(document, document_type="hk.ecom.lvc")
    assert_contract_shape(summary)
    assert summary["kind"] == "re-export"  # the destination is unreadable, so not known to be HK
    assert summary["destination_country"] is None
    assert summary["total_value"] is None
    assert summary["lines"][0]["value"] is None and summary["lines"][0]["quantity"] is None
    assert summary["origin_countries"] == ["VN"]
    assert summary["transport"]["mode"] == "post"


def test_a_document_of_another_type_is_refused() -> None:
    with pytest.raises(PoisonEvent, match=r"document is a hk\.tdec, but the event says hk\.ecom\.lvc"):
        translate_document({"documentType": "hk.tdec"}, document_type="hk.ecom.lvc")
    with pytest.raises(PoisonEvent, match="no translation for JSON documentType"):
        translate_document({"consignment_ref": "x"}, document_type="hk.ecom.lvc")


def test_translated_consignments_meet_the_bulk_contract_of_the_agencies() -> None:
    documents = [consignment(), consignment(destination_country="SG"), consignment(items=[])]
    tricky = copy.deepcopy(documents[0])
    tricky["items"][0]["value"] = 1e-7  # a float whose repr has an exponent
    documents.append(tricky)
    consignments = [
        (str(uuid.uuid4()), translate_document(document, document_type="hk.ecom.lvc"))
        for document in documents
    ]
    body = BulkSubmission(str(uuid.uuid4()), "hk.ecom.lvc", consignments).to_json()
    request = BulkSubmissionRequest.model_validate_json(body)
    assert [c.declaration_id for c in request.consignments] == [d for d, _ in consignments]
    assert request.consignments[3].summary.goods[0].value == "1e-07"
    assert orjson.loads(body)["consignments"][0]["summary"] == consignments[0][1]
