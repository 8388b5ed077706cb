"""Error answers: an unexpected exception, a request past its deadline and a rate-limited client are
problem+json, with no stack trace or internal path in them."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from gateway.api.deadline import DeadlineMiddleware
from gateway.api.problems import install_problem_handlers
from gateway.errors import RateLimited

SECRET_PATH = "/srv/tsw/gateway/secret_module.py"


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"exploded in {SECRET_PATH} with key tsw_secret")

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"status": "late"}

    @app.get("/limited")
    async def limited() -> None:
        raise RateLimited("over the rate limit", retry_after_s=2.2)

    app.add_middleware(DeadlineMiddleware, timeout_s=lambda scope: 0.2)
    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get(path)


async def test_an_unexpected_error_is_a_bare_500_problem() -> None:
    answer = await _get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": "https://tsw.example/problems/internal",
        "title": "Internal error",
        "status": 500,
        "detail": "the error was logged",
    }
    for leak in ("Traceback", SECRET_PATH, "tsw_secret", "RuntimeError", ".py"):
        assert leak not in answer.text


async def test_a_request_past_its_deadline_is_a_503_problem() -> None:
    answer = await _get("/slow")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["type"] == "https://tsw.example/problems/request-timeout"


async def test_rate_limited_is_429_with_retry_after() -> None:
    answer = await _get("/limited")
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "3"
    assert answer.json()["type"] == "https://tsw.example/problems/rate-limited"
