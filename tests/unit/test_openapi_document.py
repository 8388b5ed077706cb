"""The OpenAPI document as served (`gateway.api.openapi`): every error answer declared as problem+json
with a schema, on every operation; the request bodies and examples Schemathesis drives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.api.app import create_app
from gateway.bootstrap import build_gateway
from gateway.config import Settings

_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi"), messaging="off")
    served: dict[str, Any] = orjson.loads(orjson.dumps(create_app(build_gateway(settings)).openapi()))
    return served


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in _METHODS:
                yield f"{method.upper()} {path}", operation


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_error_answer_is_problem_json_with_a_schema(document: dict[str, Any]) -> None:
    for label, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45":
                continue
            assert list(response["content"]) == ["application/problem+json"], (label, status)
            schema = _resolve(document, response["content"]["application/problem+json"]["schema"])
            assert {"type", "title", "status"} <= set(schema["required"]), (label, status)
            assert "errors" in schema["properties"], (label, status)


def test_what_every_route_can_answer_is_declared(document: dict[str, Any]) -> None:
    secured = 0
    for label, operation in _operations(document):
        statuses = set(operation["responses"])
        assert "503" in statuses, label
        assert operation["responses"]["503"]["headers"]["Retry-After"]["required"], label
        if operation.get("security"):
            secured += 1
            assert {"401", "403", "429"} <= statuses, label
        if operation.get("parameters") or operation.get("requestBody"):
            assert {"400", "422"} <= statuses, label
    assert secured >= 20
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_only_the_public_routes_go_without_an_api_key(document: dict[str, Any]) -> None:
    public = {label for label, operation in _operations(document) if not operation.get("security")}
    assert public == {
        "GET /.well-known/jwks.json",
        "GET /asyncapi.yaml",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    }
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_submissions_take_xml_bytes_or_json_with_every_valid_pack_example(document: dict[str, Any]) -> None:
    content = document["paths"]["/v1/declarations"]["post"]["requestBody"]["content"]
    assert content["application/xml"]["schema"] == {"type": "string", "format": "binary"}
    names = {media: set(content[media]["examples"]) for media in ("application/xml", "application/json")}
    shipped = Path(__file__).resolve().parents[2] / "schemas"
    for media, suffix in (("application/xml", ".xml"), ("application/json", ".json")):
        expected = {
            f"{p.parent.parent.parent.name}/{p.stem}" for p in shipped.glob(f"*/examples/valid/*{suffix}")
        }
        assert expected and expected <= names[media]
    lines = document["paths"]["/v1/batches"]["post"]["requestBody"]["content"]["application/x-ndjson"][
        "example"
    ]
    assert [orjson.loads(line)["documentType"] for line in lines.splitlines()]
