"""The whole loop on real processes: gateway, Kafka, four adapters, four simulated agencies.

Declarations are submitted over HTTP and followed to their final status: cleared, held (controlled
goods without a licence) and rejected (a sanctioned origin); amended while customs is still deciding
(customs decides again on the new version) and cancelled (every agency acknowledges).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.config import Settings
from gateway.stack import LocalServices
from tests.conftest import free_ports
from tests.e2e.conftest import tsw
from tests.examples import content_type, examples, wco_samples


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    simulators: dict[str, str]  # agency -> base URL


@pytest.fixture
def stack(served: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[Stack]:
    url, env = served
    settings = Settings(
        data_dir=tmp_path / "stack", kafka_bootstrap_servers=env["TSW_KAFKA_BOOTSTRAP_SERVERS"]
    )
    agencies = ("customs", "tid", "censtatd", "logistics")
    services = LocalServices(settings, gateway_url=url, ports=dict(zip(agencies, free_ports(4), strict=True)))
    services.start()
    try:
        deadline = time.monotonic() + 60
        for service in services.services:
            while service.url is not None:
                try:
                    if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, service.log.read_text()
                time.sleep(0.2)
        simulators = {
            service.name.split()[0]: service.url
            for service in services.services
            if service.url is not None and service.name.endswith("simulator")
        }
        yield Stack(url, env, simulators)
    finally:
        services.stop()


async def final_status(http: httpx.AsyncClient, declaration_id: str, *, deadline: float) -> dict:  # type: ignore[type-arg]
    """The declaration once final, or as it stands at `deadline` (loop time)."""
    loop = asyncio.get_running_loop()
    while True:
        view = (await http.get(f"/v1/declarations/{declaration_id}")).json()
        if view["status"] in ("CLEARED", "HELD", "REJECTED", "CANCELLED") or loop.time() > deadline:
            return view  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)


def tdec_with(**changes: object) -> bytes:
    document = orjson.loads(examples("hk.tdec", suffix=".json")[0].read_bytes())
    for line in document["lines"]:
        line.update(changes)
    return orjson.dumps(document)


async def test_declarations_reach_their_final_status(stack: Stack) -> None:
    url, env = stack.url, stack.env
    api_key = tsw("clients", "add", "stack-trader", env=env).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {api_key}"}
    valid_wco, _ = wco_samples()
    labels = ["tdec", "aci", *(path.name for path in valid_wco), "arms", "KP"]
    cases: list[tuple[bytes, str, str]] = [
        (examples("hk.tdec", suffix=".xml")[0].read_bytes(), "application/xml", "CLEARED"),
        (examples("hk.aci.road", suffix=".json")[0].read_bytes(), "application/json", "CLEARED"),
        *((path.read_bytes(), content_type(path), "CLEARED") for path in valid_wco),
        (tdec_with(hsCode="93020000"), "application/json", "HELD"),
        (tdec_with(countryOfOrigin="KP"), "application/json", "REJECTED"),
    ]
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        ids = []
        for body, media_type, _ in cases:
            answer = await http.post("/v1/declarations", content=body, headers={"Content-Type": media_type})
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        deadline = asyncio.get_running_loop().time() + 120
        views = [await final_status(http, declaration_id, deadline=deadline) for declaration_id in ids]

    wrong = [
        (label, view["status"], view["agencies"])
        for view, (_, _, expected), label in zip(views, cases, labels, strict=True)
        if view["status"] != expected
    ]
    assert not wrong, wrong
    for view in views:  # CLEARED needs every target agency's CLEARED; HELD/REJECTED need only one
        if view["status"] == "CLEARED":
            assert {state["status"] for state in view["agencies"].values()} == {"CLEARED"}, view
    held, rejected = views[-2], views[-1]
    assert held["agencies"]["customs"]["status"] == "HELD"
    assert rejected["agencies"]["customs"]["status"] == "REJECTED"
    assert "KP" in (rejected["agencies"]["customs"]["reason"] or "")
    cleared_tdec = views[0]
    assert cleared_tdec["agencies"]["customs"]["reference"].startswith("CED")
    assert [h["status"] for h in cleared_tdec["history"]] == ["ACCEPTED", "ROUTED", "UNDER_REVIEW", "CLEARED"]


async def test_amended_and_cancelled_while_customs_decides(stack: Stack) -> None:
    api_key = tsw("clients", "add", "changing-trader", env=stack.env).stdout.strip().splitlines()[-1]
    customs = stack.simulators["customs"]
    async with httpx.AsyncClient(
        base_url=stack.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as http:
        # Customs takes 3 s per decision: time to amend or cancel before it answers.
        assert (await http.put(f"{customs}/v1/faults", json={"latency_ms": 3000})).status_code == 200
        json_body = {"Content-Type": "application/json"}
        arms = await http.post("/v1/declarations", content=tdec_with(hsCode="93020000"), headers=json_body)
        withdrawn = await http.post("/v1/declarations", content=tdec_with(), headers=json_body)
        arms_id, withdrawn_id = arms.json()["id"], withdrawn.json()["id"]

        # Version 2 drops the arms: customs' HOLD of version 1 must not count, its CLEARED of version 2 must.
        amended = await http.post(
            f"/v1/declarations/{arms_id}/amendments", content=tdec_with(), headers=json_body
        )
        assert amended.status_code == 202, amended.text
        cancelled = await http.post(
            f"/v1/declarations/{withdrawn_id}/cancellation", json={"reason": "buyer withdrew the order"}
        )
        assert cancelled.status_code == 202, cancelled.text

        deadline = asyncio.get_running_loop().time() + 90
        cleared = await final_status(http, arms_id, deadline=deadline)
        while True:
            view = (await http.get(f"/v1/declarations/{withdrawn_id}")).json()
            acknowledged = {agency: state["status"] for agency, state in view["agencies"].items()}
            if set(acknowledged.values()) == {"CANCELLED"} or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        await http.put(f"{customs}/v1/faults", json={"latency_ms": 0})

    assert cleared["status"] == "CLEARED", cleared
    assert cleared["version"] == 2
    assert {state["status"] for state in cleared["agencies"].values()} == {"CLEARED"}
    assert [h["status"] for h in cleared["history"]][-1] == "CLEARED"
    assert "HELD" not in [h["status"] for h in cleared["history"]]
    assert view["status"] == "CANCELLED"
    assert acknowledged == {"customs": "CANCELLED", "censtatd": "CANCELLED"}, view
