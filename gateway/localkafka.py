"""The local single-node Apache Kafka 4.x broker (KRaft) for development, `tsw kafka` and the tests.

`LocalKafka` runs the real broker from Maven Central's `org.apache.kafka:kafka_2.13` jars with the
machine's Java 17: no Docker, no distribution tarball. The jars come from ``deploy/kafka/pom.xml``
(Maven's ``dependency:copy-dependencies``) into ``<cache_dir>/lib``; ``<cache_dir>/pom.sha256`` stamps
which pom they belong to, so Maven runs only when the pom changes or the cache is empty.

One process is both broker and controller (``process.roles=broker,controller``, ``node.id=1``,
formatted with ``StorageTool format --standalone``). Clients use ``PLAINTEXT://host:port``; the
controller listens on ``host:controller_port``, which defaults to ``port + 1`` (9092/9093, as in
Kafka's own quick-start). Keep the ports of a data directory stable: the KRaft voter set written at
format time records the controller endpoint.

Everything lives in ``data_dir``::

    server.properties   broker config, rewritten on every start
    log4j2.properties   logging config, rewritten on every start
    cluster.id          the cluster id, generated once, so a data dir keeps its identity
    kafka.pid           pid of the running broker
    server.out          the JVM's stdout/stderr (warnings and errors only)
    logs/server.log     the broker's log (INFO), rolled at 10 MB, 3 files kept
    data/               Kafka's log.dirs: the partitions and the __cluster_metadata log

The broker is launched detached (its own session, re-parented away from the caller), so it outlives
the `tsw kafka start` that started it and never becomes the caller's zombie; `stop()` and `kill()`
find it again through ``kafka.pid``. Nothing here is global: several instances with different data
directories and ports can run side by side (the tests do).
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psutil
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.config import REPO_ROOT
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.config import Settings

__all__ = ["LocalKafka", "LocalKafkaError"]

_T = TypeVar("_T")

_POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
_DEFAULT_KAFKA_PORT = 9092
#: What kafka-run-class.sh uses by default (KAFKA_JVM_PERFORMANCE_OPTS), minus -server.
_JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
    # Kafka never calls LogManager.shutdown(): with log4j's own hook the log stops mid-shutdown.
    "-Dlog4j2.shutdownHookEnabled=false",
)
_MAVEN_TIMEOUT_S = 900.0
_FORMAT_TIMEOUT_S = 120.0
_LOG_TAIL_LINES = 40
#: Starts `"$@"` in the background with its output in "$1" and prints its pid; the shell then exits,
#: so the broker is nobody's child (no zombie, no Popen left behind in the caller).
_DETACH_SCRIPT = 'out="$1"; shift; "$@" </dev/null >"$out" 2>&1 & echo $!'


class LocalKafkaError(GatewayError):
    """The local development broker cannot be fetched, formatted, started or stopped."""


class LocalKafka:
    """A single-node KRaft broker+controller in ``data_dir``, with its jars cached in ``cache_dir``."""

    def __init__(
        self,
        *,
        data_dir: Path,
        cache_dir: Path,
        host: str = "127.0.0.1",
        port: int = _DEFAULT_KAFKA_PORT,
        controller_port: int | None = None,
        heap_mb: int = 512,
    ) -> None:
        self._data_dir = data_dir.resolve()
        self._cache_dir = cache_dir.resolve()
        self._host = host
        self._port = port
        self._controller_port = port + 1 if controller_port is None else controller_port
        self._heap_mb = heap_mb
        _check_ports(self._port, self._controller_port)

    @classmethod
    def from_settings(cls, settings: Settings, *, heap_mb: int = 512) -> LocalKafka:
        """The broker `settings` point at: ``kafka_data_dir``, ``kafka_cache_dir`` and the host and
        port of the first entry of ``kafka_bootstrap_servers``."""
        host, port = parse_bootstrap(settings.kafka_bootstrap_servers)
        return cls(
            data_dir=settings.kafka_data_dir,
            cache_dir=settings.kafka_cache_dir,
            host=host,
            port=port,
            heap_mb=heap_mb,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def controller_port(self) -> int:
        return self._controller_port

    @property
    def log_file(self) -> Path:
        """The broker's own log (log4j2, INFO and up)."""
        return self._data_dir / "logs" / "server.log"

    @property
    def pid(self) -> int | None:
        """The pid of the running broker, or None."""
        process = self._process()
        return None if process is None else process.pid

    # -- jars -------------------------------------------------------------------------------------

    def fetch(self) -> Path:
        """Make sure the broker's jars for the current pom are in the cache; return the lib dir."""
        lib_dir = self._cache_dir / "lib"
        digest = hashlib.sha256(_POM.read_bytes()).hexdigest()
        if self._fetched(lib_dir, digest):
            return lib_dir
        with _file_lock(self._cache_dir / ".lock"):
            if not self._fetched(lib_dir, digest):  # another process may have fetched meanwhile
                self._maven_fetch(lib_dir, digest)
        return lib_dir

    def _fetched(self, lib_dir: Path, digest: str) -> bool:
        stamp = self._cache_dir / "pom.sha256"
        if not stamp.is_file() or stamp.read_text().strip() != digest:
            return False
        return any(lib_dir.glob("kafka_2.13-*.jar"))

    def _maven_fetch(self, lib_dir: Path, digest: str) -> None:
        stamp = self._cache_dir / "pom.sha256"
        staging = self._cache_dir / "lib.partial"
        stamp.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            _require_tool("mvn", "Maven fetches the Kafka jars from Maven Central"),
            *("-q", "-B", "-f", str(_POM), "dependency:copy-dependencies"),
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        _run(command, what="fetching the Kafka jars with Maven", timeout_s=_MAVEN_TIMEOUT_S)
        shutil.rmtree(lib_dir, ignore_errors=True)
        staging.rename(lib_dir)
        stamp.write_text(digest + "\n")

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, *, timeout_s: float = 90.0) -> None:
        """Fetch, configure, format (first time only), launch, and wait until the broker answers.

        Returns at once when this data dir's broker already runs and answers. If the broker dies
        or does not answer within `timeout_s`, it is stopped and `LocalKafkaError` carries the
        tail of its log.
        """
        deadline = time.monotonic() + timeout_s
        with _file_lock(self._data_dir / ".start.lock"):
            launched = self._launch_unless_running()
            self._await_answer(deadline, timeout_s=timeout_s, launched=launched)

    def launch(self) -> None:
        """Fetch, configure, format (first time only) and launch, without waiting for an answer.

        For a node of a cluster (`gateway.localkafka_cluster`), which answers only once a quorum of
        its peers runs: launch them all, then `wait_until_answering` on each.
        """
        with _file_lock(self._data_dir / ".start.lock"):
            self._launch_unless_running()

    def wait_until_answering(self, *, timeout_s: float = 90.0) -> None:
        """Wait until the launched broker answers; stop it and raise `LocalKafkaError` if it does not."""
        self._await_answer(time.monotonic() + timeout_s, timeout_s=timeout_s, launched=True)

    def _launch_unless_running(self) -> bool:
        """Launch the broker unless this data dir's already runs; True when it was launched now."""
        if self.is_running():
            return False
        self._clear_pid()
        if self.answers():
            raise LocalKafkaError(
                f"{self.bootstrap_servers} already answers Kafka requests, but not from the broker"
                f" of {self._data_dir}: stop that broker or use another port"
            )
        java = _require_tool("java", "Kafka 4 needs Java 17 or newer")
        lib_dir = self.fetch()
        self._write_config()
        self._format_storage(java, lib_dir)
        self._launch(java, lib_dir)
        return True

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Shut the broker down cleanly (SIGTERM), SIGKILL it after `timeout_s`; no-op if not running."""
        process = self._process()
        if process is not None:
            _signal(process, kill=False)
            if not _wait_gone(process, timeout_s):
                _signal(process, kill=True)
                if not _wait_gone(process, 10.0):
                    raise LocalKafkaError(f"Kafka broker pid {process.pid} survived SIGKILL")
        self._clear_pid()

    def kill(self) -> None:
        """SIGKILL the broker now, as a crash would; its data stays, so `start()` recovers it."""
        process = self._process()
        if process is not None:
            _signal(process, kill=True)
            if not _wait_gone(process, 10.0):
                raise LocalKafkaError(f"Kafka broker pid {process.pid} survived SIGKILL")
        self._clear_pid()

    def is_running(self) -> bool:
        """This data dir's broker process is alive (it may still be starting up)."""
        return self._process() is not None

    def answers(self, *, timeout_s: float = 3.0) -> bool:
        """A real Kafka round trip (ApiVersions + Metadata) to ``bootstrap_servers`` succeeds."""
        return self.cluster_id(timeout_s=timeout_s) is not None

    def cluster_id(self, *, timeout_s: float = 3.0) -> str | None:
        """The cluster id the broker at ``bootstrap_servers`` reports, or None if nothing answers."""
        if not _tcp_open(self._host, self._port, timeout_s):
            return None  # saves aiokafka's "Unable connect" error log while nothing listens
        try:
            return _run_in_fresh_loop(lambda: _describe_cluster(self.bootstrap_servers, timeout_s))
        except (KafkaError, OSError, TimeoutError):
            return None

    # -- start-up steps ---------------------------------------------------------------------------

    def _await_answer(self, deadline: float, *, timeout_s: float, launched: bool) -> None:
        while True:
            if not self.is_running():
                self._clear_pid()
                raise LocalKafkaError(f"the Kafka broker exited during start-up{self._log_tail()}")
            remaining_s = deadline - time.monotonic()
            if self.answers(timeout_s=min(3.0, max(0.5, remaining_s))):
                return
            if time.monotonic() >= deadline:
                if launched:
                    self.stop(timeout_s=10.0)
                raise LocalKafkaError(
                    f"the Kafka broker did not answer on {self.bootstrap_servers} within"
                    f" {timeout_s:.0f} s{self._log_tail()}"
                )
            time.sleep(0.2)

    def _write_config(self) -> None:
        (self._data_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self._data_dir / "data").mkdir(parents=True, exist_ok=True)
        self._props_file.write_text(_properties_text(self._server_properties()))
        self._log4j_file.write_text(_properties_text(_log4j2_properties(self.log_file)))

    def _server_properties(self) -> dict[str, str]:
        controller = f"{self._host}:{self._controller_port}"
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "listeners": f"PLAINTEXT://{self.bootstrap_servers},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap_servers}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.bootstrap.servers": controller,
            "log.dirs": str(self._data_dir / "data"),
            **_SINGLE_NODE_PROPERTIES,
        }

    def _format_storage(self, java: str, lib_dir: Path) -> None:
        if (self._data_dir / "data" / "meta.properties").is_file():
            return
        command = [
            *(java, "-Xmx128m", f"-Dlog4j2.configurationFile={self._log4j_file}"),
            *("-cp", f"{lib_dir}/*", _STORAGE_TOOL, "format"),
            *("-t", self._cluster_id_for_format(), "-c", str(self._props_file), *self._quorum_format_args()),
        ]
        _run(command, what="formatting the Kafka storage", timeout_s=_FORMAT_TIMEOUT_S)

    def _quorum_format_args(self) -> tuple[str, ...]:
        """How the KRaft voter set is formed: this node alone (a cluster's nodes name their voters in
        ``controller.quorum.voters`` instead)."""
        return ("--standalone",)

    def _cluster_id_for_format(self) -> str:
        path = self._data_dir / "cluster.id"
        if path.is_file():
            return path.read_text().strip()
        cluster_id = _new_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    def _launch(self, java: str, lib_dir: Path) -> None:
        command = [
            *(java, f"-Xmx{self._heap_mb}m", *_JVM_OPTS),
            f"-Dlog4j2.configurationFile={self._log4j_file}",
            *("-cp", f"{lib_dir}/*", _MAIN_CLASS, str(self._props_file)),
        ]
        detach = ["/bin/sh", "-c", _DETACH_SCRIPT, "sh", str(self._data_dir / "server.out"), *command]
        result = subprocess.run(
            detach, capture_output=True, text=True, check=True, cwd=self._data_dir, start_new_session=True
        )
        self._pid_file.write_text(result.stdout.strip() + "\n")

    # -- process bookkeeping ----------------------------------------------------------------------

    @property
    def _props_file(self) -> Path:
        return self._data_dir / "server.properties"

    @property
    def _log4j_file(self) -> Path:
        return self._data_dir / "log4j2.properties"

    @property
    def _pid_file(self) -> Path:
        return self._data_dir / "kafka.pid"

    def _process(self) -> psutil.Process | None:
        """The live broker process named in the pid file, checked against pid reuse."""
        try:
            pid = int(self._pid_file.read_text().strip())
            process = psutil.Process(pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            cmdline = process.cmdline()
        except (OSError, ValueError, psutil.Error):
            return None
        if _MAIN_CLASS in cmdline and str(self._props_file) in cmdline:
            return process
        return None

    def _clear_pid(self) -> None:
        self._pid_file.unlink(missing_ok=True)

    def _log_tail(self) -> str:
        parts = []
        for path in (self._data_dir / "server.out", self.log_file):
            tail = _tail(path, _LOG_TAIL_LINES)
            if tail:
                parts.append(f"\n--- last lines of {path} ---\n{tail}")
        return "".join(parts) or f"\n(no log output in {self._data_dir})"


#: Single node, and light enough for a 2-core test machine.
_SINGLE_NODE_PROPERTIES: dict[str, str] = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "5",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "5",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "share.coordinator.state.topic.num.partitions": "5",
    "num.partitions": "3",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "group.initial.rebalance.delay.ms": "0",
    # After a crash (kill()) the controller refuses the restarted broker's new incarnation until the
    # old session expires: 9 s by default. 5 s still allows five missed heartbeats.
    "broker.session.timeout.ms": "5000",
    "broker.heartbeat.interval.ms": "1000",
    "auto.create.topics.enable": "false",
    # Routed events carry whole documents; the gateway accepts bodies up to 10 MiB by default.
    "message.max.bytes": str(16 * 1024 * 1024),
    "replica.fetch.max.bytes": str(16 * 1024 * 1024),
    "num.network.threads": "2",
    "num.io.threads": "2",
    "background.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
}


