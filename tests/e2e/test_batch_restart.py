"""The gateway killed (SIGKILL) in the middle of a 100,000-consignment batch, then restarted: every
consignment ends accepted or refused exactly once, and every accepted one is routed once."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from gateway.contracts.bulk import parse_bulk_value
from gateway.contracts.topics import route_topic
from gateway.ecommerce.generate import FileFormat, GeneratedConsignment, encode, generate_consignments
from gateway.localkafka import LocalKafka
from tests.conftest import free_port
from tests.e2e.conftest import tsw
from tests.kafka_helpers import consume_keys, headers_of

CONSIGNMENTS = 100_000


def start_gateway(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "gateway did not start"
        time.sleep(0.2)


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the gateway and its messaging process: no chance to clean up."""
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for member in family:
        member.send_signal(signal.SIGKILL)
    psutil.wait_procs(family, timeout=15)
    process.wait(timeout=15)


def poll(http: httpx.Client, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = http.get(f"/v1/batches/{job_id}").json()
    return job


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        yield from iter(lambda: stream.read(1 << 20), b"")


def test_a_killed_gateway_resumes_its_batch_exactly_once(tmp_path: Path, kafka: LocalKafka) -> None:
    env = {
        **os.environ,
        "TSW_DATA_DIR": str(tmp_path),
        "TSW_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TSW_BATCH_CHUNK_RECORDS": "500",
    }
    env.pop("TSW_DATABASE_URL", None)
    refs: list[str] = []
    defects: list[bool] = []

    def noted(items: Iterator[GeneratedConsignment]) -> Iterator[GeneratedConsignment]:
        for item in items:
            refs.append(item.rows[0]["consignment_ref"])
            defects.append(item.defect is not None)
            yield item

    upload = tmp_path / "consignments.csv"
    with upload.open("wb") as out:
        generated = generate_consignments(CONSIGNMENTS, invalid_rate=0.05, seed=2026)
        out.writelines(encode(noted(generated), FileFormat.CSV))
    invalid = sum(defects)
    api_key = (
        tsw("clients", "add", "restart-forwarder", "--role", "forwarder", env=env)
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    log = tmp_path / "gateway.log"
    process = start_gateway(env, port, log)
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as http:
        answer = http.post("/v1/batches", content=file_chunks(upload), headers={"Content-Type": "text/csv"})
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["id"]
        deadline = time.monotonic() + 300
        while (job := poll(http, job_id))["accepted"] + job["rejected"] < CONSIGNMENTS // 4:
            assert job["status"] != "failed", job
            assert time.monotonic() < deadline
            time.sleep(0.05)
    kill_hard(process)
    answered_before = job["accepted"] + job["rejected"]
    assert answered_before < CONSIGNMENTS, "killed too late to prove anything"

    process = start_gateway(env, port, log)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as http:
            deadline = time.monotonic() + 600
            while (job := poll(http, job_id))["status"] not in ("completed", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.5)
            assert (job["status"], job["total"], job["rejected"]) == ("completed", CONSIGNMENTS, invalid), job
            results = [
                orjson.loads(line) for line in http.get(f"/v1/batches/{job_id}/results").content.splitlines()
            ]
        assert [r["ref"] for r in results] == refs  # each consignment once, in file order
        accepted = {r["declaration_id"] for r in results if r["status"] == "ACCEPTED"}
        assert len(accepted) == CONSIGNMENTS - invalid

        database = sqlite3.connect(tmp_path / "tsw.db")
        stored = database.execute("SELECT count(*), count(DISTINCT reference) FROM declarations").fetchone()
        assert stored == (len(accepted), len(accepted))
        deadline = time.monotonic() + 120
        while database.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]:
            assert time.monotonic() < deadline, "the outbox did not drain"
            time.sleep(0.5)
        lodgements = [row[0] for row in database.execute("SELECT id FROM bulk_lodgements")]
        database.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

    # Kafka: each accepted consignment in exactly one routed bulk event (a republished event keeps its id).
    records = asyncio.run(consume_keys(kafka.bootstrap_servers, route_topic("customs"), lodgements))
    events = {}
    for record in records:
        events[headers_of(record)["ce_id"]] = parse_bulk_value(record.value or b"")[2]
    routed = [declaration_id for consignments in events.values() for declaration_id, _ in consignments]
    assert len(routed) == len(set(routed)) and set(routed) == accepted
