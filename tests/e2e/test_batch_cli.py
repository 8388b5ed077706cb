"""A forwarder's day from the command line: generate a file, `tsw batch upload`, `tsw batch results`."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway.ecommerce.generate import generate_consignments
from tests.e2e.conftest import tsw


def test_generate_upload_and_read_the_refusals(served: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = served
    api_key = (
        tsw("clients", "add", "cli-forwarder", "--role", "forwarder", env=env).stdout.strip().splitlines()[-1]
    )
    upload = tmp_path / "parcels.csv"
    tsw(
        "generate",
        "ecommerce",
        "--count",
        "300",
        "--invalid-rate",
        "0.1",
        "--seed",
        "5",
        "-o",
        str(upload),
        env=env,
    )
    expected = list(generate_consignments(300, invalid_rate=0.1, seed=5))
    refused = [item.rows[0]["consignment_ref"] for item in expected if item.defect is not None]

    uploaded = tsw("batch", "upload", str(upload), "--url", url, "--api-key", api_key, env=env)
    job_id = uploaded.stdout.strip().splitlines()[-1]
    assert "completed" in uploaded.stderr and f"{len(refused)}" in uploaded.stderr

    again = tsw("batch", "upload", str(upload), "--url", url, "--api-key", api_key, env=env)
    assert again.stdout.strip().splitlines()[-1] == job_id
    assert "uploaded before" in again.stderr

    results = tsw("batch", "results", job_id, "--rejected-only", "--url", url, "--api-key", api_key, env=env)
    rows = [orjson.loads(line) for line in results.stdout.splitlines()]
    assert [row["ref"] for row in rows] == refused
    assert all(row["status"] == "REJECTED" and row["errors"] for row in rows)
    as_csv = tsw("batch", "results", job_id, "--csv", "--url", url, "--api-key", api_key, env=env)
    assert len(as_csv.stdout.splitlines()) == 301  # the header and one line per consignment
