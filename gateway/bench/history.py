"""The server's own view of the loop: ACCEPTED -> CLEARED from each declaration's status history.

`GET /v1/declarations/{id}` lists every status with the time the gateway recorded it; the difference
between the CLEARED entry and the ACCEPTED entry is the loop as the server timed it, without the
client's HTTP or the event stream's delivery. A read that keeps failing (503 while the database is
busy) is retried a few times, then counted as unread rather than ending the benchmark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx

__all__ = ["ServerTimes", "accepted_to_cleared_s"]

_ATTEMPTS = 5


@dataclass
class ServerTimes:
    elapsed_s: list[float] = field(default_factory=list)  # ACCEPTED -> CLEARED, per declaration read
    unread: int = 0  # declarations whose history could not be read, or has no CLEARED


async def accepted_to_cleared_s(
    url: str, api_key: str, *, ids: Sequence[str], concurrency: int = 4
) -> ServerTimes:
    """ACCEPTED -> CLEARED in seconds for each of `ids` whose history has both entries."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for declaration_id in ids:
        queue.put_nowait(declaration_id)
    times = ServerTimes()
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:

        async def reader() -> None:
            while not queue.empty():
                elapsed = await _read_one(http, queue.get_nowait())
                if elapsed is None:
                    times.unread += 1
                else:
                    times.elapsed_s.append(elapsed)

        await asyncio.gather(*(reader() for _ in range(concurrency)))
    return times


async def _read_one(http: httpx.AsyncClient, declaration_id: str) -> float | None:
    for attempt in range(_ATTEMPTS):
        try:
            response = await http.get(f"/v1/declarations/{declaration_id}")
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 200:
            return _elapsed_s(response.json()["history"])
        await asyncio.sleep(0.2 * (attempt + 1))
    return None


def _elapsed_s(history: list[dict[str, str]]) -> float | None:
    at = {entry["status"]: datetime.fromisoformat(entry["at"]) for entry in reversed(history)}
    if "ACCEPTED" not in at or "CLEARED" not in at:
        return None
    return (at["CLEARED"] - at["ACCEPTED"]).total_seconds()
