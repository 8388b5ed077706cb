"""Trader webhooks end to end: registration over the API, every status change POSTed to a real local
receiver, signed, retried until it succeeds, logged; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from gateway.contracts.responses import AgencyStatus
from gateway.documents.signing import verify_detached
from gateway.errors import SignatureInvalid
from gateway.localkafka import LocalKafka
from gateway.store.tables import status_history, webhook_deliveries
from gateway.store.webhooks import WebhookRepository
from gateway.webhooks.fanout import WebhookFanout
from tests.conftest import (
    RunningGateway,
    free_port,
    fresh_postgres_database,
    gateway_settings,
    start_gateway,
)
from tests.examples import examples
from tests.integration.test_response_loop import answer, responses_ready, view_when
from tests.kafka_helpers import routed_event_ids
from tests.webhook_receiver import Answer, Received, WebhookReceiver

FAST_RETRIES: dict[str, object] = {
    "webhook_allow_private_hosts": True,  # the receiver listens on 127.0.0.1
    "webhook_backoff_base_ms": 100,
    "webhook_backoff_max_ms": 400,
    "webhook_poll_ms": 50,
    "webhook_timeout_ms": 2000,
    "webhook_max_attempts": 5,
}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite in the test's data dir; else the PostgreSQL server's URL (a fresh database per
    gateway is made from it)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


async def post_json(running: RunningGateway, path: str, body: object, headers: dict[str, str]) -> Any:
    return await running.http.post(
        path, content=orjson.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


async def submit(running: RunningGateway, trader: dict[str, str]) -> str:
    body = examples("hk.tdec", suffix=".json")[0].read_bytes()  # routed to customs and censtatd
    accepted = await running.http.post(
        "/v1/declarations", content=body, headers={**trader, "Content-Type": "application/json"}
    )
    assert accepted.status_code == 202, accepted.text
    declaration_id: str = accepted.json()["id"]
    return declaration_id


async def log_when(
    running: RunningGateway, trader: dict[str, str], webhook_id: str, done: Any, *, timeout_s: float = 60
) -> list[dict[str, Any]]:
    """The webhook's delivery log, once `done(items)` holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            reply = await running.http.get(f"/v1/webhooks/{webhook_id}/deliveries", headers=trader)
            assert reply.status_code == 200, reply.text
            items: list[dict[str, Any]] = reply.json()["items"]
            if done(items):
                return items
            await asyncio.sleep(0.1)


def all_settled(count: int, status: str) -> Any:
    return lambda items: len(items) == count and all(item["status"] == status for item in items)


