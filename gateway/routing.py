"""The outbox events that route one version of a declaration to its target agencies.

Every event gets its own `ce_id` (fixed now, so a republished record keeps it) and carries the same
detached signature over the value it will publish.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from gateway.contracts.events import EventHeaders, event_type, rfc3339
from gateway.contracts.topics import route_topic
from gateway.ids import new_id
from gateway.store.records import OutboxEvent

__all__ = ["routed_events"]


def routed_events(
    agencies: Iterable[str],
    *,
    subject: str,
    action: str,
    version: int | None,
    at: datetime,
    media_type: str,
    signature: str,
    document_type: str,
    source: str,
    body: bytes | None = None,
    ce_type: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[OutboxEvent, ...]:
    """One event per agency about `subject` (a declaration, or a lodgement of consignments); `body`
    None means a declaration's own (first) body, or a lodgement's bulk value. `ce_type` defaults to
    `event_type(action)`; `version` None leaves the version header out."""
    events = []
    for agency in agencies:
        event_id = new_id()
        headers = EventHeaders(
            id=event_id,
            source=source,
            type=ce_type or event_type(action),
            subject=subject,
            time=rfc3339(at),
            content_type=media_type,
            signature=signature,
            document_type=document_type,
            version=version,
        )
        events.append(
            OutboxEvent(
                event_id=event_id,
                agency=agency,
                topic=route_topic(agency),
                headers={**headers.as_dict(), **(extra_headers or {})},
                action=action,
                version=version or 1,
                body=body,
            )
        )
    return tuple(events)
