"""Request deadlines: a request that has not started its answer in time is cancelled and answered
with a 503 problem (`Retry-After`), never a stack trace.

Plain ASGI (no per-request task or body buffering): the deadline covers reading the body and handling;
once the answer has started (a stream, e.g. `GET /v1/events`) it no longer applies. A submission cut
off this way may still have been committed: retry it with the same `Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.problems import problem

__all__ = ["DeadlineMiddleware"]

log = logging.getLogger(__name__)


class DeadlineMiddleware:
    def __init__(self, app: ASGIApp, *, timeout_s: Callable[[Scope], float]) -> None:
        self._app = app
        self._timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False
        deadline_s = self._timeout_s(scope)

        async def send_started(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                timeout.reschedule(None)
            await send(message)

        try:
            async with asyncio.timeout(deadline_s) as timeout:
                await self._app(scope, receive, send_started)
        except TimeoutError:
            if not timeout.expired():
                raise
            await self._timed_out(scope, send, started=started, deadline_s=deadline_s)

    @staticmethod
    async def _timed_out(scope: Scope, send: Send, *, started: bool, deadline_s: float) -> None:
        log.warning("%s %s cut off after %.1f s", scope["method"], scope["path"], deadline_s)
        if started:  # cannot happen: the deadline is lifted when the answer starts
            return
        response = problem(
            503,
            "request-timeout",
            "The request took too long",
            f"not answered within {deadline_s:g} s; try again later",
            headers={"Retry-After": "5"},
        )
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
