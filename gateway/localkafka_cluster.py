"""A local KRaft cluster of N Apache Kafka 4.x nodes, for fault injection (`tsw chaos`) and its tests.

Every node is a combined broker and controller (``process.roles=broker,controller``) with its own data
directory (``<data_dir>/node-<id>``), client port and controller port, all free ports on 127.0.0.1.
The voter set is static (``controller.quorum.voters=1@host:port,2@…``), so each node's storage is
formatted alone, without ``--standalone``, under the cluster id all nodes share. A node answers only
once a quorum of controllers (two of three) runs, so the cluster launches every node before waiting
for any.

Topics are meant to survive one node: the internal topics (consumer offsets, transactions) get a
replication factor of N, and ``min.insync.replicas`` is N - 1 (2 of 3) for every topic, so that with
the producer's ``acks=all`` a record acknowledged is on at least two nodes, and writes go on while one
node is down. The gateway creates its own topics with ``TSW_TOPIC_REPLICATION_FACTOR`` (set it to N).

Each node is a `LocalKafka` (the same jars, launch, pid file, logs and `kill()`), so a node can be
SIGKILLed and started again on its own; `quorum_leader()` names the active controller, read from a
live node's ``quorum-state`` file.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gateway.localkafka import LocalKafka, LocalKafkaError, _new_cluster_id

__all__ = ["ClusterNode", "LocalKafkaCluster"]


class ClusterNode(LocalKafka):
    """One combined broker+controller node of a `LocalKafkaCluster`."""

    def __init__(
        self,
        *,
        node_id: int,
        voters: Callable[[], str],
        replication_factor: int,
        data_dir: Path,
        cache_dir: Path,
        host: str,
        port: int,
        controller_port: int,
        heap_mb: int,
    ) -> None:
        super().__init__(
            data_dir=data_dir,
            cache_dir=cache_dir,
            host=host,
            port=port,
            controller_port=controller_port,
            heap_mb=heap_mb,
        )
        self._node_id = node_id
        self._voters = voters
        self._replication_factor = replication_factor

    @property
    def node_id(self) -> int:
        return self._node_id

    @property
    def controller_endpoint(self) -> str:
        return f"{self._host}:{self.controller_port}"

    def quorum_leader(self) -> int | None:
        """The KRaft leader (active controller) this node last knew of, from its quorum-state file."""
        path = self.data_dir / "data" / "__cluster_metadata-0" / "quorum-state"
        try:
            leader = json.loads(path.read_text()).get("leaderId")
        except (OSError, ValueError):
            return None
        return leader if isinstance(leader, int) and leader >= 0 else None

    def _server_properties(self) -> dict[str, str]:
        properties = super()._server_properties()
        properties.pop("controller.quorum.bootstrap.servers", None)
        replicas = str(self._replication_factor)
        min_insync = str(max(1, self._replication_factor - 1))
        return {
            **properties,
            "node.id": str(self._node_id),
            "controller.quorum.voters": self._voters(),
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_insync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_insync,
            "default.replication.factor": replicas,
            "min.insync.replicas": min_insync,
            # A replica that stops fetching leaves the ISR after this long (default 30 s).
            "replica.lag.time.max.ms": "10000",
        }

    def _quorum_format_args(self) -> tuple[str, ...]:
        return ()  # the static voter set in controller.quorum.voters


class LocalKafkaCluster:
    """`nodes` combined broker+controller nodes under `data_dir`, on the given (or free) ports."""

    def __init__(
        self,
        *,
        data_dir: Path,
        cache_dir: Path,
        ports: list[tuple[int, int]],
        host: str = "127.0.0.1",
        heap_mb: int = 512,
    ) -> None:
        """`ports`: one (client port, controller port) pair per node; node ids are 1..N."""
        if len(ports) < 1:
            raise LocalKafkaError("a cluster needs at least one node")
        data_dir = data_dir.resolve()
        self._nodes = [
            ClusterNode(
                node_id=index,
                voters=self._voters,
                replication_factor=len(ports),
                data_dir=data_dir / f"node-{index}",
                cache_dir=cache_dir,
                host=host,
                port=port,
                controller_port=controller_port,
                heap_mb=heap_mb,
            )
            for index, (port, controller_port) in enumerate(ports, start=1)
        ]
        self._cluster_id_file = data_dir / "cluster.id"

    @property
    def nodes(self) -> list[ClusterNode]:
        return list(self._nodes)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self._nodes)

    def node(self, node_id: int) -> ClusterNode:
        for node in self._nodes:
            if node.node_id == node_id:
                return node
        raise LocalKafkaError(f"no node {node_id} in this cluster")

    def start(self, *, timeout_s: float = 180.0) -> None:
        """Launch every node that is not running, then wait until each answers; on failure stop all."""
        cluster_id = self._cluster_id()
        deadline = time.monotonic() + timeout_s
        try:
            for node in self._nodes:
                node.data_dir.mkdir(parents=True, exist_ok=True)
                (node.data_dir / "cluster.id").write_text(cluster_id + "\n")
                node.launch()
            for node in self._nodes:
                node.wait_until_answering(timeout_s=max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise

    def start_node(self, node_id: int, *, timeout_s: float = 120.0) -> None:
        """Start one node again (after `kill_node`); its peers must be running for it to answer."""
        self.node(node_id).start(timeout_s=timeout_s)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node now, as a crash would; its data stays."""
        self.node(node_id).kill()

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL); the last errors are raised after all were tried."""
        errors: list[LocalKafkaError] = []
        for node in reversed(self._nodes):
            try:
                node.stop(timeout_s=20.0)
            except LocalKafkaError as exc:
                errors.append(exc)
        if errors:
            raise errors[-1]

    def quorum_leader(self) -> int | None:
        """The active controller, as the first running node that knows one says."""
        for node in self._nodes:
            if node.is_running() and (leader := node.quorum_leader()) is not None:
                return leader
        return None

    def running_nodes(self) -> list[int]:
        return [node.node_id for node in self._nodes if node.is_running()]

    def _voters(self) -> str:
        return ",".join(f"{node.node_id}@{node.controller_endpoint}" for node in self._nodes)

    def _cluster_id(self) -> str:
        with contextlib.suppress(OSError):
            return self._cluster_id_file.read_text().strip()
        self._cluster_id_file.parent.mkdir(parents=True, exist_ok=True)
        cluster_id = _new_cluster_id()
        self._cluster_id_file.write_text(cluster_id + "\n")
        return cluster_id

    def __iter__(self) -> Iterator[ClusterNode]:
        return iter(self._nodes)
