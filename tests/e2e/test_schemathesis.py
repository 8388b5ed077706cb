"""Schemathesis against the served gateway's own OpenAPI document (`/openapi.json`).

`tsw serve` runs as users run it (its own process, a real Kafka broker, SQLite, and PostgreSQL for
two of the roles) and Schemathesis drives every operation of the document the gateway publishes,
once with each role's API key, so that the routes are exercised past authentication: the document's
examples, its coverage cases (boundary values, missing and wrong parameters, unexpected methods) and
Hypothesis-generated valid and invalid requests. Every answer must be no 5xx, and have a status code,
content type, headers and body that the document declares for that operation; what violates the
document must be refused; a route that declares the API key must refuse a request without one; a
method the document does not offer must answer 405 with `Allow`.

Bounded: `MAX_EXAMPLES` generated requests per operation (plus the coverage cases), request
timeouts, a short read of the never-ending `GET /v1/events` stream.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from gateway.localkafka import LocalKafka
from tests.conftest import fresh_postgres_database
from tests.e2e.conftest import serve_gateway, tsw

MAX_EXAMPLES = 30

#: Every check Schemathesis 4 offers for single requests (the others need its stateful phase).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
]

#: The tags of the operations each role may use: they must be answered past authentication.
ROLE_TAGS = {
    "trader": {"declarations", "e-commerce fast path", "batches", "events", "webhooks", "system"},
    "forwarder": {"declarations", "e-commerce fast path", "batches", "events", "webhooks", "system"},
    "agency": {"system"},
    "admin": {"admin", "system"},
}
_REFUSED = {401, 403}

schema = schemathesis.pytest.from_fixture("gateway_schema")
# JSON Lines batch files are text: sent as they are (Schemathesis has no serializer of its own for them).
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
#: run (role and database) -> operation label -> statuses answered
_answered: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))


def _config(base_url: str, api_key: str) -> schemathesis.Config:
    config: dict[str, Any] = {
        "base-url": base_url,
        "request-timeout": 20,
        "auth": {"openapi": {"ApiKey": {"bearer": api_key}}},
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {
            "enabled": False,
            **{name: {"enabled": True} for name in CHECKS},
            "response_schema_conformance": {"enabled": True, "validate-formats": True},
        },
        "operations": [
            # The status feed never ends: read what is there for a moment, and no more of it.
            {"include-path": "/v1/events", "request-timeout": 0.5, "generation": {"max-examples": 5}},
            # A batch file is taken whole and judged record by record in its job (202 at once): any text
            # is a JSON Lines upload, so a "schema-violating" one (a JSON value sent as text) cannot exist.
            {
                "include-path": "/v1/batches",
                "include-method": "POST",
                "checks": {"negative_data_rejection": {"enabled": False}},
            },
        ],
    }
    return schemathesis.Config.from_dict(config)


#: Every role on SQLite; on PostgreSQL (whose text refuses what SQLite stores) the two that reach most.
RUNS = [(role, "sqlite") for role in sorted(ROLE_TAGS)] + [("trader", "postgres"), ("admin", "postgres")]


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    async with fresh_postgres_database(postgres_url) as url:
        yield url


@pytest.fixture(params=RUNS, ids=[f"{role}-{backend}" for role, backend in RUNS])
def gateway_schema(
    request: pytest.FixtureRequest, tmp_path: Path, kafka: LocalKafka
) -> Iterator[schemathesis.BaseSchema]:
    role, backend = request.param
    # Schemathesis 4.32 names each operation's subtest through `Node._nodeid`, which pytest 9.2 renamed.
    node: Any = request.node
    node._nodeid = request.node.nodeid
    # No rate limits here: a 429 would end each request before the route it is meant to test.
    settings = {"TSW_RATE_LIMIT_PER_S": "0", "TSW_BULK_RATE_LIMIT_PER_S": "0"}
    if backend == "postgres":
        settings["TSW_DATABASE_URL"] = request.getfixturevalue("postgres_database")
    with serve_gateway(tmp_path, kafka, **settings) as (url, env):
        agency = ["--agency", "customs"] if role == "agency" else []
        added = tsw("clients", "add", f"schemathesis-{role}", "--role", role, *agency, env=env)
        api_key = added.stdout.strip().splitlines()[-1]
        document = httpx.get(f"{url}/openapi.json").json()
        yield schemathesis.openapi.from_url(f"{url}/openapi.json", config=_config(url, api_key))
        assert httpx.get(f"{url}/healthz").status_code == 200
    _check_every_operation_answered(request.node.callspec.id, role, document)


def _check_every_operation_answered(run: str, role: str, document: dict[str, Any]) -> None:
    answered = _answered.pop(run)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            assert answered.get(label), f"{label} was never called"
            if set(operation.get("tags", [])) & ROLE_TAGS[role]:
                assert answered[label] - _REFUSED, f"{label} never got past authentication as {role}"


@pytest.mark.slow
@schema.parametrize()
def test_every_answer_is_what_the_openapi_document_says(
    case: schemathesis.Case, request: pytest.FixtureRequest
) -> None:
    response = case.call_and_validate()
    _answered[request.node.callspec.id][case.operation.label].add(response.status_code)
