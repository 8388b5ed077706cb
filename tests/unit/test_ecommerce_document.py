"""The canonical ``hk.ecom.lvc`` document, its schema pack, and the rule set that reuses the fast path."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config import REPO_ROOT
from gateway.documents.packs import load_pack
from gateway.documents.rules import RULES, RuleContext
from gateway.documents.validator import DocumentValidator
from gateway.documents.view import JsonNode
from gateway.ecommerce.columns import CONSIGNMENT_COLUMNS, ITEM_COLUMNS
from gateway.ecommerce.consignments import Consignment, assemble
from gateway.ecommerce.document import consignment_document, decimal_text, document_bytes
from gateway.ecommerce.policy import LvcPolicy
from gateway.ecommerce.rows import TEXT_LIMITS, Row, parse_row
from gateway.ecommerce.rules import LvcRules
from gateway.errors import DocumentInvalid
from tests.unit.test_ecommerce_rows import GOOD, SECRET

PACK = REPO_ROOT / "schemas" / "hk.ecom.lvc"
CONTEXT = RuleContext(today=date(2026, 11, 26))


def _consignment(*rows: dict[str, Any]) -> Consignment:
    [result] = assemble((index, parse_row(row, index)) for index, row in enumerate(rows))
    assert result.consignment is not None, result.problems
    return result.consignment


def _rows_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    header = {column: document[column] for column in CONSIGNMENT_COLUMNS}
    return [{**header, **item} for item in document["items"]]


def test_canonical_bytes_are_sorted_compact_with_decimal_strings() -> None:
    consignment = _consignment(GOOD, {**GOOD, "description": "Jeans", "quantity": "1", "value": "129.90"})
    expected = (
        b'{"buyer_id_ref":"KYC-SECRET-4242","buyer_name":"Chan Tai Man",'
        b'"consignee_address":"Flat 12B, 8/F, Block 3, Laguna City, Kwun Tong, Kowloon",'
        b'"consignment_ref":"LVC-T-000001","currency":"CNY","destination_country":"HK",'
        b'"documentType":"hk.ecom.lvc","items":['
        b'{"description":"Women\'s T-shirt, knitted cotton","gross_weight_kg":"0.66","hs_code":"61091000",'
        b'"origin_country":"CN","quantity":"3","unit":"H87","value":"87.5"},'
        b'{"description":"Jeans","gross_weight_kg":"0.66","hs_code":"61091000",'
        b'"origin_country":"CN","quantity":"1","unit":"H87","value":"129.9"}],'
        b'"order_ref":"3817264095523418","platform":"Taobao",'
        b'"seller_country":"CN","seller_name":"Guangzhou Yuexiu Meiyi Garment Trading Co., Ltd.",'
        b'"tracking_no":"SF1402837746519","transport_mode":"road"}'
    )
    assert document_bytes(consignment) == expected


def test_equal_values_give_equal_bytes_whatever_their_spelling() -> None:
    csv_like = _consignment({**GOOD, "value": "087.50", "quantity": "3.000", "gross_weight_kg": "0.66"})
    json_like = _consignment({**GOOD, "value": 87.5, "quantity": 3, "gross_weight_kg": 0.66})
    assert document_bytes(csv_like) == document_bytes(json_like)


def test_document_keys_are_the_columns() -> None:
    document = consignment_document(_consignment(GOOD))
    assert set(document) == {"documentType", "items", *CONSIGNMENT_COLUMNS}
    assert set(document["items"][0]) == set(ITEM_COLUMNS)


@pytest.mark.parametrize(
    ("number", "text"),
    [("59.90", "59.9"), ("100", "100"), ("1E+2", "100"), ("0.001", "0.001"), ("1E-7", "0.0000001")],
)
def test_decimal_text_is_the_shortest_plain_decimal(number: str, text: str) -> None:
    assert decimal_text(Decimal(number)) == text


def test_a_hand_built_row_also_serialises_canonically() -> None:
    row = parse_row(GOOD, 0)
    assert isinstance(row, Row)
    fields = {name: getattr(row, name) for name in Row.__dataclass_fields__}
    odd = Row(**{**fields, "value": Decimal("8.75E+1"), "quantity": Decimal("3.00")})
    assert document_bytes(Consignment((odd,))) == document_bytes(Consignment((row,)))


# ---- the schema pack ------------------------------------------------------------------------------


def _validator(policy: LvcPolicy | None = None) -> DocumentValidator:
    rules = {**RULES, "hk.ecom.lvc": LvcRules(policy or LvcPolicy())}
    return DocumentValidator([load_pack(PACK)], rules=rules, today=lambda: CONTEXT.today)


def _examples(kind: str) -> list[Path]:
    return sorted((PACK / "examples" / kind).glob("*.json"))


def test_pack_reads_as_the_brief_says() -> None:
    pack = load_pack(PACK)
    assert (pack.id, pack.routes, pack.rules) == ("hk.ecom.lvc", ("customs", "logistics"), "hk.ecom.lvc")
    assert [(form.format, form.key) for form in pack.forms] == [("json", "hk.ecom.lvc")]
    assert isinstance(RULES["hk.ecom.lvc"], LvcRules)


def test_schema_lengths_agree_with_the_row_parser() -> None:
    schema = orjson.loads((PACK / "lvc.schema.json").read_bytes())
    defs = schema["$defs"]

    def max_length(spec: dict[str, Any]) -> int:
        spec = defs[spec["$ref"].removeprefix("#/$defs/")] if "$ref" in spec else spec
        return int(spec["maxLength"])

    properties = {**schema["properties"], **defs["item"]["properties"]}
    assert {column: max_length(properties[column]) for column in TEXT_LIMITS} == dict(TEXT_LIMITS)
    assert set(schema["required"]) == {"documentType", "items", *CONSIGNMENT_COLUMNS}
    assert set(defs["item"]["required"]) == set(ITEM_COLUMNS)


@pytest.mark.parametrize("path", _examples("valid"), ids=lambda path: path.name)
def test_valid_examples_pass_and_are_what_the_fast_path_builds_from_their_rows(path: Path) -> None:
    assert _validator().validate(path.read_bytes(), "json").document_type == "hk.ecom.lvc"
    document = orjson.loads(path.read_bytes())
    rebuilt = document_bytes(_consignment(*_rows_of(document)))
    assert rebuilt == orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize("path", _examples("invalid"), ids=lambda path: path.name)
def test_invalid_examples_give_their_expected_codes(path: Path) -> None:
    expected = tomllib.loads(path.with_name(f"{path.stem}.expected.toml").read_text("utf-8"))["codes"]
    with pytest.raises(DocumentInvalid) as caught:
        _validator().validate(path.read_bytes(), "json")
    codes = {problem.code for problem in caught.value.problems}
    assert codes == set(expected) or (expected == ["schema"] and all(c.startswith("schema.") for c in codes))
    assert all(SECRET not in problem.message for problem in caught.value.problems)


def test_rule_paths_point_into_the_document_and_header_problems_come_once() -> None:
    document = orjson.loads(
        (PACK / "examples" / "valid" / "us-amazon-phone-accessories-air.json").read_bytes()
    )
    document["seller_country"] = "UK"
    document["items"][1]["unit"] = "PCS"
    document["items"][2]["value"] = "9999.99"
    problems = LvcRules()(JsonNode.of(document), CONTEXT)
    assert [(problem.code, problem.path) for problem in problems] == [
        ("lvc.country", "/seller_country"),
        ("lvc.unit", "/items/1/unit"),
        ("lvc.threshold", "/items"),
    ]


def test_rules_apply_the_configured_policy() -> None:
    body = (PACK / "examples" / "valid" / "cn-taobao-garments-road.json").read_bytes()
    strict = LvcPolicy(threshold_hkd=Decimal(100))
    with pytest.raises(DocumentInvalid) as caught:
        _validator(strict).validate(body, "json")
    assert [(p.code, p.path) for p in caught.value.problems] == [("lvc.threshold", "/items")]
    few = LvcPolicy(max_items_per_consignment=1)
    with pytest.raises(DocumentInvalid) as caught:
        _validator(few).validate(body, "json")
    assert [(p.code, p.path) for p in caught.value.problems] == [("lvc.too-many-items", "/items/1")]
