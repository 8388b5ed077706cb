"""`GET /v1/events`: the caller's status changes as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header
from starlette.responses import StreamingResponse

from gateway.api.deps import GatewayDep, Submitter, rate_limited
from gateway.errors import ServiceUnavailable
from gateway.notifications import StatusChange

__all__ = ["router"]

#: Ends a stream the database can no longer feed: reconnect in 5 s with `Last-Event-ID`.
_RECONNECT = b"retry: 5000\n\n"

router = APIRouter(tags=["events"], dependencies=[Depends(rate_limited("api"))])


@router.get(
    "/v1/events",
    summary="Live status changes of the caller's declarations (text/event-stream)",
    description=(
        "Each change is an SSE event `status` whose `id` is a cursor: reconnect with `Last-Event-ID` "
        "to receive what was missed, each change once and in order. A comment line every 15 s keeps "
        "idle connections open."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: {"content": {"application/problem+json": {}}},
        403: {"content": {"application/problem+json": {}}},
    },
)
async def events(
    gateway: GatewayDep,
    client: Submitter,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    await gateway.feed.ensure_running()  # the database away: a 503 now, not a stream that breaks
    changes = gateway.feed.changes(client.id, after=after)
    return StreamingResponse(
        _sse(changes),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(changes: AsyncIterator[StatusChange | None]) -> AsyncIterator[bytes]:
    yield b": status changes follow\n\n"
    try:
        async for change in changes:
            if change is None:
                yield b": keep-alive\n\n"
                continue
            data = orjson.dumps(change.as_dict()).decode()
            yield f"id: {change.id}\nevent: status\ndata: {data}\n\n".encode()
    except ServiceUnavailable:  # the database went away mid-stream: end it; the client reconnects
        yield _RECONNECT
