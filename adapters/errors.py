"""The agency adapters' one exception tree.

AdapterError
├── PoisonEvent              this event can never be handled as it is: it goes to `tsw.dlq.<agency>`
│   │                        with `reason`, and the adapter moves on to the next record
│   └── DeliveryRejected     the back-end refused the request for good (4xx, e.g. 422), or answered
│                            something the adapter cannot read or map
├── BackendUnavailable       the back-end could not be reached or answered 5xx/429; `retriable`,
│                            `retry_after_s` when it said how long to wait
├── CircuitOpen              the circuit breaker is open: wait `retry_after_s`, then probe; `retriable`
├── JwksUnavailable          the gateway's JWKS cannot be fetched (verification must wait); `retriable`
├── StoreUnavailable         the dedupe store cannot be read or written (disk full, locked); `retriable`
└── Stopping                 the adapter is stopping: abandon the in-flight record without committing it

`retriable` tells the worker whether trying the same record again later can succeed. A retriable
failure is retried (with backoff) until the adapter is stopped, never dead-lettered.
"""

from __future__ import annotations

__all__ = [
    "AdapterError",
    "BackendUnavailable",
    "CircuitOpen",
    "DeliveryRejected",
    "JwksUnavailable",
    "PoisonEvent",
    "Stopping",
    "StoreUnavailable",
]


class AdapterError(Exception):
    """Root of every error the adapters raise on purpose."""

    retriable: bool = False


class PoisonEvent(AdapterError):
    """The event cannot be handled, now or later; `reason` is recorded on the dead-letter record."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DeliveryRejected(PoisonEvent):
    """The agency's back-end refused the request for good, or answered something unusable."""

    def __init__(self, reason: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(reason)


class BackendUnavailable(AdapterError):
    """A retriable delivery failure: connection error, timeout, 5xx or 429."""

    retriable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class CircuitOpen(AdapterError):
    """The circuit breaker refuses calls for `retry_after_s` more seconds."""

    retriable = True

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"circuit open for {retry_after_s:.1f} s more")


class JwksUnavailable(AdapterError):
    """The JWKS could not be loaded, so no signature can be judged yet."""

    retriable = True


class StoreUnavailable(AdapterError):
    """The dedupe store failed; the record is retried, never handled without it."""

    retriable = True


class Stopping(AdapterError):
    """Raised inside a wait when the adapter was asked to stop."""
