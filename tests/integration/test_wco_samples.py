"""The real WCO DEC-DMS samples (UK CDS), registered through TSW_SCHEMA_PACKS, not shipped."""

from __future__ import annotations

import asyncio

from gateway.contracts.topics import route_topic
from tests.conftest import RunningGateway
from tests.examples import wco_samples
from tests.kafka_helpers import consume_keys


async def test_the_150_valid_samples_are_accepted_and_routed_to_customs(running: RunningGateway) -> None:
    trader = await running.add_client("uk-cds-trader")
    valid, _ = wco_samples()
    assert len(valid) == 150

    async def submit(path: object) -> str:
        assert hasattr(path, "read_bytes")
        answer = await running.http.post(
            "/v1/declarations",
            content=path.read_bytes(),
            headers={**trader, "Content-Type": "application/xml"},
        )
        assert answer.status_code == 202, f"{path}: {answer.text}"
        assert answer.json()["document_type"] == "wco.dec-dms"
        return str(answer.json()["id"])

    ids = []
    for start in range(0, len(valid), 25):
        ids.extend(await asyncio.gather(*(submit(path) for path in valid[start : start + 25])))

    records = await consume_keys(running.settings.kafka_bootstrap_servers, route_topic("customs"), ids)
    assert sorted(r.key.decode() for r in records if r.key) == sorted(ids)


async def test_the_invalid_sample_is_refused_with_located_errors(running: RunningGateway) -> None:
    trader = await running.add_client("uk-cds-careless")
    _, invalid = wco_samples()

    answer = await running.http.post(
        "/v1/declarations",
        content=invalid.read_bytes(),
        headers={**trader, "Content-Type": "application/xml"},
    )

    assert answer.status_code == 422
    body = answer.json()
    assert body["document_type"] == "wco.dec-dms"
    assert body["errors"], body
    unknown = [e for e in body["errors"] if "unknown" in e["message"]]
    assert unknown, body["errors"]
    assert unknown[0]["code"] == "xsd.invalid"
    assert unknown[0]["path"].startswith("/MetaData/")
    assert unknown[0]["path"].endswith("unknown")
