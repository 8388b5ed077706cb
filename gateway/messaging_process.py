"""The outbox relay in a process of its own, supervised by `tsw serve`.

With `TSW_RELAY=process` (the default for `tsw serve` and `tsw up`) the gateway process only
validates, signs and commits; publishing to Kafka runs here, on the machine's other core. The API
rings the outbox doorbell (`gateway.doorbell`) after each commit, which wakes the relay; it also polls
the outbox every `relay_idle_poll_ms` (an index-only query on the pending rows) in case a ring was
missed. The response consumer and the webhook dispatcher (`gateway.webhooks`) run here too; after each
commit of status changes this process rings the status doorbell, which wakes the API's SSE feed.
`MessagingSupervisor` starts the process, restarts it if it dies, and stops it with SIGTERM.
Its metrics (events published, relay failures, agency answers, webhook attempts) are published every
`METRICS_EVERY_S` as a `MetricsSnapshot`, which the API's `/metrics` serves after its own.
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

from gateway.bootstrap import build_engine, build_messaging
from gateway.config import Settings
from gateway.documents.signing import GatewayKeys
from gateway.doorbell import Doorbells
from gateway.logs import quiet_drivers
from gateway.metrics import Metrics, MetricsSnapshot
from gateway.store.uow import UnitOfWorkFactory

__all__ = ["MessagingSupervisor", "messaging_main"]

log = logging.getLogger(__name__)

#: How often the process publishes its metrics for the API's `/metrics` (at most this stale).
METRICS_EVERY_S = 1.0


def messaging_main(settings: Settings, doorbells: Doorbells, metrics: MetricsSnapshot) -> None:
    """Entry point of the messaging process: run until SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s messaging %(name)s: %(message)s"
    )
    quiet_drivers()  # no statement parameters (documents) in the logs
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the supervisor decides
    uvloop.run(_run(settings, doorbells, metrics))


async def _run(settings: Settings, doorbells: Doorbells, snapshot: MetricsSnapshot) -> None:
    engine = build_engine(settings)
    keys = GatewayKeys.load_or_create(settings.keys_dir)
    metrics = Metrics()
    workers = build_messaging(
        settings, UnitOfWorkFactory(engine), metrics, keys=keys, on_status_change=doorbells.status.ring
    )
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    orphan_watch = asyncio.create_task(_stop_when_orphaned(stopping))
    publishing = asyncio.create_task(_publish_metrics(snapshot, metrics))
    await workers.start()
    doorbells.outbox.listen(workers.notify)
    log.info(
        "outbox relay, response consumer and webhook dispatcher running (bootstrap %s)",
        settings.kafka_bootstrap_servers,
    )
    try:
        await stopping.wait()
    finally:
        orphan_watch.cancel()
        publishing.cancel()
        doorbells.outbox.stop_listening()
        await workers.stop()
        await engine.dispose()
        _publish_once(snapshot, metrics)  # the last counts, for a scrape before the API stops too
        log.info("messaging workers stopped")


async def _publish_metrics(snapshot: MetricsSnapshot, metrics: Metrics) -> None:
    while True:
        _publish_once(snapshot, metrics)
        await asyncio.sleep(METRICS_EVERY_S)


def _publish_once(snapshot: MetricsSnapshot, metrics: Metrics) -> None:
    try:
        snapshot.publish(metrics.messaging_exposition())
    except OSError as exc:  # a full or read-only disk must not stop the workers
        log.warning("messaging metrics not published: %s", exc)


async def _stop_when_orphaned(stopping: asyncio.Event, *, every_s: float = 1.0) -> None:
    """The gateway was killed outright (no SIGTERM reached us): stop rather than run unsupervised."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing to wait on but the parent pid
        await asyncio.sleep(every_s)
    log.warning("gateway process %d is gone; stopping", parent)
    stopping.set()


class MessagingSupervisor:
    """Keeps one messaging process alive until `stop()`; restarts it (after `restart_delay_s`) if it dies."""

    def __init__(
        self,
        settings: Settings,
        doorbells: Doorbells,
        metrics: MetricsSnapshot,
        *,
        restart_delay_s: float = 1.0,
    ) -> None:
        self._settings = settings
        self._doorbells = doorbells
        self._metrics = metrics
        self._restart_delay_s = restart_delay_s
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        if self._watchdog is not None:
            return
        self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name="messaging-supervisor", daemon=True)
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
            log.warning("messaging process did not stop in %.0fs; killing it", timeout_s)
            process.kill()
            process.join()

    def _spawn(self) -> None:
        process = self._context.Process(
            target=messaging_main,
            args=(self._settings, self._doorbells, self._metrics),
            name="tsw-messaging",
        )
        process.start()
        self._process = process

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            process = self._process
            if process is not None and not process.is_alive():
                log.error("messaging process exited (code %s); restarting", process.exitcode)
                with contextlib.suppress(Exception):
                    process.close()
                if self._stopping.wait(self._restart_delay_s):
                    return
                self._spawn()
