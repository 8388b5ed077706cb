"""Delivery to an agency back-end: one attempt's outcomes, retries, Retry-After, the circuit breaker."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from adapters.circuit import CircuitBreaker, CircuitState
from adapters.delivery import AgencyClient, Submission
from adapters.errors import BackendUnavailable, DeliveryRejected, Stopping
from adapters.retry import Backoff
from adapters.translate import empty_summary

Handler = Callable[[httpx.Request], httpx.Response]


def submission(submission_id: str = "evt-1") -> Submission:
    return Submission(
        submission_id=submission_id,
        declaration_id="decl-1",
        action="submitted",
        document_type="hk.tdec",
        summary=empty_summary(),
    )


def answer(request: httpx.Request, decision: str = "CLEARED") -> httpx.Response:
    body = orjson.loads(request.content)
    return httpx.Response(
        200,
        json={
            "submission_id": body["submission_id"],
            "decision": decision,
            "reference": "HKCED-1",
            "reason": None,
            "detail": {"lane": "green"},
        },
    )


def client(handler: Handler, *, threshold: int = 3, cooldown_s: float = 5.0) -> AgencyClient:
    return AgencyClient(
        "http://agency.test",
        agency="customs",
        backoff=Backoff(base_s=0.1, max_s=1.0, retry_after_max_s=60.0, jitter=lambda: 1.0),
        breaker=CircuitBreaker(failure_threshold=threshold, cooldown_s=cooldown_s),
        transport=httpx.MockTransport(handler),
    )


class Waits:
    """A `wait` that records delays and raises `Stopping` after `limit` of them."""

    def __init__(self, limit: int = 1000) -> None:
        self.delays: list[float] = []
        self.limit = limit

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        if len(self.delays) >= self.limit:
            raise Stopping("test limit")


async def test_the_request_follows_the_contract() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    agency = client(handler)
    try:
        result = await agency.submit(submission())
    finally:
        await agency.stop()
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/v1/submissions"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "evt-1"
    body = orjson.loads(request.content)
    assert body == {
        "submission_id": "evt-1",
        "declaration_id": "decl-1",
        "action": "submitted",
        "document_type": "hk.tdec",
        "summary": empty_summary(),
    }
    assert (result.decision, result.reference, result.detail) == ("CLEARED", "HKCED-1", {"lane": "green"})


async def test_a_422_is_final_and_carries_the_problem() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={"title": "Unprocessable", "errors": [{"path": "/summary/kind", "message": "bad"}]},
            headers={"Content-Type": "application/problem+json"},
        )

    waits = Waits()
    agency = client(handler)
    with pytest.raises(DeliveryRejected) as raised:
        await agency.submit(submission(), wait=waits)
    await agency.stop()
    assert raised.value.status_code == 422
    assert "HTTP 422" in raised.value.reason and "/summary/kind" in raised.value.reason
    assert waits.delays == []  # never retried
    assert agency.breaker.state is CircuitState.CLOSED  # a 4xx proves the back-end is up


@pytest.mark.parametrize("status", [400, 401, 404, 409, 301])
async def test_other_refusals_are_never_retried(status: int) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, text="no")

    agency = client(handler)
    with pytest.raises(DeliveryRejected):
        await agency.submit(submission(), wait=Waits())
    await agency.stop()
    assert calls == 1


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"decision": ""}',
        b'{"submission_id": "other", "decision": "CLEARED"}',
        # text the gateway could not store (PostgreSQL text holds no NUL): dead-lettered, not passed on
        b'{"decision": "HELD", "reason": "missing\\u0000invoice"}',
        b'{"decision": "CLEARED", "reference": "CED\\u00001"}',
        b'{"decision": "CLE\\u0000ARED"}',
    ],
)
async def test_unreadable_answers_are_final(body: bytes) -> None:
    agency = client(lambda request: httpx.Response(200, content=body))
    with pytest.raises(DeliveryRejected):
        await agency.submit(submission(), wait=Waits())
    await agency.stop()


async def test_503_with_retry_after_is_retried_after_that_long() -> None:
    statuses = iter([503, 429, 500, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        if status == 200:
            return answer(request)
        return httpx.Response(status, headers={"Retry-After": "7"}, json={"title": "down"})

    waits = Waits()
    agency = client(handler, threshold=10)
    result = await agency.submit(submission(), wait=waits)
    await agency.stop()
    assert result.decision == "CLEARED"
    assert waits.delays == [7.0, 7.0, 7.0]


async def test_connect_errors_and_timeouts_back_off_exponentially() -> None:
    failures: list[Exception] = [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if failures:
            raise failures.pop(0)
        return answer(request)

    waits = Waits()
    agency = client(handler, threshold=10)
    result = await agency.submit(submission(), wait=waits)
    await agency.stop()
    assert result.decision == "CLEARED"
    assert waits.delays == [0.1, 0.2, 0.4, 0.8]


async def test_submit_once_classifies_without_retrying() -> None:
    agency = client(lambda request: httpx.Response(502))
    with pytest.raises(BackendUnavailable):
        await agency.submit_once(submission())
    await agency.stop()


async def test_a_dead_backend_opens_the_circuit_and_is_probed_not_hammered() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused")

    waits = Waits(limit=12)
    agency = client(handler, threshold=3, cooldown_s=5.0)
    with pytest.raises(Stopping):
        await agency.submit(submission(), wait=waits)
    await agency.stop()
    assert agency.breaker.state is CircuitState.OPEN
    # three failures open the circuit; from then on the client waits out the cool-down instead of calling
    assert calls < len(waits.delays)
    assert any(delay == pytest.approx(5.0, abs=0.5) for delay in waits.delays[3:])


async def test_the_circuit_closes_when_the_backend_returns() -> None:
    down = True
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if down:
            return httpx.Response(503)
        return answer(request)

    class Recover(Waits):
        async def __call__(self, delay_s: float) -> None:
            nonlocal down
            await super().__call__(delay_s)
            if len(self.delays) == 5:
                down = False

    agency = AgencyClient(
        "http://agency.test",
        agency="customs",
        backoff=Backoff(base_s=0.1, max_s=1.0),
        breaker=CircuitBreaker(failure_threshold=2, cooldown_s=0.0),
        transport=httpx.MockTransport(handler),
    )
    result = await agency.submit(submission(), wait=Recover())
    await agency.stop()
    assert result.decision == "CLEARED"
    assert agency.breaker.state is CircuitState.CLOSED


async def test_start_and_stop_are_idempotent() -> None:
    agency = client(answer)
    await agency.start()
    await agency.start()
    await agency.stop()
    await agency.stop()
