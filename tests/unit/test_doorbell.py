"""Doorbells between the gateway's processes (`gateway.doorbell`)."""

from __future__ import annotations

import asyncio
import multiprocessing

from gateway.doorbell import Doorbell


def _ring(bell: Doorbell) -> None:
    bell.ring()


async def test_a_ring_in_a_spawned_process_wakes_the_listener() -> None:
    bell = Doorbell()
    rung = asyncio.Event()
    bell.listen(rung.set)
    try:
        await asyncio.sleep(0.05)
        rung.clear()  # listen() answers once for rings made before it
        child = multiprocessing.get_context("spawn").Process(target=_ring, args=(bell,))
        child.start()
        await asyncio.to_thread(child.join, 60)
        assert child.exitcode == 0
        async with asyncio.timeout(5):
            await rung.wait()
    finally:
        bell.stop_listening()


async def test_rings_with_nobody_listening_never_block_and_fold_into_one_wake_up() -> None:
    bell = Doorbell()
    for _ in range(200_000):  # far past the pipe's buffer
        bell.ring()
    calls: list[int] = []
    rung = asyncio.Event()

    def on_ring() -> None:
        calls.append(1)
        rung.set()

    bell.listen(on_ring)
    try:
        await asyncio.sleep(0.2)
        assert 1 <= len(calls) <= 3  # drained in a few reads, not one call per ring
        calls.clear()
        rung.clear()
        await asyncio.sleep(0.1)
        assert calls == []  # drained: nothing more until the next ring
        bell.ring()
        async with asyncio.timeout(5):
            await rung.wait()
    finally:
        bell.stop_listening()
