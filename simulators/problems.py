"""RFC 9457 problem details: every error answer of a simulator is `application/problem+json`.

The body has `type`, `title`, `status`, `detail` and, for a malformed request (422), `errors: [{code,
path, message}]` listing every problem, where `path` is a JSON pointer into the request body and `code`
is `request.<pydantic error type>`. A 503 carries `Retry-After`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from simulators.faults import Unavailable

__all__ = ["ProblemResponse", "install_problem_handlers", "invalid_request", "problem", "unavailable"]

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://tsw.example/problems/"


class ProblemResponse(Response):
    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


def invalid_request(errors: list[dict[str, Any]]) -> ProblemResponse:
    """422 listing every pydantic error, each as `{code, path, message}`."""
    problems = [
        {
            "code": f"request.{error.get('type', 'invalid')}",
            "path": _pointer(error.get("loc", ())),
            "message": str(error.get("msg", "invalid")),
        }
        for error in errors
    ]
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found"
    return problem(422, "invalid-request", "The request is not valid", count, errors=problems)


def unavailable(exc: Unavailable) -> ProblemResponse:
    headers = {"Retry-After": str(exc.retry_after_s)}
    return problem(503, "service-unavailable", "Service temporarily unavailable", str(exc), headers=headers)


def _pointer(loc: Any) -> str:
    """RFC 6901 pointer into the request body (FastAPI's leading `"body"` dropped)."""
    parts = list(loc) if isinstance(loc, tuple | list) else []
    if parts[:1] == ["body"]:
        parts = parts[1:]
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_unavailable(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Unavailable)
        return unavailable(exc)

    async def on_invalid(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return invalid_request([dict(error) for error in exc.errors()])

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, slug, str(exc.detail), headers=dict(exc.headers or {}) or None)

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal", "Internal error", "the error was logged")

    app.add_exception_handler(Unavailable, on_unavailable)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