def parse_bootstrap(bootstrap_servers: str) -> tuple[str, int]:
    """Host and port of the first entry of a ``host:port[,host:port...]`` list (port 9092 if absent)."""
    first = bootstrap_servers.split(",")[0].strip()
    first = first.split("://", 1)[-1]
    host, sep, port = first.rpartition(":")
    if not sep:
        return first or "127.0.0.1", _DEFAULT_KAFKA_PORT
    if not port.isdigit():
        raise LocalKafkaError(f"cannot read a port from bootstrap servers {bootstrap_servers!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _check_ports(port: int, controller_port: int) -> None:
    for value in (port, controller_port):
        if not 0 < value < 65536:
            raise LocalKafkaError(f"port {value} is out of range")
    if port == controller_port:
        raise LocalKafkaError(f"the broker and controller cannot share port {port}")


def _new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in URL-safe base64 without padding, as `Uuid.randomUuid()`
    makes it (which also avoids ids starting with '-', since they read as command-line options)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def _properties_text(values: dict[str, str]) -> str:
    header = "# Written by gateway.localkafka on every start; edits are overwritten."
    lines = [f"{key}={value.replace(chr(92), chr(92) * 2)}" for key, value in values.items()]
    return "\n".join([header, *lines]) + "\n"


def _log4j2_properties(log_file: Path) -> dict[str, str]:
    """INFO and up to a rolled file; WARN and up also to stdout (which lands in server.out)."""
    pattern = "[%d] %p %m (%c)%n"
    return {
        "name": "tsw-local-kafka",
        "status": "warn",
        "appender.file.type": "RollingFile",
        "appender.file.name": "file",
        "appender.file.fileName": str(log_file),
        "appender.file.filePattern": f"{log_file}.%i",
        "appender.file.layout.type": "PatternLayout",
        "appender.file.layout.pattern": pattern,
        "appender.file.policies.type": "Policies",
        "appender.file.policies.size.type": "SizeBasedTriggeringPolicy",
        "appender.file.policies.size.size": "10MB",
        "appender.file.strategy.type": "DefaultRolloverStrategy",
        "appender.file.strategy.max": "3",
        "appender.console.type": "Console",
        "appender.console.name": "console",
        "appender.console.layout.type": "PatternLayout",
        "appender.console.layout.pattern": pattern,
        "appender.console.filter.threshold.type": "ThresholdFilter",
        "appender.console.filter.threshold.level": "warn",
        "rootLogger.level": "info",
        "rootLogger.appenderRef.file.ref": "file",
        "rootLogger.appenderRef.console.ref": "console",
        "logger.request.name": "kafka.request.logger",
        "logger.request.level": "warn",
    }


def _require_tool(name: str, why: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LocalKafkaError(f"`{name}` is not on PATH: {why}")
    return path


def _run(command: list[str], *, what: str, timeout_s: float) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(f"{what} took longer than {timeout_s:.0f} s") from exc
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-_LOG_TAIL_LINES:])
        raise LocalKafkaError(f"{what} failed (exit {result.returncode}):\n{output}")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock between processes (two test runs sharing a cache or data dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _signal(process: psutil.Process, *, kill: bool) -> None:
    try:
        if kill:
            process.kill()
        else:
            process.terminate()
    except psutil.NoSuchProcess:
        pass


def _wait_gone(process: psutil.Process, timeout_s: float) -> bool:
    """Wait until `process` has exited (a zombie counts: it is dead and holds no ports)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _tcp_open(host: str, port: int, timeout_s: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


async def _describe_cluster(bootstrap_servers: str, timeout_s: float) -> str | None:
    async with asyncio.timeout(timeout_s):
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="tsw-localkafka-probe",
            request_timeout_ms=max(1, int(timeout_s * 1000)),
        )
        try:
            await admin.start()
            description: dict[str, Any] = await admin.describe_cluster()
        finally:
            await admin.close()
    cluster_id = description.get("cluster_id")
    return cluster_id if isinstance(cluster_id, str) and description.get("brokers") else None


def _run_in_fresh_loop(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine in a new event loop, on a worker thread if this thread already runs one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="localkafka-probe") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()