async def test_status_changes_reach_the_trader_signed_retried_and_logged(
    tmp_path: Path, kafka: LocalKafka, database_url: str | None
) -> None:
    failures = [Answer(500), Answer(503, {"Retry-After": "0"}), Answer(500)]
    async with (
        WebhookReceiver(failures) as receiver,
        _database(database_url) as url,
        _gateway(tmp_path, kafka, url) as running,
    ):
        trader = await running.add_client("hooked-trader")
        other = await running.add_client("other-trader")

        created = await post_json(
            running, "/v1/webhooks", {"url": receiver.url, "description": "ERP"}, trader
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        assert created.headers["location"] == f"/v1/webhooks/{hook['id']}"
        assert {k: hook[k] for k in ("url", "description", "active")} == {
            "url": receiver.url,
            "description": "ERP",
            "active": True,
        }
        dead_url = f"http://127.0.0.1:{free_port()}/nobody-listens"
        dead = (await post_json(running, "/v1/webhooks", {"url": dead_url}, trader)).json()

        await _others_see_nothing(running, other, hook["id"])

        declaration_id = await submit(running, trader)
        await view_when(running, trader, declaration_id, "ROUTED")
        await _clear(running, declaration_id)
        await view_when(running, trader, declaration_id, "CLEARED")

        log = await log_when(running, trader, hook["id"], all_settled(4, "delivered"))
        dead_log = await log_when(running, trader, dead["id"], all_settled(4, "failed"))
        await _check_paging(running, trader, hook["id"], log)
        jwks = (await running.http.get("/.well-known/jwks.json")).json()
        metrics = (await running.http.get("/metrics")).text

        # No delivery is ever created twice: a fan-out starting afresh (a restart) re-reads the
        # recent history and adds nothing.
        assert await _delivery_rows(running) == 8
        await WebhookFanout(running.gateway.uow_factory).run_once()
        assert await _delivery_rows(running) == 8
        assert await _history_rows(running) == 4

        deleted = await running.http.delete(f"/v1/webhooks/{hook['id']}", headers=trader)
        assert deleted.status_code == 204
        listed = (await running.http.get("/v1/webhooks", headers=trader)).json()["items"]

    _check_bodies(receiver.delivered(), jwks, declaration_id)
    _check_retries(receiver.requests, log)
    _check_failed(dead_log)
    assert 'tsw_webhook_attempts_total{result="http_error"} 3.0' in metrics
    assert 'tsw_webhook_attempts_total{result="connection_error"} 20.0' in metrics
    assert 'tsw_webhook_deliveries_total{outcome="delivered"} 4.0' in metrics
    assert 'tsw_webhook_deliveries_total{outcome="failed"} 4.0' in metrics
    assert {item["id"]: item["active"] for item in listed} == {hook["id"]: False, dead["id"]: True}


async def test_registration_refuses_unusable_urls_and_other_roles(tmp_path: Path, kafka: LocalKafka) -> None:
    """With the default settings (private hosts not allowed), as a trader would meet them."""
    async with _gateway(tmp_path, kafka, None, webhook_allow_private_hosts=False) as running:
        trader = await running.add_client("careless-trader")
        agency = await running.add_client("an-agency", role="agency")
        forwarder = await running.add_client("a-forwarder", role="forwarder")

        bad = await post_json(running, "/v1/webhooks", {"url": "ftp://me:pw@hooks.example.com/#x"}, trader)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert {e["code"] for e in bad.json()["errors"]} == {
            "webhook.url.scheme",
            "webhook.url.userinfo",
            "webhook.url.fragment",
        }
        for private in (
            "http://127.0.0.1:8000/hook",
            "http://localhost/hook",
            "http://169.254.169.254/",
            "http://[::1]/",
        ):
            refused = await post_json(running, "/v1/webhooks", {"url": private}, trader)
            assert refused.status_code == 422, private
            assert [e["code"] for e in refused.json()["errors"]] == ["webhook.url.private"]
        missing = await post_json(running, "/v1/webhooks", {"description": "no url"}, trader)
        assert missing.status_code == 422
        too_long = await post_json(
            running, "/v1/webhooks", {"url": "https://h.example/" + "a" * 2100}, trader
        )
        assert too_long.status_code == 422

        assert (await post_json(running, "/v1/webhooks", {"url": "http://[::1]/"}, agency)).status_code == 403
        assert (await running.http.get("/v1/webhooks")).status_code == 401
        assert (
            await post_json(running, "/v1/webhooks", {"url": "http://[::1]/"}, forwarder)
        ).status_code == 422
        assert (await running.http.get("/v1/webhooks", headers=trader)).json() == {"items": []}


async def test_a_restart_resumes_pending_deliveries(
    tmp_path: Path, kafka: LocalKafka, database_url: str | None
) -> None:
    async with WebhookReceiver(default=503) as receiver, _database(database_url) as url:
        async with _gateway(tmp_path, kafka, url, webhook_max_attempts=1000) as first:
            trader = await first.add_client("patient-trader")
            hook = (await post_json(first, "/v1/webhooks", {"url": receiver.url}, trader)).json()
            declaration_id = await submit(first, trader)
            await view_when(first, trader, declaration_id, "ROUTED")
            tried = await log_when(
                first, trader, hook["id"], lambda items: len(items) == 2 and all(i["attempts"] for i in items)
            )
        failed_before = len(receiver.requests)
        receiver.answer_with(200)

        async with _gateway(tmp_path, kafka, url, webhook_max_attempts=1000) as second:
            log = await log_when(second, trader, hook["id"], all_settled(2, "delivered"))

    assert all(item["status"] == "pending" for item in tried)
    delivered = receiver.delivered()
    assert sorted(orjson.loads(r.body)["status"] for r in delivered) == ["ACCEPTED", "ROUTED"]
    assert len({r.headers["tsw-event-id"] for r in delivered}) == 2  # each delivered once
    assert {item["event_id"] for item in log} == {r.headers["tsw-event-id"] for r in delivered}
    for item in log:
        codes = [attempt["status_code"] for attempt in item["attempt_log"]]
        assert codes[0] == 503 and codes[-1] == 200 and set(codes[:-1]) == {503}
    assert sum(item["attempts"] for item in log) <= failed_before + 2


async def test_a_subscription_and_a_change_made_while_the_fanout_starts_are_not_missed(
    tmp_path: Path, kafka: LocalKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fan-out's first round decides where to start from two reads (the earliest subscription's
    start, else the latest change); a subscription and a status change committed between them must
    still make a delivery. The gateway's own fan-out runs once, at start, before either exists."""
    async with _gateway(tmp_path, kafka, None, webhook_poll_ms=3_600_000) as running:
        trader = await running.add_client("racing-trader")
        made: list[str] = []
        earliest_start = WebhookRepository.earliest_start

        async def earliest_start_then_commit(repository: WebhookRepository) -> int | None:
            found = await earliest_start(repository)
            if not made:  # both commit after the read that found no subscription
                hook = await post_json(running, "/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, trader)
                assert hook.status_code == 201, hook.text
                made.append(await submit(running, trader))
            return found

        monkeypatch.setattr(WebhookRepository, "earliest_start", earliest_start_then_commit)
        assert await WebhookFanout(running.gateway.uow_factory).run_once() >= 1
        async with running.gateway.uow_factory() as uow:
            query = (
                select(status_history.c.status)
                .join(webhook_deliveries, webhook_deliveries.c.history_id == status_history.c.id)
                .where(status_history.c.declaration_id == made[0])
            )
            delivered = set((await uow.connection.execute(query)).scalars())
    assert "ACCEPTED" in delivered


async def test_deactivating_stops_pending_deliveries(tmp_path: Path, kafka: LocalKafka) -> None:
    async with WebhookReceiver(default=503) as receiver, _gateway(tmp_path, kafka, None) as running:
        trader = await running.add_client("leaving-trader")
        hook = (await post_json(running, "/v1/webhooks", {"url": receiver.url}, trader)).json()
        await submit(running, trader)
        await log_when(running, trader, hook["id"], lambda items: any(i["attempts"] >= 2 for i in items))
        assert (await running.http.delete(f"/v1/webhooks/{hook['id']}", headers=trader)).status_code == 204
        assert (await running.http.delete(f"/v1/webhooks/{hook['id']}", headers=trader)).status_code == 204
        settled = await log_when(
            running, trader, hook["id"], lambda items: all(i["status"] == "failed" for i in items)
        )
        seen = len(receiver.requests)
        await asyncio.sleep(1.0)  # several back-off periods: nothing more is sent
        assert len(receiver.requests) <= seen + 2  # at most the attempts already in flight
        view = (await running.http.get(f"/v1/webhooks/{hook['id']}", headers=trader)).json()
    assert view["active"] is False and view["deactivated_at"] is not None
    assert all(item["last_error"] == "webhook deactivated" for item in settled)
    assert all(item["next_attempt_at"] is None for item in settled)


async def test_a_slow_endpoint_does_not_hold_up_the_others(tmp_path: Path, kafka: LocalKafka) -> None:
    """Each subscription has at most two attempts in flight, so a slow endpoint leaves slots free."""
    slow_answer = Answer(200, delay_s=1.0)
    async with (
        WebhookReceiver(default=slow_answer) as slow,
        WebhookReceiver() as fast,
        _gateway(tmp_path, kafka, None, webhook_concurrency=3, webhook_per_endpoint_concurrency=2) as running,
    ):
        trader = await running.add_client("busy-trader")
        for receiver in (slow, fast):
            await post_json(running, "/v1/webhooks", {"url": receiver.url}, trader)
        declaration_ids = [await submit(running, trader) for _ in range(3)]
        for declaration_id in declaration_ids:
            await view_when(running, trader, declaration_id, "ROUTED")
        await fast.wait_for(lambda requests: len(requests) == 6, timeout_s=10)
        slow_done_meanwhile = len(slow.delivered())
        await slow.wait_for(lambda requests: len(requests) == 6, timeout_s=30)
    assert slow_done_meanwhile < 6  # the fast endpoint did not wait for the slow one
    assert slow.max_in_flight == 2
    assert fast.max_in_flight <= 2


# ---------------------------------------------------------------------------------------- helpers


async def _check_paging(
    running: RunningGateway, trader: dict[str, str], webhook_id: str, log: list[dict[str, Any]]
) -> None:
    path = f"/v1/webhooks/{webhook_id}/deliveries"
    first = (await running.http.get(path, params={"limit": 3}, headers=trader)).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = (
        await running.http.get(path, params={"limit": 3, "cursor": first["next_cursor"]}, headers=trader)
    ).json()
    assert rest["next_cursor"] is None
    assert [item["id"] for item in first["items"] + rest["items"]] == [item["id"] for item in log]
    assert [item["id"] for item in log] == sorted((item["id"] for item in log), reverse=True)
    malformed = await running.http.get(path, params={"cursor": "x1"}, headers=trader)
    assert malformed.status_code == 400


@asynccontextmanager
async def _database(base_url: str | None) -> AsyncIterator[str | None]:
    """None for SQLite; else a fresh database on the PostgreSQL server, dropped afterwards."""
    if base_url is None:
        yield None
        return
    async with fresh_postgres_database(base_url) as url:
        yield url


@asynccontextmanager
async def _gateway(
    tmp_path: Path, kafka: LocalKafka, database_url: str | None, **overrides: object
) -> AsyncIterator[RunningGateway]:
    """A gateway with fast webhook retries, on SQLite in `tmp_path` or on the database at `database_url`."""
    settings = {**FAST_RETRIES, **overrides}
    if database_url is not None:
        settings["database_url"] = database_url
    async with start_gateway(gateway_settings(tmp_path, kafka, **settings)) as running:
        yield running


async def _others_see_nothing(running: RunningGateway, other: dict[str, str], webhook_id: str) -> None:
    for method, path in [
        ("GET", f"/v1/webhooks/{webhook_id}"),
        ("GET", f"/v1/webhooks/{webhook_id}/deliveries"),
        ("DELETE", f"/v1/webhooks/{webhook_id}"),
        ("GET", "/v1/webhooks/no-such-id"),
    ]:
        reply = await running.http.request(method, path, headers=other)
        assert reply.status_code == 404, (method, path)
        assert reply.headers["content-type"] == "application/problem+json"
    assert (await running.http.get("/v1/webhooks", headers=other)).json() == {"items": []}


async def _clear(running: RunningGateway, declaration_id: str) -> None:
    """Customs clears, then the statistics department acknowledges: UNDER_REVIEW, then CLEARED."""
    routed = await routed_event_ids(
        running.settings.kafka_bootstrap_servers, declaration_id, ["customs", "censtatd"]
    )
    await responses_ready(running)
    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await answer(
            producer,
            declaration_id,
            "customs",
            AgencyStatus.CLEARED,
            "CLEARED",
            in_reply_to=routed["customs"],
        )
        await answer(
            producer,
            declaration_id,
            "censtatd",
            AgencyStatus.CLEARED,
            "ACKNOWLEDGED",
            in_reply_to=routed["censtatd"],
        )
    finally:
        await producer.stop()


async def _delivery_rows(running: RunningGateway) -> int:
    async with running.gateway.uow_factory() as uow:
        return int(
            (await uow.connection.execute(select(func.count()).select_from(webhook_deliveries))).scalar_one()
        )


async def _history_rows(running: RunningGateway) -> int:
    async with running.gateway.uow_factory() as uow:
        return int(
            (await uow.connection.execute(select(func.count()).select_from(status_history))).scalar_one()
        )


def _check_bodies(delivered: list[Received], jwks: dict[str, Any], declaration_id: str) -> None:
    assert len(delivered) == 4
    events = []
    for request in delivered:
        verify_detached(request.headers["tsw-signature"], request.body, jwks)
        with pytest.raises(SignatureInvalid):
            verify_detached(request.headers["tsw-signature"], request.body + b" ", jwks)
        event = orjson.loads(request.body)
        assert request.headers["tsw-event-id"] == event["id"]
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("tsw-gateway")
        assert event["type"] == "hk.tsw.declaration.status.v1"
        assert event["declaration_id"] == declaration_id
        assert event["document_type"] == "hk.tdec"
        events.append(event)
    events.sort(key=lambda event: event["sequence"])
    assert [event["status"] for event in events] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "CLEARED"]
    assert events[-1]["detail"] == "censtatd: ACKNOWLEDGED"
    assert len({event["id"] for event in events}) == 4


def _check_retries(requests: list[Received], log: list[dict[str, Any]]) -> None:
    """Three failures then successes: the log shows every attempt, each delivery ending in a 2xx."""
    assert [r.answered for r in requests[:3]] == [500, 503, 500]
    assert len(requests) == 7
    per_event = Counter(r.headers["tsw-event-id"] for r in requests)
    assert {item["event_id"]: item["attempts"] for item in log} == dict(per_event)
    retried = [item for item in log if item["attempts"] > 1]
    assert retried, "some delivery needed more than one attempt"
    for item in log:
        codes = [attempt["status_code"] for attempt in item["attempt_log"]]
        assert codes[-1] == 200 and all(code in (500, 503) for code in codes[:-1])
        assert item["last_response_code"] == 200
        assert item["delivered_at"] is not None and item["next_attempt_at"] is None
        assert len(codes) == item["attempts"]
        failed = item["attempt_log"][:-1]
        assert all(attempt["error"] in ("HTTP 500", "HTTP 503") for attempt in failed)
        attempts_at = [attempt["at"] for attempt in item["attempt_log"]]
        assert attempts_at == sorted(attempts_at)
    assert sum(len(item["attempt_log"]) - 1 for item in log) == 3


def _check_failed(log: list[dict[str, Any]]) -> None:
    for item in log:
        assert item["attempts"] == 5
        assert item["next_attempt_at"] is None and item["delivered_at"] is None
        assert item["last_response_code"] is None
        assert item["last_error"].startswith("connection failed")
        assert [attempt["status_code"] for attempt in item["attempt_log"]] == [None] * 5
        assert all(attempt["error"].startswith("connection failed") for attempt in item["attempt_log"])
