"""`TtlCache`: cached for its life, one load for concurrent misses, and a `forget` never hidden by a
load that was already running."""

from __future__ import annotations

import asyncio

from gateway.ttl_cache import TtlCache


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, key: str) -> str:
        self.calls += 1
        value = f"{key}-{self.calls}"
        if self.gate is not None:
            await self.gate.wait()
        return value


async def test_values_live_for_their_ttl() -> None:
    now = [0.0]
    load = Loader()
    cache = TtlCache(load, ttl_s=5.0, monotonic=lambda: now[0])
    assert await cache.get("a") == "a-1"
    now[0] = 4.9
    assert await cache.get("a") == "a-1"
    now[0] = 5.0
    assert await cache.get("a") == "a-2"
    assert await cache.get("b") == "b-3"


async def test_concurrent_misses_share_one_load() -> None:
    load = Loader()
    load.gate = asyncio.Event()
    cache = TtlCache(load, ttl_s=60.0)
    waiting = [asyncio.ensure_future(cache.get("a")) for _ in range(50)]
    await asyncio.sleep(0.01)
    load.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"a-1"}
    assert load.calls == 1


async def test_a_forget_during_a_load_is_not_undone_by_it() -> None:
    load = Loader()
    load.gate = asyncio.Event()
    cache = TtlCache(load, ttl_s=60.0)
    stale = asyncio.ensure_future(cache.get("a"))
    await asyncio.sleep(0.01)
    cache.forget("a")  # e.g. a key revoked while the old list was being read
    fresh = asyncio.ensure_future(cache.get("a"))
    await asyncio.sleep(0.01)
    load.gate.set()
    assert (await stale, await fresh) == ("a-1", "a-2")
    assert await cache.get("a") == "a-2"  # the stale value was never kept
    assert load.calls == 2
    cache.forget("a")
    assert await cache.get("a") == "a-3"
