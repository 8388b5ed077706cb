"""CloudEvents 1.0 in Kafka binary mode, plus the gateway's detached signature header.

A routed record carries the document (or a JSON envelope) as its value and these headers:
`ce_specversion`, `ce_id`, `ce_source`, `ce_type`, `ce_subject` (= declaration id), `ce_time`,
`content-type`, `tsw-document-type`, `tsw-declaration-version` (1, then 2, 3… for amendments), and
`tsw-signature`: a detached compact JWS (RFC 7515 appendix F) over the value's
exact bytes, verifiable with the gateway's JWKS alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "SIGNATURE_HEADER",
    "VERSION_HEADER",
    "EventHeaders",
    "decode_headers",
    "encode_headers",
    "event_type",
    "rfc3339",
]

SIGNATURE_HEADER = "tsw-signature"
VERSION_HEADER = "tsw-declaration-version"
SPEC_VERSION = "1.0"


def event_type(action: str = "submitted") -> str:
    """`hk.tsw.declaration.<action>.v1`; the document type travels in the `tsw-document-type` header."""
    return f"hk.tsw.declaration.{action}.v1"


def rfc3339(moment: datetime) -> str:
    """UTC timestamp with a `Z` suffix and microseconds, as CloudEvents `time` wants."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class EventHeaders:
    id: str
    source: str
    type: str
    subject: str
    time: str
    content_type: str
    signature: str | None = None
    document_type: str | None = None
    version: int | None = None

    def as_dict(self) -> dict[str, str]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_subject": self.subject,
            "ce_time": self.time,
            "content-type": self.content_type,
        }
        if self.document_type is not None:
            headers["tsw-document-type"] = self.document_type
        if self.version is not None:
            headers[VERSION_HEADER] = str(self.version)
        if self.signature is not None:
            headers[SIGNATURE_HEADER] = self.signature
        return headers


def encode_headers(headers: EventHeaders) -> list[tuple[str, bytes]]:
    """Kafka record headers (aiokafka's list of `(name, bytes)`)."""
    return [(name, value.encode()) for name, value in headers.as_dict().items()]


def decode_headers(raw: Iterable[tuple[str, bytes | None]]) -> EventHeaders:
    """Parse Kafka record headers back; raises `ValueError` naming a missing CloudEvents header.

    A header without a value (Kafka allows a null one) counts as absent.
    """
    values = {name: value.decode() for name, value in raw if value is not None}
    missing = [
        name
        for name in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject", "ce_time")
        if name not in values
    ]
    if missing:
        raise ValueError(f"missing CloudEvents headers: {', '.join(missing)}")
    return EventHeaders(
        id=values["ce_id"],
        source=values["ce_source"],
        type=values["ce_type"],
        subject=values["ce_subject"],
        time=values["ce_time"],
        content_type=values.get("content-type", "application/octet-stream"),
        signature=values.get(SIGNATURE_HEADER),
        document_type=values.get("tsw-document-type"),
        version=_version(values.get(VERSION_HEADER)),
    )


def _version(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise ValueError(f"{VERSION_HEADER} is not a number: {raw!r}")
    return int(raw)
