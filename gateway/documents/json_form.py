"""JSON documents: strict parsing and JSON Schema validation compiled once.

Valid documents take the fast path (a fastjsonschema function compiled at start-up). Only when that
refuses a document does a `jsonschema` validator, also built once, walk it again to list every error
with its JSON Pointer, so the trader sees all problems in one answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from gateway.documents.problems import Problem
from gateway.errors import PackError, UnsafeDocument

__all__ = ["CompiledJsonSchema", "parse_json", "pointer"]


def parse_json(body: bytes) -> Any:
    """Parse untrusted JSON bytes (strict UTF-8, nesting limited by orjson) or raise `UnsafeDocument`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnsafeDocument(f"malformed JSON: {exc}") from exc


def pointer(parts: Iterable[object]) -> str:
    """RFC 6901 JSON Pointer for a sequence of keys and indexes."""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "".join(f"/{part}" for part in escaped) or "/"


class CompiledJsonSchema:
    def __init__(self, schema_path: Path) -> None:
        try:
            schema = orjson.loads(schema_path.read_bytes())
            Draft202012Validator.check_schema(schema)
            self._fast = fastjsonschema.compile(schema)
        except (OSError, orjson.JSONDecodeError, fastjsonschema.JsonSchemaDefinitionException) as exc:
            raise PackError(f"{schema_path}: cannot compile JSON Schema: {exc}") from exc
        except Exception as exc:  # jsonschema.SchemaError and friends
            raise PackError(f"{schema_path}: invalid JSON Schema: {exc}") from exc
        self._full = Draft202012Validator(schema)

    def problems(self, document: Any) -> list[Problem]:
        try:
            self._fast(document)
        except fastjsonschema.JsonSchemaValueException:
            pass
        else:
            return []
        found = (problem for error in self._full.iter_errors(document) for problem in _problems_of(error))
        return list(dict.fromkeys(found))  # one `required` error per missing name repeats the others


def _problems_of(error: ValidationError) -> list[Problem]:
    base = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [
            Problem(code="schema.required", path=pointer([*base, name]), message=f"'{name}' is required")
            for name in missing
        ]
    return [Problem(code=f"schema.{error.validator}", path=pointer(base), message=error.message)]
