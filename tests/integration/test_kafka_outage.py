"""Kafka down: submissions are still accepted; when the broker returns, each event is delivered once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.config import Settings
from gateway.contracts.topics import route_topic
from gateway.localkafka import LocalKafka
from tests.conftest import free_ports, gateway_settings, start_gateway
from tests.examples import content_type, examples
from tests.kafka_helpers import consume_keys, headers_of


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this test's own, so stopping it disturbs no other test."""
    port, controller_port = free_ports(2)
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("outage-kafka"),
        cache_dir=Settings().kafka_cache_dir,
        port=port,
        controller_port=controller_port,
    )
    broker.start(timeout_s=180)
    try:
        yield broker
    finally:
        broker.stop()


async def test_submissions_accepted_while_kafka_is_down_are_each_delivered_once(
    tmp_path: Path, own_kafka: LocalKafka
) -> None:
    documents = [*examples("hk.tdec"), *examples("hk.aci.road")]
    async with start_gateway(gateway_settings(tmp_path, own_kafka)) as running:
        trader = await running.add_client("resilient-trader")
        warmup = await running.http.post(
            "/v1/declarations",
            content=documents[0].read_bytes(),
            headers={**trader, "Content-Type": content_type(documents[0])},
        )
        assert warmup.status_code == 202
        await _wait_routed(running.http, trader, [warmup.json()["id"]])

        await asyncio.to_thread(own_kafka.stop)
        ids = [warmup.json()["id"]]
        for round_ in range(3):
            for document in documents:
                answer = await running.http.post(
                    "/v1/declarations",
                    content=document.read_bytes(),
                    headers={**trader, "Content-Type": content_type(document)},
                )
                assert answer.status_code == 202, f"round {round_} {document.name}: {answer.text}"
                ids.append(answer.json()["id"])
        await asyncio.sleep(2)  # the relay is failing and backing off meanwhile
        statuses = {await _status(running.http, trader, i) for i in ids[1:]}
        assert statuses == {"ACCEPTED"}
        ready = await running.http.get("/readyz")
        assert ready.status_code == 503

        await asyncio.to_thread(own_kafka.start)
        await _wait_routed(running.http, trader, ids, timeout_s=120)

        by_topic: dict[str, list[str]] = {}
        for document_id in ids:
            view = (await running.http.get(f"/v1/declarations/{document_id}", headers=trader)).json()
            for agency in view["agencies"]:
                by_topic.setdefault(route_topic(agency), []).append(document_id)
        for topic, keys in by_topic.items():
            records = await consume_keys(own_kafka.bootstrap_servers, topic, keys, settle_s=2)
            event_ids = Counter(headers_of(r)["ce_id"] for r in records)
            assert sorted(r.key.decode() for r in records if r.key) == sorted(keys), topic
            assert max(event_ids.values()) == 1, f"duplicates on {topic}: {event_ids.most_common(3)}"


async def _status(http: httpx.AsyncClient, headers: dict[str, str], declaration_id: str) -> str:
    answer = await http.get(f"/v1/declarations/{declaration_id}", headers=headers)
    return str(answer.json()["status"])


async def _wait_routed(
    http: httpx.AsyncClient, headers: dict[str, str], ids: list[str], timeout_s: float = 60
) -> None:
    async with asyncio.timeout(timeout_s):
        for declaration_id in ids:
            while await _status(http, headers, declaration_id) != "ROUTED":  # noqa: ASYNC110 - polling HTTP
                await asyncio.sleep(0.1)
