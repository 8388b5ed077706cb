"""A relay that dies after Kafka acknowledged a batch but before it recorded that: the batch is sent
again on restart, with the same event ids, so consumers can drop the repeat."""

from __future__ import annotations

from collections import defaultdict

import pytest

from gateway.contracts.topics import route_topic
from tests.conftest import RunningGateway
from tests.examples import content_type, examples
from tests.kafka_helpers import consume_keys, headers_of


class Crash(Exception):
    pass


async def test_a_republished_batch_keeps_its_event_ids(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = running.gateway.messaging
    assert workers is not None
    relay = workers.relay
    await relay.stop()  # drive the relay by hand
    trader = await running.add_client("crash-trader")
    ids = []
    for document in examples("hk.aci.road"):
        answer = await running.http.post(
            "/v1/declarations",
            content=document.read_bytes(),
            headers={**trader, "Content-Type": content_type(document)},
        )
        ids.append(answer.json()["id"])

    async def crash(*_args: object) -> None:
        raise Crash("killed between the Kafka ack and the commit")

    with monkeypatch.context() as patch:
        patch.setattr(relay, "_mark_published", crash)
        with pytest.raises(Crash):
            await relay.publish_batch()
    assert await relay.publish_batch() == 2 * len(ids)
    assert await relay.publish_batch() == 0

    for agency in ("customs", "logistics"):
        records = await consume_keys(running.settings.kafka_bootstrap_servers, route_topic(agency), ids)
        event_ids: dict[str, set[str]] = defaultdict(set)
        for record in records:
            assert record.key is not None
            event_ids[record.key.decode()].add(headers_of(record)["ce_id"])
        assert len(records) == 2 * len(ids), agency  # every record went out twice...
        assert all(len(seen) == 1 for seen in event_ids.values()), event_ids  # ...under one event id
    statuses = {
        (await running.http.get(f"/v1/declarations/{i}", headers=trader)).json()["status"] for i in ids
    }
    assert statuses == {"ROUTED"}
