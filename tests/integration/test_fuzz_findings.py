"""What the fuzzers (Schemathesis, Hypothesis) once found answered wrongly, each kept as a plain case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import RunningGateway


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
