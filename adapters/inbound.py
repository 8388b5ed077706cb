"""What an adapter reads from one routed record: the CloudEvents headers and the action.

The routed event's ``ce_type`` names the action: ``hk.tsw.declaration.<action>.v1`` with action
``submitted``, ``amended`` or ``cancelled``. The record key, when present, must be the declaration id
(``ce_subject``). Anything else makes the record a `PoisonEvent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiokafka import ConsumerRecord

from adapters.errors import PoisonEvent
from gateway.contracts.events import decode_headers

__all__ = ["ACTIONS", "RoutedEvent", "read_event"]

ACTIONS = ("submitted", "amended", "cancelled")
_EVENT_TYPE = re.compile(r"hk\.tsw\.declaration\.(submitted|amended|cancelled)\.v1")


@dataclass(frozen=True, slots=True)
class RoutedEvent:
    id: str  # ce_id: also the agency submission id and the dedupe key
    declaration_id: str  # ce_subject
    action: str
    document_type: str | None
    content_type: str
    signature: str | None


def read_event(record: ConsumerRecord[bytes, bytes]) -> RoutedEvent:
    try:
        headers = decode_headers(record.headers)
    except ValueError as exc:  # a missing CloudEvents header, or one that is not UTF-8
        raise PoisonEvent(f"undecodable CloudEvents headers: {exc}") from exc
    matched = _EVENT_TYPE.fullmatch(headers.type)
    if matched is None:
        raise PoisonEvent(f"unsupported event type {headers.type!r}")
    if not headers.id or not headers.subject:
        raise PoisonEvent("empty ce_id or ce_subject")
    if record.key is not None and record.key != headers.subject.encode():
        raise PoisonEvent(f"record key {record.key!r} is not the declaration id {headers.subject!r}")
    return RoutedEvent(
        id=headers.id,
        declaration_id=headers.subject,
        action=matched.group(1),
        document_type=headers.document_type,
        content_type=headers.content_type,
        signature=headers.signature,
    )
