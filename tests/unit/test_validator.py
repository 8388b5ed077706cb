from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest

from gateway.config import Settings
from gateway.documents.packs import discover_packs, load_pack
from gateway.documents.validator import DocumentValidator, media_format
from gateway.errors import (
    DocumentInvalid,
    PackError,
    UnknownDocumentType,
    UnsafeDocument,
    UnsupportedMediaType,
)
from tests.conftest import WCO_DIR
from tests.examples import examples, wco_samples


@pytest.fixture(scope="module")
def validator() -> DocumentValidator:
    packs = discover_packs([Settings().builtin_packs_dir, WCO_DIR])
    return DocumentValidator(packs, today=lambda: date(2026, 11, 26))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/xml", "xml"),
        ("text/xml; charset=utf-8", "xml"),
        ("application/vnd.wco.dec+xml", "xml"),
        ("application/json", "json"),
        ("Application/JSON; charset=UTF-8", "json"),
        ("application/problem+json", "json"),
    ],
)
def test_media_format(header: str, expected: str) -> None:
    assert media_format(header) == expected


@pytest.mark.parametrize(
    "header", [None, "", "text/plain", "multipart/form-data", "application/octet-stream"]
)
def test_unsupported_media_types(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        media_format(header)


def test_valid_examples_of_every_shipped_form_pass(validator: DocumentValidator) -> None:
    for pack in ("hk.tdec", "hk.aci.road"):
        for path in examples(pack):
            document = validator.validate(path.read_bytes(), "json" if path.suffix == ".json" else "xml")
            assert document.document_type == pack


def test_wco_samples_are_recognised_by_root_element(validator: DocumentValidator) -> None:
    valid, invalid = wco_samples()
    assert validator.validate(valid[0].read_bytes(), "xml").document_type == "wco.dec-dms"
    with pytest.raises(DocumentInvalid) as caught:
        validator.validate(invalid.read_bytes(), "xml")
    assert caught.value.document_type == "wco.dec-dms"
    assert any(p.path.endswith("/unknown") and p.code == "xsd.invalid" for p in caught.value.problems)


def test_json_schema_reports_every_missing_field_once(validator: DocumentValidator) -> None:
    with pytest.raises(DocumentInvalid) as caught:
        validator.validate(orjson.dumps({"documentType": "hk.tdec"}), "json")

    paths = [p.path for p in caught.value.problems]
    assert len(paths) == len(set(paths)) > 3
    assert all(p.code.startswith("schema.") for p in caught.value.problems)


def test_unknown_types_and_unsafe_input(validator: DocumentValidator) -> None:
    with pytest.raises(UnknownDocumentType):
        validator.validate(b'{"documentType": "nope"}', "json")
    with pytest.raises(UnknownDocumentType):
        validator.validate(b"<root/>", "xml")
    with pytest.raises(UnsafeDocument):
        validator.validate(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', "xml")
    with pytest.raises(UnsafeDocument):
        validator.validate(b"\xff\xfe{}", "json")


def test_a_pack_naming_an_unknown_rule_set_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"type": "object"}')
    (tmp_path / "pack.toml").write_text(
        'id = "a"\nroutes = ["customs"]\nrules = "no-such-rules"\n'
        'format = "json"\nmatch = "a"\nschema = "s.json"\n'
    )
    with pytest.raises(PackError, match="unknown rule set"):
        DocumentValidator([load_pack(tmp_path)])


def test_two_packs_claiming_one_root_are_refused(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "s.json").write_text('{"type": "object"}')
        (tmp_path / name / "pack.toml").write_text(
            f'id = "{name}"\nroutes = ["customs"]\nformat = "json"\nmatch = "same"\nschema = "s.json"\n'
        )
    with pytest.raises(PackError, match="claimed by"):
        DocumentValidator(discover_packs([tmp_path]))
