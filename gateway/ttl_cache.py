"""A small per-key cache for what the hot path reads on every request of a client (its signing keys,
the traders a forwarder may lodge for).

Values are loaded on demand and kept `ttl_s`; concurrent requests that miss the same key share one
load (a burst at expiry is one query, not one per request). `forget(key)` drops a key at once (a
change made through this process), and a load that began before a `forget` answers its caller but is
not kept, so a change is never hidden by a stale load finishing after it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self,
        load: Callable[[str], Awaitable[V]],
        *,
        ttl_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Future[V]] = {}
        self._generation = 0

    async def get(self, key: str) -> V:
        entry = self._entries.get(key)
        if entry is not None and self._monotonic() - entry[0] < self._ttl_s:
            return entry[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = self._loading[key] = asyncio.ensure_future(self._fetch(key))
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)

    def forget(self, key: str) -> None:
        self._generation += 1
        self._entries.pop(key, None)
        self._loading.pop(key, None)  # later callers load afresh

    def _settled(self, key: str, done: asyncio.Future[V]) -> None:
        if self._loading.get(key) is done:  # not a newer load started after a `forget`
            del self._loading[key]

    async def _fetch(self, key: str) -> V:
        generation = self._generation
        value = await self._load(key)
        if generation == self._generation:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (self._monotonic(), value)
        return value
