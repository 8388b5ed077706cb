"""The gateway's one exception tree.

GatewayError
├── DocumentError                 the submitted document cannot be accepted (4xx to the caller)
│   ├── DocumentInvalid           schema or business-rule problems; carries every `Problem` found (422)
│   ├── UnsafeDocument            DOCTYPE, entities, malformed XML/UTF-8, nesting bombs (400)
│   ├── UnknownDocumentType       no schema pack matches the document (422)
│   ├── UnsupportedMediaType      neither XML nor JSON (415)
│   ├── PayloadTooLarge           the body is over the configured limit (413)
│   └── BatchFileError            a batch file that cannot be read as a whole (422; in
│                                 `gateway.batches.readers.errors`, with its stable code)
├── PackError                     a schema pack on disk is malformed (start-up failure)
├── InvalidRequest                a malformed query parameter or header (400)
├── UnprocessableRequest          well-formed, but a field cannot be used (an unsafe webhook URL);
│                                 carries every `Problem` found (422)
├── UnsafeDestination             a webhook URL's host is, or resolves to, a non-public address
├── AuthError                     missing or unknown credentials (401)
│   └── SignatureRefused          a request's `TSW-Signature` is missing (when the client must sign),
│                                 malformed, or does not verify against the caller's keys; `code` (401)
├── Forbidden                     authenticated, but the role may not do this (403)
├── NotFound                      the resource does not exist or is not the caller's (404)
├── Conflict                      e.g. an Idempotency-Key reused with another body (409)
├── RateLimited                   the client is over its request rate; `retry_after_s` (429)
├── SignatureInvalid              a JWS does not verify against the keys offered
└── ServiceUnavailable            a dependency (database, broker) is down; `retriable` is True (503)
    └── CommitOutcomeUnknown      the connection was lost while committing: the transaction may or
                                  may not have been applied (the writer checks before answering)

`retriable` tells a caller whether trying the same thing again later can succeed.
Third-party exceptions are translated at the boundary with ``raise X(...) from exc``; the HTTP
mapping lives only in `gateway.api.problems`.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.documents.problems import Problem

__all__ = [
    "AuthError",
    "CommitOutcomeUnknown",
    "Conflict",
    "DocumentError",
    "DocumentInvalid",
    "Forbidden",
    "GatewayError",
    "InvalidRequest",
    "NotFound",
    "PackError",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "SignatureInvalid",
    "SignatureRefused",
    "UnknownDocumentType",
    "UnprocessableRequest",
    "UnsafeDestination",
    "UnsafeDocument",
    "UnsupportedMediaType",
]


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    retriable: bool = False


class DocumentError(GatewayError):
    """The submitted document cannot be accepted."""


class DocumentInvalid(DocumentError):
    """The document breaks its schema or business rules; `problems` lists every one found."""

    def __init__(self, problems: Sequence[Problem], *, document_type: str | None = None) -> None:
        self.problems = list(problems)
        self.document_type = document_type
        super().__init__(f"{len(self.problems)} problem(s) found")


class UnsafeDocument(DocumentError):
    """Hostile or malformed input: DOCTYPE, entity declarations, broken XML or UTF-8."""

    def __init__(self, message: str, *, path: str = "/") -> None:
        self.problems = [Problem(code="document.unsafe", path=path, message=message)]
        super().__init__(message)


class UnknownDocumentType(DocumentError):
    """No schema pack claims this document."""


class UnsupportedMediaType(DocumentError):
    """The body is neither XML nor JSON."""


class PayloadTooLarge(DocumentError):
    """The request body is larger than `max_body_bytes`."""


class PackError(GatewayError):
    """A schema pack on disk cannot be loaded."""


class InvalidRequest(GatewayError):
    """A query parameter or header the gateway cannot use (e.g. a forged paging cursor)."""


class UnprocessableRequest(GatewayError):
    """The request is well-formed but a field's value cannot be used; `problems` lists every one."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problem.message for problem in self.problems))


class UnsafeDestination(GatewayError):
    """An outgoing request would reach a loopback, private, link-local or reserved address."""


class AuthError(GatewayError):
    """Missing, unknown, expired or revoked credentials."""


class SignatureRefused(AuthError):
    """A request's detached signature (`TSW-Signature`) is refused; `code` says why, stably
    (`signature.required`, `signature.malformed`, `signature.unknown-key`, ...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.problems = [Problem(code=code, path="/headers/TSW-Signature", message=message)]
        super().__init__(message)


class Forbidden(GatewayError):
    """The caller is known but its role does not allow this."""


class NotFound(GatewayError):
    """The resource does not exist, or is not visible to the caller."""


class Conflict(GatewayError):
    """The request conflicts with the current state (e.g. Idempotency-Key reuse)."""


class RateLimited(GatewayError):
    """The client sent more requests than its rate limit allows; it may try again after `retry_after_s`."""

    retriable = True

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class SignatureInvalid(GatewayError):
    """A signature or receipt does not verify."""


class ServiceUnavailable(GatewayError):
    """A dependency the request needs is down; try again later."""

    retriable = True


class CommitOutcomeUnknown(ServiceUnavailable):
    """The database connection broke while a COMMIT was in flight (a PostgreSQL server stopped or
    restarted at that moment): the server may have applied the transaction without being able to say
    so. Whoever committed must find out (read the rows back once the database answers) before telling
    a caller either way."""
