"""The gateway as users run it: `tsw clients add`, `tsw serve`, `tsw submit`, `tsw verify-receipt`."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from gateway.localkafka import LocalKafka
from tests.e2e.conftest import serve_gateway, tsw
from tests.examples import examples


def test_cli_round_trip_against_a_served_gateway(served: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = served
    added = tsw("clients", "add", "cli-trader", "--role", "trader", env=env)
    api_key = added.stdout.strip().splitlines()[-1]
    assert api_key.startswith("tsw_")
    document = examples("hk.tdec", suffix=".xml")[0]

    submitted = tsw("submit", str(document), "--url", url, "--api-key", api_key, env=env)
    answer = orjson.loads(submitted.stdout[submitted.stdout.index("{") :])
    assert answer["status"] == "ACCEPTED"
    receipt_file = tmp_path / "receipt.jws"
    receipt_file.write_text(answer["receipt"])

    verified = tsw(
        "verify-receipt",
        str(receipt_file),
        "--jwks",
        f"{url}/.well-known/jwks.json",
        "--body",
        str(document),
        env=env,
    )
    assert "receipt valid" in verified.stdout
    tampered = tsw(
        "verify-receipt",
        str(receipt_file),
        "--jwks",
        f"{url}/.well-known/jwks.json",
        "--body",
        str(examples("hk.tdec", suffix=".xml")[1]),
        env=env,
        check=False,
    )
    assert tampered.returncode == 1
    deadline = time.monotonic() + 30
    while True:
        status = tsw("status", answer["id"], "--url", url, "--api-key", api_key, env=env)
        if '"ROUTED"' in status.stdout:
            break
        assert time.monotonic() < deadline, status.stdout
        time.sleep(0.2)
    # The relay runs in the messaging process; its counts reach the API's /metrics all the same.
    while (published := _published(httpx.get(f"{url}/metrics").text)) < 1:
        assert time.monotonic() < deadline + 5, "events published by the messaging process not in /metrics"
        time.sleep(0.2)
    assert published >= 1


def _published(exposition: str) -> float:
    """tsw_events_published summed over topics; each metric family once in the scrape."""
    families = list(text_string_to_metric_families(exposition))
    names = [family.name for family in families]
    assert len(names) == len(set(names)), names
    return sum(
        sample.value
        for family in families
        if family.name == "tsw_events_published"
        for sample in family.samples
        if sample.name == "tsw_events_published_total"
    )


def test_a_commit_wakes_the_relay_in_the_messaging_process(tmp_path: Path, kafka: LocalKafka) -> None:
    """The API process rings the outbox doorbell: with the relay's fallback poll at ten minutes, a
    declaration is still routed at once."""
    with serve_gateway(tmp_path, kafka, TSW_RELAY_IDLE_POLL_MS="600000") as (url, env):
        api_key = tsw("clients", "add", "rung-trader", env=env).stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/xml"}
        time.sleep(1.0)  # past the relay's first look at the outbox, when it starts
        accepted = httpx.post(
            f"{url}/v1/declarations",
            content=examples("hk.tdec", suffix=".xml")[0].read_bytes(),
            headers=headers,
            timeout=10,
        )
        assert accepted.status_code == 202, accepted.text
        declaration = f"{url}/v1/declarations/{accepted.json()['id']}"
        deadline = time.monotonic() + 20
        while (status := httpx.get(declaration, headers=headers).json()["status"]) == "ACCEPTED":
            assert time.monotonic() < deadline, "not routed: the relay was not woken"
            time.sleep(0.1)
        assert status == "ROUTED"


def test_oversized_body_is_refused_before_it_is_read(served: tuple[str, dict[str, str]]) -> None:
    url, env = served
    api_key = tsw("clients", "add", "big-sender", env=env).stdout.strip().splitlines()[-1]
    host, port = url.removeprefix("http://").split(":")
    declared = 50 * 1024 * 1024
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/declarations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/xml\r\nContent-Length: {declared}\r\n\r\n".encode()
            + b"<a>"
        )
        answer = sock.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "application/problem+json" in answer
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_openapi_jwks_metrics_and_readiness(served: tuple[str, dict[str, str]]) -> None:
    url, _ = served
    spec = httpx.get(f"{url}/openapi.json").json()
    assert {"/v1/declarations", "/v1/declarations/{declaration_id}", "/.well-known/jwks.json"} <= set(
        spec["paths"]
    )
    keys = httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in keys)
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    asyncapi = httpx.get(f"{url}/asyncapi.yaml")
    assert asyncapi.headers["content-type"].startswith("application/yaml")
    assert "tsw.route.customs" in asyncapi.text
    metrics = httpx.get(f"{url}/metrics").text
    assert "tsw_outbox_backlog" in metrics
    assert "tsw_submissions_total" in metrics or "# TYPE tsw_submissions counter" in metrics
