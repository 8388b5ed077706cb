"""The local broker itself: start, answer, keep a record across a crash (SIGKILL) and restart, stop.

Runs its own broker on free ports in a temp data dir (the jar cache is the shared one), so it can kill
it without disturbing the session broker. A missing `java` or `mvn` fails the test, never skips it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gateway.bench.processes import free_ports
from gateway.config import Settings
from gateway.localkafka import LocalKafka

pytestmark = pytest.mark.kafka

START_TIMEOUT_S = 180.0


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalKafka]:
    port, controller_port = free_ports(2)
    kafka = LocalKafka(
        data_dir=tmp_path / "kafka",
        cache_dir=Settings().kafka_cache_dir,
        port=port,
        controller_port=controller_port,
        heap_mb=384,
    )
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.stop)


async def _create_topic(bootstrap_servers: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    async with asyncio.timeout(30):
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()


async def _produce(bootstrap_servers: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all", request_timeout_ms=10_000
    )
    async with asyncio.timeout(30):
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()


async def _read_one(bootstrap_servers: str, topic: str) -> tuple[bytes | None, bytes | None]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=10_000,
    )
    async with asyncio.timeout(60):
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
    return record.key, record.value


async def test_broker_answers_and_keeps_records_across_a_crash(broker: LocalKafka) -> None:
    assert not await asyncio.to_thread(broker.answers)

    await asyncio.to_thread(broker.start, timeout_s=START_TIMEOUT_S)
    assert broker.is_running()
    assert await asyncio.to_thread(broker.answers)
    pid = broker.pid
    await asyncio.to_thread(broker.start, timeout_s=START_TIMEOUT_S)  # idempotent: same process
    assert broker.pid == pid

    topic = f"tsw.test.localkafka.{uuid.uuid4().hex[:12]}"
    value = f"declaration {uuid.uuid4()}".encode()
    await _create_topic(broker.bootstrap_servers, topic)
    await _produce(broker.bootstrap_servers, topic, b"key-1", value)
    assert await _read_one(broker.bootstrap_servers, topic) == (b"key-1", value)

    await asyncio.to_thread(broker.kill)
    assert not broker.is_running()
    assert not await asyncio.to_thread(broker.answers, timeout_s=2.0)

    await asyncio.to_thread(broker.start, timeout_s=START_TIMEOUT_S)
    assert await asyncio.to_thread(broker.answers)
    assert await _read_one(broker.bootstrap_servers, topic) == (b"key-1", value)

    await asyncio.to_thread(broker.stop)
    assert not broker.is_running()
    assert not await asyncio.to_thread(broker.answers, timeout_s=2.0)
    await asyncio.to_thread(broker.stop)  # safe when already stopped
    assert (broker.data_dir / "cluster.id").is_file()
    assert "Kafka Server started" in broker.log_file.read_text()
