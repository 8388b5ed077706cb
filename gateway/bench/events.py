"""Following a trader's `GET /v1/events` stream and timestamping each status change as it arrives.

The stream is opened with `Last-Event-ID: 0`, so the gateway replays whatever happened between the
request and its subscription: no change is missed however soon the load starts. Times are
`time.perf_counter()` at the moment the event's line was read, as a trader would see it. For CLEARED
it also keeps how long after the gateway recorded the change (the event's `at`, same machine clock)
it arrived: the stream's own share of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection
from datetime import datetime
from types import TracebackType

import httpx
import orjson

from gateway.contracts.statuses import TERMINAL_STATUSES, Status

__all__ = ["StatusWatch"]

_FINAL = frozenset(str(status) for status in TERMINAL_STATUSES)


class StatusWatch:
    """The latest status of each of a trader's declarations, and when CLEARED arrived for each."""

    def __init__(self, url: str, api_key: str) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {api_key}", "Last-Event-ID": "0"}
        self.cleared_at: dict[str, float] = {}  # declaration id -> perf_counter when CLEARED arrived
        self.cleared_lag_s: dict[str, float] = {}  # declaration id -> CLEARED recorded -> arrived
        self.status: dict[str, str] = {}  # declaration id -> latest status seen
        self.events = 0
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()

    async def __aenter__(self) -> StatusWatch:
        self._task = asyncio.create_task(self._follow(), name="status-watch")
        opened = asyncio.create_task(self._opened.wait())
        await asyncio.wait({opened, self._task}, return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
        if self._task.done():
            self._task.result()  # the stream could not be opened: raise why
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def final(self, declaration_id: str) -> bool:
        return self.status.get(declaration_id) in _FINAL

    async def wait_final(self, ids: Collection[str], *, timeout_s: float) -> bool:
        """Wait until each of `ids` has a final status; False if some have none after `timeout_s`."""
        pending = [declaration_id for declaration_id in ids if not self.final(declaration_id)]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while pending:
                    if self._task is not None and self._task.done():
                        self._task.result()
                        raise RuntimeError("the event stream ended")
                    await asyncio.sleep(0.05)
                    pending = [declaration_id for declaration_id in pending if not self.final(declaration_id)]
        return not pending

    async def _follow(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        async with (
            httpx.AsyncClient(base_url=self._url, timeout=timeout) as http,
            http.stream("GET", "/v1/events", headers=self._headers) as stream,
        ):
            stream.raise_for_status()
            self._opened.set()
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    self._seen(orjson.loads(line[6:]), at=time.perf_counter(), wall=time.time())

    def _seen(self, change: dict[str, str], *, at: float, wall: float) -> None:
        self.events += 1
        declaration_id, status = change["declaration_id"], change["status"]
        self.status[declaration_id] = status
        if status == Status.CLEARED and declaration_id not in self.cleared_at:
            self.cleared_at[declaration_id] = at
            self.cleared_lag_s[declaration_id] = wall - datetime.fromisoformat(change["at"]).timestamp()
