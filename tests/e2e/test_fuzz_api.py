"""Property: whatever bytes arrive at a route that takes a body, the served gateway answers 4xx
problem+json or 2xx, never 5xx, never hangs, and stays up."""

from __future__ import annotations

import string
from collections.abc import Iterator

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import tsw

_ROUTES = [
    ("/v1/declarations", "application/xml"),
    ("/v1/declarations", "application/json"),
    ("/v1/ecommerce/consignments", "application/json"),
    ("/v1/ecommerce/consignments", "text/csv"),
    ("/v1/batches", "application/x-ndjson"),
    ("/v1/batches", "text/csv"),
    ("/v1/batches", "application/xml"),
    ("/v1/batches", "application/zip"),
    ("/v1/webhooks", "application/json"),
    ("/v1/signing-keys", "application/json"),
    ("/v1/declarations/00000000-0000-7000-8000-000000000000/cancellation", "application/json"),
]

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what orjson can write
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
_xml_like = st.lists(
    st.sampled_from(
        ["<", ">", "/", "=", '"', "&", ";", "<!DOCTYPE x>", "<!ENTITY", "<?xml", "a", "é", "\x00"]
    ),
    max_size=40,
).map("".join)
_csv_like = st.lists(
    st.sampled_from([",", '"', "\n", "\r", "a", "1", "é", "consignment_ref"]), max_size=60
).map("".join)
_bodies = st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda value: orjson.dumps(value)),
    _xml_like.map(str.encode),
    _csv_like.map(str.encode),
    st.text(alphabet=string.printable, max_size=200).map(str.encode),
    st.integers().map(lambda number: f'[{{"documentType": "hk.tdec", "n": {number}}}]'.encode()),  # huge ints
)


@pytest.fixture
def api(served: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    url, env = served
    api_key = tsw("clients", "add", "fuzz-trader", env=env).stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(_ROUTES), body=_bodies)
def test_no_body_makes_the_gateway_fail(api: httpx.Client, route: tuple[str, str], body: bytes) -> None:
    path, content_type = route
    answer = api.post(path, content=body, headers={"Content-Type": content_type})
    assert answer.status_code < 500, (path, content_type, body, answer.text)
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        assert "Traceback" not in answer.text and "/work/" not in answer.text
    assert api.get("/healthz").status_code == 200


_SIGNATURE_TEXT = string.ascii_letters + string.digits + '-_.=+/ {}":,'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Stripped: HTTP cannot carry a header value that starts or ends with a space (h11 refuses to send it).
@given(signature=st.text(alphabet=_SIGNATURE_TEXT, max_size=300).map(str.strip))
def test_no_signature_header_makes_the_gateway_fail(api: httpx.Client, signature: str) -> None:
    """Whatever `TSW-Signature` arrives (the caller has no keys), it is a 401 signature refusal."""
    answer = api.post(
        "/v1/declarations",
        content=b"<TradeDeclaration/>",
        headers={"Content-Type": "application/xml", "TSW-Signature": signature},
    )
    assert answer.status_code == 401, (signature, answer.text)
    assert answer.json()["errors"][0]["code"].startswith("signature."), answer.text
