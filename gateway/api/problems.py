"""RFC 9457 problem details: the one place where gateway errors become HTTP answers.

Every error answer is `application/problem+json` with `type`, `title`, `status`, `detail` and, for
document problems, `errors: [{code, path, message}]`. No stack trace or internal path is ever sent.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gateway.audit.refusals import RefusalRecorder
from gateway.batches.readers.errors import BatchFileError
from gateway.documents.problems import Problem
from gateway.errors import (
    AuthError,
    Conflict,
    DocumentInvalid,
    Forbidden,
    GatewayError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    SignatureRefused,
    UnknownDocumentType,
    UnprocessableRequest,
    UnsafeDocument,
    UnsupportedMediaType,
)
from gateway.ratelimit import retry_after_header
from gateway.store.uow import unavailable_reason

__all__ = ["ProblemResponse", "install_problem_handlers", "problem"]

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://tsw.example/problems/"

# error class -> (HTTP status, problem type slug, title)
_MAPPING: list[tuple[type[GatewayError], int, str, str]] = [
    (DocumentInvalid, 422, "invalid-document", "The document is not valid"),
    (BatchFileError, 422, "batch-file-refused", "The batch file cannot be read"),
    (UnsafeDocument, 400, "malformed-document", "The document is malformed or unsafe"),
    (UnknownDocumentType, 422, "unknown-document-type", "Unknown document type"),
    (UnsupportedMediaType, 415, "unsupported-media-type", "Unsupported media type"),
    (PayloadTooLarge, 413, "payload-too-large", "Request body too large"),
    (InvalidRequest, 400, "invalid-request", "The request is not valid"),
    (UnprocessableRequest, 422, "invalid-request", "The request is not valid"),
    (SignatureRefused, 401, "signature-refused", "The request signature is refused"),
    (AuthError, 401, "unauthorized", "Authentication required"),
    (Forbidden, 403, "forbidden", "Not allowed"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (RateLimited, 429, "rate-limited", "Too many requests"),
    (ServiceUnavailable, 503, "service-unavailable", "Service temporarily unavailable"),
]


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
    errors: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = [error.as_dict() for error in errors]
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


def _classify(exc: GatewayError) -> tuple[int, str, str]:
    for cls, status, slug, title in _MAPPING:
        if isinstance(exc, cls):
            return status, slug, title
    return 500, "internal", "Internal error"


def gateway_problem(exc: GatewayError) -> ProblemResponse:
    status, slug, title = _classify(exc)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = (
            'TSW-Signature realm="tsw"' if isinstance(exc, SignatureRefused) else 'Bearer realm="tsw"'
        )
    if status == 503:
        headers["Retry-After"] = "5"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = retry_after_header(exc.retry_after_s)
    extra: dict[str, Any] = {}
    errors = getattr(exc, "problems", None)
    if isinstance(exc, DocumentInvalid) and exc.document_type:
        extra["document_type"] = exc.document_type
    return problem(status, slug, title, str(exc), errors=errors, headers=headers or None, **extra)


def _note_refusal(request: Request, exc: GatewayError) -> None:
    """Audit a 401 or 403 (`gateway.audit.refusals`): who, what, why; never the credential."""
    recorder = getattr(getattr(request.app.state, "gateway", None), "refusals", None)
    if isinstance(recorder, RefusalRecorder):
        recorder.note(
            status=401 if isinstance(exc, AuthError) else 403,
            method=request.method,
            path=request.url.path,
            client=getattr(request.state, "client_id", None),
            reason=str(exc),
            remote=request.client.host if request.client else None,
        )


def install_problem_handlers(app: FastAPI) -> None:
    async def on_gateway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GatewayError)
        if isinstance(exc, AuthError | Forbidden):
            _note_refusal(request, exc)
        elif isinstance(exc, ServiceUnavailable):  # the client sees "database unavailable"; say why here
            log.warning("%s %s: 503 %s (%s)", request.method, request.url.path, exc, unavailable_reason(exc))
        return gateway_problem(exc)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, slug, str(exc.detail), headers=dict(exc.headers or {}) or None)

    async def on_request_invalid(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            Problem(
                code=f"request.{error.get('type', 'invalid')}",
                path="/" + "/".join(str(part) for part in error.get("loc", ())),
                message=str(error.get("msg", "invalid")),
            )
            for error in exc.errors()
        ]
        return problem(422, "invalid-request", "The request is not valid", errors=errors)

    async def on_unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal", "Internal error", "the error was logged")

    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_request_invalid)
    app.add_exception_handler(Exception, on_unexpected)
