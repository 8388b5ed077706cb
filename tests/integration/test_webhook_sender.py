"""One webhook attempt against a real local HTTP receiver: delivered, refused, timed out, unreachable."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import orjson

from gateway.documents.signing import GatewayKeys, verify_detached
from gateway.store.webhooks import DueDelivery
from gateway.webhooks.destinations import DestinationGuard
from gateway.webhooks.sender import WebhookSender
from tests.conftest import free_port
from tests.webhook_receiver import Answer, WebhookReceiver

KEYS = GatewayKeys.ephemeral()


def delivery(url: str, *, attempts: int = 0) -> DueDelivery:
    return DueDelivery(
        id=1,
        event_id="evt-1",
        subscription_id="sub-1",
        url=url,
        body=orjson.dumps({"id": "evt-1", "status": "ROUTED"}),
        attempts=attempts,
        created_at=datetime.now(UTC),
    )


@asynccontextmanager
async def sender(guard: DestinationGuard, *, timeout_s: float = 2.0) -> AsyncIterator[WebhookSender]:
    webhook_sender = WebhookSender(keys=KEYS, guard=guard, timeout_s=timeout_s, max_connections=4)
    await webhook_sender.start()
    await webhook_sender.start()  # idempotent
    try:
        yield webhook_sender
    finally:
        await webhook_sender.close()
        await webhook_sender.close()


ALLOW = DestinationGuard(allow_private_hosts=True)


async def test_a_2xx_is_delivered_with_signed_headers() -> None:
    async with WebhookReceiver([204]) as receiver, sender(ALLOW) as webhook_sender:
        outcome = await webhook_sender.attempt(delivery(receiver.url, attempts=2))
    assert outcome.delivered
    assert outcome.record.response_code == 204
    assert outcome.record.error is None
    assert outcome.record.duration_ms >= 0
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.target == "/hooks/tsw"
    assert request.headers["tsw-event-id"] == "evt-1"
    assert request.headers["tsw-delivery-attempt"] == "3"
    verify_detached(request.headers["tsw-signature"], request.body, KEYS.jwks())


async def test_non_2xx_fails_and_retry_after_is_read() -> None:
    script = [Answer(503, {"Retry-After": "7"}), 302, 400]
    async with WebhookReceiver(script) as receiver, sender(ALLOW) as webhook_sender:
        unavailable = await webhook_sender.attempt(delivery(receiver.url))
        redirected = await webhook_sender.attempt(delivery(receiver.url))
        refused = await webhook_sender.attempt(delivery(receiver.url))
    assert (unavailable.kind, unavailable.record.response_code, unavailable.record.error) == (
        "http_error",
        503,
        "HTTP 503",
    )
    assert unavailable.retry_after_s == 7
    assert redirected.kind == "http_error" and redirected.record.response_code == 302  # never followed
    assert refused.retry_after_s is None
    assert len(receiver.requests) == 3


async def test_a_slow_endpoint_times_out_within_the_deadline() -> None:
    async with WebhookReceiver([Answer(200, delay_s=5)]) as receiver, sender(ALLOW, timeout_s=0.5) as s:
        outcome = await s.attempt(delivery(receiver.url))
    assert outcome.kind == "timeout"
    assert outcome.record.error == "no answer within 500 ms"
    assert outcome.record.response_code is None
    assert 400 <= outcome.record.duration_ms < 2000


async def test_an_unreachable_endpoint_is_a_connection_error() -> None:
    async with sender(ALLOW) as webhook_sender:
        outcome = await webhook_sender.attempt(delivery(f"http://127.0.0.1:{free_port()}/hook"))
    assert outcome.kind == "connection_error"
    assert outcome.record.error is not None and outcome.record.error.startswith("connection failed")
    assert "Traceback" not in outcome.record.error


async def test_a_host_that_now_resolves_to_a_private_address_is_refused() -> None:
    """DNS rebinding: the URL was fine at registration; the attempt checks again and sends nothing."""

    async def rebound(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    guard = DestinationGuard(allow_private_hosts=False, resolver=rebound)
    async with WebhookReceiver() as receiver, sender(guard) as webhook_sender:
        outcome = await webhook_sender.attempt(delivery(f"http://hooks.example.com:{receiver.port}/tsw"))
    assert outcome.kind == "refused"
    assert outcome.record.error is not None
    assert outcome.record.error.startswith("refused: hooks.example.com is or resolves to 127.0.0.1")
    assert receiver.requests == []


async def test_a_pinned_attempt_connects_to_the_checked_address_with_the_urls_host() -> None:
    """With the guard on, the request goes to the address that was checked, named by the URL's host."""
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        resolved.append(f"{host}:{port}")
        return ["127.0.0.1"]

    loopback_allowed = DestinationGuard(
        allow_private_hosts=False,
        resolver=resolve,
        is_allowed=lambda address: address == ipaddress.ip_address("127.0.0.1"),
    )
    async with WebhookReceiver([200, 200]) as receiver, sender(loopback_allowed) as webhook_sender:
        url = f"http://hooks.example.com:{receiver.port}/tsw?x=1"
        first = await webhook_sender.attempt(delivery(url))
        second = await webhook_sender.attempt(delivery(url))
    assert first.delivered and second.delivered
    assert resolved == [f"hooks.example.com:{receiver.port}"] * 2  # checked before every attempt
    assert [r.headers["host"] for r in receiver.requests] == [f"hooks.example.com:{receiver.port}"] * 2
    assert receiver.requests[0].target == "/tsw?x=1"
