"""Properties of the document parsers and validators (`gateway.documents`): whatever the body.

- `media_format` names `xml` or `json`, or raises `UnsupportedMediaType` (415);
- `parse_xml` (the hardened parser) returns an element or raises `UnsafeDocument` (400), and refuses
  every DOCTYPE and entity declaration, in any encoding;
- `parse_json` returns a value or raises `UnsafeDocument`, and reads back what orjson wrote;
- `DocumentValidator.validate` (type detection, XSD or JSON Schema, business rules) returns the
  document's type or raises `UnsafeDocument`, `UnknownDocumentType` or `DocumentInvalid` carrying
  located problems: for arbitrary bytes, and for the packs' valid examples broken one place at a
  time (fields deleted, duplicated, renamed, retyped, given other text, nested deep), which gets
  past the schema often enough to exercise the business rules too.

Any other exception would be a 500. Every test is bounded: small inputs, `max_examples`, a timeout.
"""

from __future__ import annotations

import contextlib
import copy
import random
import re
import string
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.config import Settings
from gateway.documents.json_form import parse_json
from gateway.documents.packs import discover_packs
from gateway.documents.validator import DocumentValidator, ValidatedDocument, media_format
from gateway.documents.xml_form import parse_xml
from gateway.errors import DocumentInvalid, UnknownDocumentType, UnsafeDocument, UnsupportedMediaType
from tests.conftest import WCO_DIR
from tests.examples import PACKS, wco_samples

pytestmark = pytest.mark.timeout(180)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALIDATOR = DocumentValidator(
    discover_packs([Settings().builtin_packs_dir, WCO_DIR]), today=lambda: date(2026, 11, 26)
)
EXAMPLES: list[tuple[str, Path]] = [
    (path.parent.parent.parent.name, path)
    for path in sorted(PACKS.glob("*/examples/valid/*"))
    if path.suffix in (".xml", ".json")
] + [("wco.dec-dms", path) for path in wco_samples()[0][:5]]
XML_EXAMPLES = [(pack, path.read_bytes()) for pack, path in EXAMPLES if path.suffix == ".xml"]
JSON_EXAMPLES = [(pack, orjson.loads(path.read_bytes())) for pack, path in EXAMPLES if path.suffix == ".json"]

_text = st.text(max_size=40)
_plausible = st.from_regex(r"[A-Z0-9][A-Z0-9 .:/-]{0,14}", fullmatch=True) | st.sampled_from(
    ["", "0", "-1", "1e400", "9" * 30, "2026-02-30", "2099-01-01", "HK", "XX", "CNSHA", "USD", "KGM"]
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what orjson writes
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=10,
)
_xml_tokens = st.lists(
    st.sampled_from(
        [
            "<",
            ">",
            "</",
            "/>",
            "=",
            '"',
            "&",
            "&amp;",
            "&#0;",
            "&#x110000;",
            ";",
            "<?xml version='1.0'?>",
            "<?xml version='1.0' encoding='latin-1'?>",
            "<!-- -->",
            "<![CDATA[",
            "]]>",
            "<a>",
            "</a>",
            "xmlns='urn:hk:tsw:tdec:1'",
            "<TradeDeclaration xmlns='urn:hk:tsw:tdec:1'>",
            "</TradeDeclaration>",
            "é",
            "\x00",
            "\ufeff",
        ]
    ),
    max_size=30,
).map("".join)


def _check_outcome(outcome: ValidatedDocument | Exception, *, pack: str | None = None) -> None:
    """What `validate` may do: accept, or raise a documented error with every problem located."""
    event(type(outcome).__name__)
    if isinstance(outcome, DocumentInvalid):
        event(
            "rules" if any(not p.code.startswith(("schema.", "xsd.")) for p in outcome.problems) else "schema"
        )
    if isinstance(outcome, ValidatedDocument):
        assert pack is None or outcome.document_type == pack
        return
    assert isinstance(outcome, UnsafeDocument | UnknownDocumentType | DocumentInvalid), repr(outcome)
    if isinstance(outcome, DocumentInvalid):
        assert outcome.problems
        assert pack is None or outcome.document_type == pack
        for problem in outcome.problems:
            assert problem.code and isinstance(problem.path, str) and isinstance(problem.message, str)


def _validate(body: bytes, fmt: str) -> ValidatedDocument | Exception:
    try:
        return VALIDATOR.validate(body, fmt)  # type: ignore[arg-type]
    except (UnsafeDocument, UnknownDocumentType, DocumentInvalid) as exc:
        return exc


# ---- media types


