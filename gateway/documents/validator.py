"""Validation of a submitted body: find its document type, check schema, then business rules.

`DocumentValidator` is built once from the loaded schema packs (every schema compiled at start-up)
and is then a pure function of the request body: it returns a `ValidatedDocument` or raises a
`DocumentError` carrying every problem found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.documents.json_form import CompiledJsonSchema, parse_json
from gateway.documents.packs import Format, PackForm, SchemaPack
from gateway.documents.problems import Problem
from gateway.documents.rules import RULES, RuleContext, RuleSet, hong_kong_today
from gateway.documents.view import JsonNode, XmlNode
from gateway.documents.xml_form import CompiledXsd, parse_xml
from gateway.errors import DocumentInvalid, PackError, UnknownDocumentType, UnsupportedMediaType

__all__ = ["DocumentValidator", "ValidatedDocument", "media_format"]


@dataclass(frozen=True, slots=True)
class ValidatedDocument:
    pack: SchemaPack
    format: Format

    @property
    def document_type(self) -> str:
        return self.pack.id


def media_format(content_type: str | None) -> Format:
    """`xml` or `json` from a Content-Type header, else `UnsupportedMediaType`."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/xml", "text/xml") or media.endswith("+xml"):
        return "xml"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    raise UnsupportedMediaType(
        f"unsupported media type {media or '(none)'}: send application/xml or application/json"
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    pack: SchemaPack
    schema: CompiledXsd | CompiledJsonSchema
    rules: RuleSet | None


class DocumentValidator:
    def __init__(
        self,
        packs: Sequence[SchemaPack],
        *,
        rules: Mapping[str, RuleSet] = RULES,
        today: Callable[[], date] = hong_kong_today,
    ) -> None:
        self._xml: dict[str, _Entry] = {}
        self._json: dict[str, _Entry] = {}
        self._today = today
        for pack in packs:
            rule_set = _rule_set(pack, rules)
            for form in pack.forms:
                self._register(pack, form, rule_set)

    @property
    def packs(self) -> list[SchemaPack]:
        return list(
            {entry.pack.id: entry.pack for entry in (*self._xml.values(), *self._json.values())}.values()
        )

    def validate(self, body: bytes, fmt: Format) -> ValidatedDocument:
        if fmt == "xml":
            return self._validate_xml(body)
        return self._validate_json(body)

    def _register(self, pack: SchemaPack, form: PackForm, rule_set: RuleSet | None) -> None:
        table = self._xml if form.format == "xml" else self._json
        if form.key in table:
            raise PackError(
                f"{form.format} key {form.key!r} claimed by {table[form.key].pack.id} and {pack.id}"
            )
        schema = (
            CompiledXsd(form.schema_path) if form.format == "xml" else CompiledJsonSchema(form.schema_path)
        )
        table[form.key] = _Entry(pack=pack, schema=schema, rules=rule_set)

    def _validate_xml(self, body: bytes) -> ValidatedDocument:
        root = parse_xml(body)
        entry = self._xml.get(str(root.tag)) if isinstance(root.tag, str) else None
        if entry is None:
            raise UnknownDocumentType(f"no document type has the XML root element {root.tag}")
        assert isinstance(entry.schema, CompiledXsd)
        problems = entry.schema.problems(root)
        if not problems and entry.rules is not None:
            problems = entry.rules(XmlNode.of(root), RuleContext(today=self._today()))
        return self._result(entry, "xml", problems)

    def _validate_json(self, body: bytes) -> ValidatedDocument:
        document: Any = parse_json(body)
        kind = document.get("documentType") if isinstance(document, dict) else None
        entry = self._json.get(kind) if isinstance(kind, str) else None
        if entry is None:
            raise UnknownDocumentType(f"no document type matches documentType {kind!r}")
        assert isinstance(entry.schema, CompiledJsonSchema)
        problems = entry.schema.problems(document)
        if not problems and entry.rules is not None:
            problems = entry.rules(JsonNode.of(document), RuleContext(today=self._today()))
        return self._result(entry, "json", problems)

    @staticmethod
    def _result(entry: _Entry, fmt: Format, problems: list[Problem]) -> ValidatedDocument:
        if problems:
            raise DocumentInvalid(problems, document_type=entry.pack.id)
        return ValidatedDocument(pack=entry.pack, format=fmt)


def _rule_set(pack: SchemaPack, rules: Mapping[str, RuleSet]) -> RuleSet | None:
    if pack.rules is None:
        return None
    if pack.rules not in rules:
        raise PackError(f"pack {pack.id}: unknown rule set {pack.rules!r} (known: {sorted(rules)})")
    return rules[pack.rules]
