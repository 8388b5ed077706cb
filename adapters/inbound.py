"""What an adapter reads from one routed record: the CloudEvents headers, the action, and for a bulk
event its consignments.

A single event's ``ce_type`` names the action: ``hk.tsw.declaration.<action>.v1`` with action
``submitted``, ``amended`` or ``cancelled``; ``ce_subject`` and the record key are the declaration id.
A bulk event (``ce_type`` `BULK_EVENT_TYPE`, see `gateway.contracts.bulk`) carries many e-commerce
consignments, each a new submission: ``ce_subject`` and the record key are the bulk id, which the
(signed) value must repeat (`read_bulk`). Anything else makes the record a `PoisonEvent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

from adapters.errors import PoisonEvent
from gateway.contracts.bulk import BULK_EVENT_TYPE, parse_bulk_value
from gateway.contracts.events import decode_headers

__all__ = ["ACTIONS", "RoutedBulk", "RoutedEvent", "read_bulk", "read_event"]

ACTIONS = ("submitted", "amended", "cancelled")
_EVENT_TYPE = re.compile(r"hk\.tsw\.declaration\.(submitted|amended|cancelled)\.v1")


@dataclass(frozen=True, slots=True)
class RoutedEvent:
    id: str  # ce_id: also the agency submission id and the dedupe key
    declaration_id: str  # ce_subject: the declaration id; for a bulk event, the bulk id
    action: str
    document_type: str | None
    content_type: str
    signature: str | None
    bulk: bool = False  # a bulk event: many consignments in one record


@dataclass(frozen=True, slots=True)
class RoutedBulk:
    """The value of a bulk event: its consignments, as ``(declaration id, parsed document)``."""

    bulk_id: str
    document_type: str
    consignments: list[tuple[str, dict[str, Any]]]


def read_event(record: ConsumerRecord[bytes, bytes]) -> RoutedEvent:
    try:
        headers = decode_headers(record.headers)
    except ValueError as exc:  # a missing CloudEvents header, or one that is not UTF-8
        raise PoisonEvent(f"undecodable CloudEvents headers: {exc}") from exc
    bulk = headers.type == BULK_EVENT_TYPE
    matched = _EVENT_TYPE.fullmatch(headers.type)
    if matched is None and not bulk:
        raise PoisonEvent(f"unsupported event type {headers.type!r}")
    if not headers.id or not headers.subject:
        raise PoisonEvent("empty ce_id or ce_subject")
    if record.key is not None and record.key != headers.subject.encode():
        subject = "bulk id" if bulk else "declaration id"
        raise PoisonEvent(f"record key {record.key!r} is not the {subject} {headers.subject!r}")
    return RoutedEvent(
        id=headers.id,
        declaration_id=headers.subject,
        action="submitted" if matched is None else matched.group(1),
        document_type=headers.document_type,
        content_type=headers.content_type,
        signature=headers.signature,
        bulk=bulk,
    )


def read_bulk(event: RoutedEvent, value: bytes) -> RoutedBulk:
    """The consignments of a bulk event whose signature was verified; `PoisonEvent` when the value is
    malformed, empty, repeats a declaration id, or names another bulk id or document type than the
    headers."""
    try:
        bulk_id, document_type, consignments = parse_bulk_value(value)
    except ValueError as exc:
        raise PoisonEvent(f"malformed bulk event: {exc}") from exc
    if bulk_id != event.declaration_id:
        raise PoisonEvent(f"the bulk value's bulk_id {bulk_id!r} is not ce_subject {event.declaration_id!r}")
    if event.document_type is not None and document_type != event.document_type:
        raise PoisonEvent(
            f"the bulk value's document_type {document_type!r} is not tsw-document-type"
            f" {event.document_type!r}"
        )
    if not consignments:
        raise PoisonEvent("the bulk event carries no consignments")
    if len({declaration_id for declaration_id, _ in consignments}) != len(consignments):
        raise PoisonEvent("the bulk event carries a declaration id more than once")
    return RoutedBulk(bulk_id=bulk_id, document_type=document_type, consignments=consignments)
