"""The outbox events that route one version of a declaration to its target agencies.

Every event gets its own `ce_id` (fixed now, so a republished record keeps it) and carries the same
detached signature over the value it will publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from gateway.contracts.events import EventHeaders, event_type, rfc3339
from gateway.contracts.topics import route_topic
from gateway.ids import new_id
from gateway.store.records import OutboxEvent

__all__ = ["routed_events"]


def routed_events(
    agencies: Iterable[str],
    *,
    declaration_id: str,
    action: str,
    version: int,
    at: datetime,
    media_type: str,
    signature: str,
    document_type: str,
    source: str,
    body: bytes | None = None,
) -> tuple[OutboxEvent, ...]:
    """One event per agency; `body` None means the declaration's own (first) body."""
    events = []
    for agency in agencies:
        event_id = new_id()
        headers = EventHeaders(
            id=event_id,
            source=source,
            type=event_type(action),
            subject=declaration_id,
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
                headers=headers.as_dict(),
                action=action,
                version=version,
                body=body,
            )
        )
    return tuple(events)
