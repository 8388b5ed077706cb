"""The served OpenAPI document: every error answer declared, as problem+json with its schema.

Each route declares the statuses particular to it (404, 409, 413, 415, ...). What any route can
answer is added here, once, so that no route forgets it and routes added later get it too:

- every operation: `503` (the request deadline of `gateway.api.deadline`, or the database down),
  with `Retry-After`;
- every operation that authenticates (it names the `ApiKey` security scheme): `401` (with
  `WWW-Authenticate`), `403` and `429` (with `Retry-After`);
- every operation with parameters or a body: `422`, a request that does not match this document, and
  `400`, a value the database cannot store (a NUL character: `gateway.store.uow`) or a body that
  cannot be read at all (FastAPI answers so when a JSON body is not UTF-8, before any dependency,
  authentication included, runs).

Every 4xx and 5xx is then `application/problem+json` (RFC 9457) with the `ProblemDetails` schema, or
the schema the route gave (its `model`, moved from `application/json`, where FastAPI puts it). FastAPI's
own `HTTPValidationError` is dropped: `gateway.api.problems` answers a request that fails validation
with a problem, never with that shape.

`POST /v1/declarations` also gets, as request examples, every valid example document of the loaded
schema packs (`<pack>/examples/valid/*.xml|json`), and `POST /v1/batches` a JSON Lines file of the
JSON ones: documentation that is checked, since the tests (Schemathesis) send each example.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gateway.api.schemas import ProblemDetails
from gateway.documents.packs import SchemaPack

__all__ = ["install_openapi"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string"},
    }
}
_ANY_ROUTE: dict[str, dict[str, Any]] = {
    "503": {
        "description": "Not answered in time, or a dependency (the database) is unavailable; retry later",
        "headers": _RETRY_AFTER,
    }
}
_AUTHENTICATED: dict[str, dict[str, Any]] = {
    "401": {
        "description": "Missing, unknown, expired or revoked API key",
        "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    },
    "403": {"description": "The client's role may not use this operation"},
    "429": {"description": "Over the client's rate limit", "headers": _RETRY_AFTER},
}
_WITH_INPUT: dict[str, dict[str, Any]] = {
    "400": {"description": "A value that cannot be stored (a NUL character), or a body that cannot be read"},
    "422": {"description": "A parameter or body that does not match this document: every problem listed"},
}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def install_openapi(app: FastAPI, *, packs: Sequence[SchemaPack] = ()) -> None:
    """Serve `app`'s document with the error answers completed and the packs' examples (built once,
    on first request)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = with_problem_answers(build())
            _add_submission_examples(document, packs)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problem_answers(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["ProblemDetails"] = problem_schema
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _METHODS:
                _complete(operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in _text(document, without=unused):
            schemas.pop(unused, None)
    return document


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    added = dict(_ANY_ROUTE)
    if operation.get("security"):
        added |= _AUTHENTICATED
    if operation.get("parameters") or operation.get("requestBody"):
        added |= _WITH_INPUT
    for status, default in added.items():
        declared = responses.setdefault(status, {})
        if status == "422" and _is_fastapi_validation_error(declared):
            declared.clear()
        for key, value in default.items():
            declared.setdefault(key, value)
    for status, response in responses.items():
        if status[0] in "45":
            _as_problem(response)


def _is_fastapi_validation_error(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _as_problem(response: dict[str, Any]) -> None:
    content: dict[str, Any] = response.setdefault("content", {})
    model = content.pop("application/json", {}).get("schema")
    problem = content.setdefault(PROBLEM_MEDIA_TYPE, {})
    if not problem.get("schema"):
        problem["schema"] = model or dict(_PROBLEM_REF)
    response.setdefault("description", "Problem")


def _text(document: dict[str, Any], *, without: str) -> str:
    rest = {k: v for k, v in document["components"]["schemas"].items() if k != without}
    return json.dumps([document.get("paths", {}), rest])


def _add_submission_examples(document: dict[str, Any], packs: Sequence[SchemaPack]) -> None:
    paths = document.get("paths", {})
    submit = _request_content(paths, "/v1/declarations")
    json_lines: list[str] = []
    for pack in packs:
        for example in sorted((pack.directory / "examples" / "valid").glob("*")):
            media_type, value = _example(example)
            if media_type is None:
                continue
            if media_type == "application/json":
                json_lines.append(json.dumps(value, separators=(",", ":")))
            if media_type in submit:
                submit[media_type].setdefault("examples", {})[f"{pack.id}/{example.stem}"] = {
                    "summary": f"{pack.title}: {example.stem}",
                    "value": value,
                }
    upload = _request_content(paths, "/v1/batches")
    if json_lines and "application/x-ndjson" in upload:
        upload["application/x-ndjson"]["example"] = "\n".join(json_lines) + "\n"


def _request_content(paths: dict[str, Any], path: str) -> dict[str, Any]:
    body = paths.get(path, {}).get("post", {}).get("requestBody", {})
    content: dict[str, Any] = body.get("content", {})
    return content


def _example(path: Path) -> tuple[str | None, Any]:
    if path.suffix == ".xml":
        return "application/xml", path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return "application/json", json.loads(path.read_bytes())
    return None, None
