"""The outbox relay in a process of its own, supervised by `tsw serve`.

With `TSW_RELAY=process` (the default for `tsw serve` and `tsw up`) the gateway process only
validates, signs and commits; publishing to Kafka runs here, on the machine's other core. The relay
finds new rows by polling the outbox every `relay_idle_poll_ms` (an index-only query on the pending
rows). `RelaySupervisor` starts the process, restarts it if it dies, and stops it with SIGTERM.
Its counters (events published, failures) are logged; the gateway's `/metrics` reports the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.process import BaseProcess

import uvloop

from gateway.bootstrap import build_engine, build_relay
from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["RelaySupervisor", "relay_main"]

log = logging.getLogger(__name__)


def relay_main(settings: Settings) -> None:
    """Entry point of the relay process: run until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s relay %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the supervisor decides
    uvloop.run(_run(settings))


async def _run(settings: Settings) -> None:
    engine = build_engine(settings)
    relay = build_relay(settings, UnitOfWorkFactory(engine), Metrics())
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    orphan_watch = asyncio.create_task(_stop_when_orphaned(stopping))
    await relay.start()
    log.info("outbox relay running (bootstrap %s)", settings.kafka_bootstrap_servers)
    try:
        await stopping.wait()
    finally:
        orphan_watch.cancel()
        await relay.stop()
        await engine.dispose()
        log.info("outbox relay stopped")


async def _stop_when_orphaned(stopping: asyncio.Event, *, every_s: float = 1.0) -> None:
    """The gateway was killed outright (no SIGTERM reached us): stop rather than run unsupervised."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing to wait on but the parent pid
        await asyncio.sleep(every_s)
    log.warning("gateway process %d is gone; stopping the relay", parent)
    stopping.set()


class RelaySupervisor:
    """Keeps one relay process alive until `stop()`; restarts it (after `restart_delay_s`) if it dies."""

    def __init__(self, settings: Settings, *, restart_delay_s: float = 1.0) -> None:
        self._settings = settings
        self._restart_delay_s = restart_delay_s
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        if self._watchdog is not None:
            return
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="relay-supervisor", daemon=True)
        self._watchdog.start()

    def stop(self, *, timeout_s: float = 15.0) -> None:
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        process, self._process = self._process, None
        if process is None or not process.is_alive():
            return
        process.terminate()
        process.join(timeout_s)
        if process.is_alive():
            log.warning("relay process did not stop in %.0fs; killing it", timeout_s)
            process.kill()
            process.join()

    def _spawn(self) -> None:
        process = self._context.Process(target=relay_main, args=(self._settings,), name="tsw-relay")
        process.start()
        self._process = process

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            process = self._process
            if process is not None and not process.is_alive():
                log.error("relay process exited (code %s); restarting", process.exitcode)
                with contextlib.suppress(Exception):
                    process.close()
                if self._stopping.wait(self._restart_delay_s):
                    return
                self._spawn()
