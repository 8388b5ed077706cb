"""What the fuzzers (Schemathesis, Hypothesis) once found answered wrongly, each kept as a plain case."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.localkafka import LocalKafka
from tests.conftest import RunningGateway, fresh_postgres_database, gateway_settings, start_gateway
from tests.examples import PACKS

EXAMPLES = PACKS / "hk.tdec" / "examples" / "valid"


@pytest.mark.parametrize("days", [1e308, 10**9, 36_601])
async def test_a_client_expiring_past_any_date_is_a_422_not_a_500(
    running: RunningGateway, days: float
) -> None:
    """`expires_in_days` of 6.5e307 once overflowed `timedelta` and answered 500."""
    admin = await running.add_client("root", "admin")
    answer = await running.http.post(
        "/v1/admin/clients", json={"name": "far", "role": "trader", "expires_in_days": days}, headers=admin
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["path"] == "/body/expires_in_days"


async def test_a_client_expiring_in_a_century_is_created(running: RunningGateway) -> None:
    admin = await running.add_client("root", "admin")
    answer = await running.http.post(
        "/v1/admin/clients", json={"name": "long", "role": "trader", "expires_in_days": 36_600}, headers=admin
    )
    assert answer.status_code == 201, answer.text
    expires_at = datetime.fromisoformat(answer.json()["expires_at"])
    assert expires_at.year >= datetime.now(UTC).year + 99


@pytest.mark.parametrize("url", ["http://xn--/", "https://xn--a.example/", "http://xn--ls8h-.hk/hook"])
async def test_a_webhook_url_with_a_malformed_idna_label_is_a_422_not_a_500(
    running: RunningGateway, url: str
) -> None:
    """Hypothesis found that `httpx.URL(url).host` raises IDNAError for such labels, out of the URL check."""
    trader = await running.add_client("acme", "trader")
    answer = await running.http.post("/v1/webhooks", json={"url": url}, headers=trader)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["code"] for e in answer.json()["errors"]] == ["webhook.url.malformed"]


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("2026-01-01T00:00:00|x"),  # no offset: reached the UTC column and raised (500)
        _cursor("0001-01-01T00:00:00+05:00|x"),  # before year 1 in UTC: OverflowError (500)
        _cursor("9999-12-31T23:59:59-05:00|x"),  # after year 9999 in UTC
        _cursor("not a time|x"),
        "%%%",
    ],
)
async def test_a_forged_listing_cursor_is_a_400(running: RunningGateway, cursor: str) -> None:
    trader = await running.add_client("acme", "trader")
    answer = await running.http.get("/v1/declarations", params={"cursor": cursor}, headers=trader)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == "malformed cursor"


@given(moment=st.datetimes(timezones=st.none() | st.timezones()), tail=st.text(max_size=10))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_listing_cursor_pages_or_is_a_400(
    running: RunningGateway, moment: datetime, tail: str
) -> None:
    trader = await running.add_client(f"t{uuid.uuid4().hex[:8]}", "trader")
    cursor = _cursor(f"{moment.isoformat()}|{tail}")
    answer = await running.http.get("/v1/declarations", params={"cursor": cursor}, headers=trader)
    assert answer.status_code in (200, 400), answer.text


async def test_a_delivery_cursor_past_64_bits_is_a_400(tmp_path: Path, kafka: LocalKafka) -> None:
    """`99999999999999999999` once reached SQLite as an integer it cannot hold (OverflowError: 500)."""
    async with start_gateway(gateway_settings(tmp_path, kafka, webhook_allow_private_hosts=True)) as running:
        trader = await running.add_client("acme", "trader")
        hook = await running.http.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=trader
        )
        path = f"/v1/webhooks/{hook.json()['id']}/deliveries"
        for cursor, status in (("99999999999999999999", 400), (str(2**63), 400), (str(2**63 - 1), 200)):
            answer = await running.http.get(path, params={"cursor": cursor}, headers=trader)
            assert answer.status_code == status, (cursor, answer.text)


async def test_a_document_version_past_32_bits_is_a_422(running: RunningGateway) -> None:
    trader = await running.add_client("acme", "trader")
    body = (EXAMPLES / "import-wine-fr-air.json").read_bytes()
    submitted = await running.http.post(
        "/v1/declarations", content=body, headers={**trader, "Content-Type": "application/json"}
    )
    path = f"/v1/declarations/{submitted.json()['id']}/versions"
    assert (await running.http.get(f"{path}/{2**31 - 1}/document", headers=trader)).status_code == 404
    answer = await running.http.get(f"{path}/{10**20}/document", headers=trader)
    assert answer.status_code == 422, answer.text


@pytest.mark.postgres
async def test_a_nul_character_is_a_400_on_postgresql_not_a_503(
    tmp_path: Path, kafka: LocalKafka, postgres_url: str
) -> None:
    """PostgreSQL text cannot hold NUL: the driver's data error was taken for an outage (503, retry)."""
    async with (
        fresh_postgres_database(postgres_url) as url,
        start_gateway(gateway_settings(tmp_path, kafka, database_url=url)) as running,
    ):
        trader = await running.add_client("acme", "trader")
        admin = await running.add_client("root", "admin")
        for method, path, body, headers in (
            ("GET", "/v1/declarations/a%00b", None, trader),
            ("GET", "/v1/declarations?document_type=a%00b", None, trader),
            ("POST", "/v1/admin/clients", {"name": "a\u0000b", "role": "trader"}, admin),
            ("POST", "/v1/declarations/a%00b/cancellation", None, trader),
        ):
            answer = await running.http.request(method, path, json=body, headers=headers)
            assert answer.status_code == 400, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert (await running.http.get("/readyz")).status_code == 200
