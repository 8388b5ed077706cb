"""Every example of every schema pack under schemas/ is checked by its schema and its business rules.

Valid examples must raise no problem at all. Each invalid example has a same-named ``.expected.toml``
whose ``codes`` lists exactly the problem codes it must produce (``schema`` for a document its
schema refuses; business rules only run on schema-valid documents). XML examples are also turned
into their JSON form by the naming convention (PascalCase elements -> camelCase keys, wrapper
elements -> arrays) to prove the two schemas describe the same document and the rules find the same
problems at corresponding paths.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from gateway.documents.problems import Problem
from gateway.documents.rules import RULES, RuleContext
from gateway.documents.view import JsonNode, XmlNode

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TODAY = date(2026, 11, 26)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


@dataclass(frozen=True)
class Form:
    format: str
    key: str  # XML root QName or JSON documentType
    schema: Path


@dataclass(frozen=True)
class Pack:
    directory: Path
    id: str
    rules: str | None
    forms: tuple[Form, ...]

    def form(self, fmt: str) -> Form:
        return next(form for form in self.forms if form.format == fmt)


def _load_pack(directory: Path) -> Pack:
    data = tomllib.loads((directory / "pack.toml").read_text("utf-8"))
    forms = tuple(
        Form(form["format"], form.get("root") or form["match"], directory / form["schema"])
        for form in data["forms"]
    )
    return Pack(directory, data["id"], data.get("rules"), forms)


@cache
def _packs() -> tuple[Pack, ...]:
    return tuple(_load_pack(path.parent) for path in sorted(SCHEMAS.glob("*/pack.toml")))


def _own_packs() -> list[Pack]:
    return [pack for pack in _packs() if (pack.directory / "examples").is_dir()]


def _examples(kind: str) -> list[tuple[Pack, Path]]:
    return [
        (pack, path)
        for pack in _own_packs()
        for path in sorted((pack.directory / "examples" / kind).iterdir())
        if path.suffix in (".xml", ".json")
    ]


def _example_id(value: Any) -> str:
    return value.name if isinstance(value, Path) else value.id if isinstance(value, Pack) else str(value)


@cache
def _xsd(path: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path), _PARSER))


@cache
def _json_schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


@cache
def _json_validator(path: Path) -> Any:
    return fastjsonschema.compile(_json_schema(path))


def _rules(pack: Pack, root: Any) -> list[Problem]:
    assert pack.rules is not None
    return RULES[pack.rules](root, RuleContext(today=TODAY))


def _check_xml(pack: Pack, path: Path) -> tuple[list[Problem], bool]:
    """The rule problems of an XML example, and whether its schema accepted it."""
    root = etree.parse(str(path), _PARSER).getroot()
    form = pack.form("xml")
    assert root.tag == form.key
    if not _xsd(form.schema).validate(root):
        return [], False
    return _rules(pack, XmlNode.of(root)), True


def _check_json(pack: Pack, document: Any) -> tuple[list[Problem], bool]:
    form = pack.form("json")
    assert document["documentType"] == form.key
    try:
        _json_validator(form.schema)(document)
    except fastjsonschema.JsonSchemaValueException:
        return [], False
    return _rules(pack, JsonNode.of(document)), True


def _check(pack: Pack, path: Path) -> tuple[list[Problem], bool]:
    if path.suffix == ".xml":
        return _check_xml(pack, path)
    return _check_json(pack, orjson.loads(path.read_bytes()))


def test_there_are_packs_with_examples() -> None:
    assert {pack.id for pack in _own_packs()} >= {"hk.tdec", "hk.aci.road"}


@pytest.mark.parametrize("pack", _own_packs(), ids=_example_id)
def test_each_pack_has_enough_examples_and_every_invalid_one_says_what_it_expects(pack: Pack) -> None:
    valid = list((pack.directory / "examples" / "valid").iterdir())
    for form in pack.forms:  # three valid examples of each form the pack has (hk.ecom.lvc: JSON only)
        assert len([path for path in valid if path.suffix == f".{form.format}"]) >= 3
    invalid_dir = pack.directory / "examples" / "invalid"
    documents = {path.stem for path in invalid_dir.iterdir() if path.suffix in (".xml", ".json")}
    expectations = {path.name.removesuffix(".expected.toml") for path in invalid_dir.glob("*.expected.toml")}
    assert documents and documents == expectations


@pytest.mark.parametrize("pack", _own_packs(), ids=_example_id)
def test_json_schemas_are_draft_2020_12_and_compile_with_fastjsonschema(pack: Pack) -> None:
    schema_path = pack.form("json").schema
    schema = _json_schema(schema_path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["documentType"]["const"] == pack.form("json").key
    assert "documentType" in schema["required"]
    assert callable(_json_validator(schema_path))


@pytest.mark.parametrize(("pack", "path"), _examples("valid"), ids=_example_id)
def test_valid_examples_pass_schema_and_rules(pack: Pack, path: Path) -> None:
    problems, schema_valid = _check(pack, path)
    assert schema_valid
    assert problems == []
    if path.suffix == ".json":  # the slow reference validator agrees with the fast one
        reference = Draft202012Validator(_json_schema(pack.form("json").schema))
        assert reference.is_valid(orjson.loads(path.read_bytes()))


@pytest.mark.parametrize(("pack", "path"), _examples("invalid"), ids=_example_id)
def test_invalid_examples_report_exactly_the_expected_codes(pack: Pack, path: Path) -> None:
    expected = tomllib.loads(path.with_name(f"{path.stem}.expected.toml").read_text("utf-8"))["codes"]
    problems, schema_valid = _check(pack, path)
    codes = {problem.code for problem in problems} if schema_valid else {"schema"}
    assert codes == set(expected)
    assert all(problem.path and problem.message for problem in problems)


# ---- the two forms are one document ---------------------------------------------------------------


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    return schema


def _to_json(element: etree._Element, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    schema = _resolve(schema, root)
    kind = schema.get("type")
    if kind == "object":
        return {
            _camel(_local(child)): _to_json(child, schema["properties"][_camel(_local(child))], root)
            for child in element.iterchildren(tag=etree.Element)
        }
    if kind == "array":
        return [_to_json(item, schema["items"], root) for item in element.iterchildren(tag=etree.Element)]
    text = (element.text or "").strip()
    return int(text) if kind == "integer" else float(text) if kind == "number" else text


def _pointer(xml_path: str, root: dict[str, Any]) -> str:
    """The JSON Pointer corresponding to an XML path of the view, following the JSON schema."""
    tokens: list[str] = []
    schema = root
    in_array = False
    for step in xml_path.strip("/").split("/")[1:]:
        name, _, predicate = step.partition("[")
        if in_array:
            tokens.append(str(int(predicate.rstrip("]") or 1) - 1))
            schema, in_array = _resolve(schema["items"], root), False
            continue
        tokens.append(_camel(name))
        schema = _resolve(schema["properties"][_camel(name)], root)
        in_array = schema.get("type") == "array"
    return "/" + "/".join(tokens)


def _schema_valid_xml_examples() -> list[tuple[Pack, Path]]:
    return [
        (pack, path)
        for kind in ("valid", "invalid")
        for pack, path in _examples(kind)
        if path.suffix == ".xml" and _check_xml(pack, path)[1]
    ]


@pytest.mark.parametrize(("pack", "path"), _schema_valid_xml_examples(), ids=_example_id)
def test_xml_examples_in_json_form_are_valid_and_break_the_same_rules_at_the_same_places(
    pack: Pack, path: Path
) -> None:
    schema = _json_schema(pack.form("json").schema)
    root = etree.parse(str(path), _PARSER).getroot()
    document = {"documentType": pack.id, **_to_json(root, schema, schema)}
    xml_problems, _ = _check_xml(pack, path)
    json_problems, json_schema_valid = _check_json(pack, document)
    assert json_schema_valid
    translated = sorted((problem.code, _pointer(problem.path, schema)) for problem in xml_problems)
    assert translated == sorted((problem.code, problem.path) for problem in json_problems)