@FUZZ
@given(st.none() | _text | st.sampled_from(["application/xml", "text/xml", "a/b+json", "application/json;x"]))
def test_any_content_type_is_xml_json_or_415(content_type: str | None) -> None:
    with contextlib.suppress(UnsupportedMediaType):
        assert media_format(content_type) in ("xml", "json")


# ---- the XML parser


@FUZZ
@given(st.binary(max_size=300) | _xml_tokens.map(str.encode))
def test_any_bytes_parse_as_xml_or_are_unsafe(body: bytes) -> None:
    try:
        root = parse_xml(body)
    except UnsafeDocument:
        return
    assert isinstance(root, etree._Element)


_HOSTILE = st.sampled_from(
    [
        '<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
        '<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
        '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><x/>',
        '<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>',
        "<!DOCTYPE x><x/>",
    ]
)


@FUZZ
@given(
    _HOSTILE,
    st.sampled_from(["utf-8", "utf-16", "utf-16-be", "utf-32", "utf-8-sig"]),
    st.booleans(),
    st.text(alphabet=" \t\r\n", max_size=3),
)
def test_every_doctype_is_refused_in_any_encoding(
    document: str, encoding: str, declared: bool, space: str
) -> None:
    prolog = f'<?xml version="1.0" encoding="{encoding.removesuffix("-sig")}"?>' if declared else ""
    with pytest.raises(UnsafeDocument):
        parse_xml((prolog + space + document).encode(encoding))


# ---- the JSON parser


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_parse_as_json_or_are_unsafe(body: bytes) -> None:
    with contextlib.suppress(UnsafeDocument):
        parse_json(body)


@FUZZ
@given(_json)
def test_json_reads_back_as_written(value: Any) -> None:
    assert parse_json(orjson.dumps(value)) == value


# ---- the validator, from arbitrary bodies


@FUZZ
@given(
    st.binary(max_size=300)
    | _xml_tokens.map(str.encode)
    | _json.map(orjson.dumps)
    | st.dictionaries(_text, _json, max_size=4).map(lambda d: orjson.dumps({**d, "documentType": "hk.tdec"})),
    st.sampled_from(["xml", "json"]),
)
def test_any_body_is_accepted_or_refused_with_located_problems(body: bytes, fmt: str) -> None:
    _check_outcome(_validate(body, fmt))


# ---- the validator, from valid documents


@pytest.mark.parametrize(("pack", "path"), EXAMPLES, ids=[f"{p}/{path.name}" for p, path in EXAMPLES])
def test_every_valid_example_is_accepted_and_round_trips(pack: str, path: Path) -> None:
    body = path.read_bytes()
    fmt = "xml" if path.suffix == ".xml" else "json"
    assert VALIDATOR.validate(body, fmt).document_type == pack  # type: ignore[arg-type]
    if fmt == "xml":
        reserialised = etree.tostring(parse_xml(body), encoding="utf-8", xml_declaration=True)
    else:
        reserialised = orjson.dumps(parse_json(body), option=orjson.OPT_INDENT_2)
    assert reserialised != body or fmt == "json"
    assert VALIDATOR.validate(reserialised, fmt).document_type == pack  # type: ignore[arg-type]


def _json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _json_paths(child, (*prefix, index))
    return paths


def _nested(depth: int) -> str:
    """A marker that `_dumps` replaces with arrays nested `depth` deep (orjson writes at most 254)."""
    return f"nested:{depth}:"


def _dumps(document: Any) -> bytes:
    body = orjson.dumps(document)
    for depth in {int(d) for d in re.findall(rb'"nested:(\d+):"', body)}:
        body = body.replace(f'"nested:{depth}:"'.encode(), b"[" * depth + b'"deep"' + b"]" * depth)
    return body


_JSON_CHANGES = st.sampled_from(["delete", "json", "plausible", "number", "nested", "similar", "similar"])


def _similar(value: object, rng: random.Random) -> object:
    """The same shape, other content: letters for letters, digits for digits, a number for a number
    (what passes a schema's patterns and types, and leaves the business rules to refuse it)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return type(value)(rng.choice([0, 1, -1, value * 2, value + 1, rng.random() * 10**6]))
    if isinstance(value, str):
        return "".join(_similar_char(c, rng) for c in value)
    return value


def _similar_char(char: str, rng: random.Random) -> str:
    for alphabet in (string.ascii_uppercase, string.ascii_lowercase, string.digits):
        if char in alphabet:
            return rng.choice(alphabet)
    return char


@FUZZ
@given(
    st.sampled_from(JSON_EXAMPLES),
    st.lists(
        st.tuples(st.integers(0, 10**6), _JSON_CHANGES, _json, _plausible, st.integers(1, 1100)), max_size=4
    ),
    st.randoms(use_true_random=False),
)
def test_a_json_document_broken_anywhere_is_refused_with_located_problems(
    example: tuple[str, Any], changes: list[tuple[int, str, Any, str, int]], rng: random.Random
) -> None:
    pack, original = example
    document = copy.deepcopy(original)
    for pick, change, value, text, depth in changes:
        paths = [p for p in _json_paths(document) if p != ("documentType",)]
        if not paths:
            break
        *parents, last = paths[pick % len(paths)]
        container = document
        for part in parents:
            container = container[part]
        if change == "delete":
            del container[last]
        else:
            container[last] = {
                "json": value,
                "plausible": text,
                "number": depth * 1.5,
                "nested": _nested(depth),
                "similar": _similar(container[last], rng),
            }[change]
    _check_outcome(_validate(_dumps(document), "json"), pack=pack)


_XML_CHANGES = st.sampled_from(
    ["delete", "text", "plausible", "duplicate", "rename", "attribute", "child", "deep", "similar", "similar"]
)


@FUZZ
@given(
    st.sampled_from(XML_EXAMPLES),
    st.lists(
        st.tuples(st.integers(0, 10**6), _XML_CHANGES, _text, _plausible, st.integers(1, 300)), max_size=4
    ),
    st.randoms(use_true_random=False),
)
def test_an_xml_document_broken_anywhere_is_refused_with_located_problems(
    example: tuple[str, bytes], changes: list[tuple[int, str, str, str, int]], rng: random.Random
) -> None:
    pack, body = example
    root = parse_xml(body)
    for pick, change, text, plausible, depth in changes:
        elements = [e for e in root.iter() if isinstance(e.tag, str) and e is not root]
        if not elements:
            break
        if change == "similar":
            leaves = [e for e in elements if e.text and e.text.strip() and len(e) == 0]
            leaf = leaves[pick % len(leaves)] if leaves else elements[0]
            leaf.text = str(_similar(leaf.text or "", rng))
            continue
        _change_xml(elements[pick % len(elements)], change, text=text, plausible=plausible, depth=depth)
    _check_outcome(_validate(etree.tostring(root), "xml"), pack=pack)


def _change_xml(element: etree._Element, change: str, *, text: str, plausible: str, depth: int) -> None:
    parent = element.getparent()
    assert parent is not None
    clean = "".join(c for c in text if c.isprintable()) or "x"  # lxml refuses control characters
    if change == "delete":
        parent.remove(element)
    elif change in ("text", "plausible"):
        element.text = clean if change == "text" else plausible
    elif change == "duplicate":
        element.addnext(copy.deepcopy(element))
    elif change == "rename":
        element.tag = etree.QName(etree.QName(element).namespace, "Unexpected").text
    elif change == "attribute":
        element.set("unexpected", clean)
    elif change == "child":
        etree.SubElement(element, etree.QName(etree.QName(element).namespace, "Extra").text).text = plausible
    else:
        for _ in range(depth):
            element = etree.SubElement(element, "deep")


@FUZZ
@given(
    st.sampled_from(
        [(pack, "json", orjson.dumps(doc)) for pack, doc in JSON_EXAMPLES]
        + [(p, "xml", b) for p, b in XML_EXAMPLES]
    ),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
)
def test_a_valid_document_with_values_changed_within_their_shape_is_judged_by_the_rules(
    example: tuple[str, str, bytes], picks: list[int], rng: random.Random
) -> None:
    """Letters for letters, digits for digits: mostly past the schema, so the business rules decide."""
    pack, fmt, body = example
    if fmt == "json":
        document = orjson.loads(body)
        leaves = [
            p
            for p in _json_paths(document)
            if p != ("documentType",) and not isinstance(_at(document, p), dict | list)
        ]
        for pick in picks:
            *parents, last = leaves[pick % len(leaves)]
            container = _at(document, tuple(parents))
            container[last] = _similar(container[last], rng)
        changed = orjson.dumps(document)
    else:
        root = parse_xml(body)
        leaves_xml = [
            e for e in root.iter() if isinstance(e.tag, str) and len(e) == 0 and (e.text or "").strip()
        ]
        for pick in picks:
            leaf = leaves_xml[pick % len(leaves_xml)]
            leaf.text = str(_similar(leaf.text, rng))
        changed = etree.tostring(root)
    _check_outcome(_validate(changed, fmt), pack=pack)


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document
