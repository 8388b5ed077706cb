"""Batch upload: every format with valid and invalid records mixed; exact counts, lines and errors."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

import orjson
from lxml import etree

from gateway.contracts.bulk import BULK_EVENT_TYPE, parse_bulk_value
from gateway.contracts.topics import route_topic
from gateway.documents.signing import verify_detached
from gateway.ecommerce.generate import FileFormat, encode, generate_consignments
from tests.conftest import RunningGateway
from tests.examples import examples, wco_samples
from tests.kafka_helpers import consume_keys, headers_of

BUNDLE_NS = "urn:hk:tsw:bundle:1"


async def upload(
    running: RunningGateway, headers: dict[str, str], body: bytes, content_type: str
) -> dict[str, Any]:
    answer = await running.http.post(
        "/v1/batches", content=body, headers={**headers, "Content-Type": content_type}
    )
    assert answer.status_code in (200, 202), answer.text
    job: dict[str, Any] = answer.json()
    return job


async def finished(running: RunningGateway, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    async with asyncio.timeout(120):
        while True:
            job: dict[str, Any] = (await running.http.get(f"/v1/batches/{job_id}", headers=headers)).json()
            if job["status"] in ("completed", "failed"):
                return job
            await asyncio.sleep(0.1)


async def results(
    running: RunningGateway, headers: dict[str, str], job_id: str, **params: str
) -> list[dict[str, Any]]:
    answer = await running.http.get(f"/v1/batches/{job_id}/results", headers=headers, params=params)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in answer.content.splitlines()]


async def test_json_lines_mixed(running: RunningGateway) -> None:
    forwarder = await running.add_client("forwarder-jsonl", role="forwarder")
    tdec = [path.read_bytes() for path in examples("hk.tdec", suffix=".json")]
    invalid = examples("hk.tdec", kind="invalid", suffix=".json")[0].read_bytes()
    lvc = examples("hk.ecom.lvc", suffix=".json")[0].read_bytes()
    lines = [
        orjson.dumps(orjson.loads(tdec[0])),  # line 1: accepted
        orjson.dumps(orjson.loads(invalid)),  # line 2: refused by the schema or rules
        b"",  # line 3: blank, skipped
        b'{"documentType": "no.such.type"}',  # line 4: unknown type
        b"\xff\xfe not utf-8",  # line 5: bad encoding
        orjson.dumps(orjson.loads(lvc)),  # line 6: a single e-commerce consignment document
        orjson.dumps(orjson.loads(tdec[1])),  # line 7: accepted
    ]
    body = b"\n".join(lines) + b"\n"
    job = await upload(running, forwarder, body, "application/x-ndjson")
    assert job["status"] in ("queued", "running", "completed") and job["kind"] == "jsonl"
    done = await finished(running, forwarder, job["id"])
    assert (done["status"], done["total"], done["accepted"], done["rejected"], done["pending"]) == (
        "completed",
        6,
        3,
        3,
        0,
    )
    found = await results(running, forwarder, job["id"])
    assert [(r["position"], r["status"]) for r in found] == [
        (1, "ACCEPTED"),
        (2, "REJECTED"),
        (4, "REJECTED"),
        (5, "REJECTED"),
        (6, "ACCEPTED"),
        (7, "ACCEPTED"),
    ]
    assert found[2]["errors"][0]["code"] == "document.unknown-type"
    assert found[3]["errors"][0]["code"] == "batch.encoding"
    rejected = await results(running, forwarder, job["id"], rejected_only="true")
    assert [r["position"] for r in rejected] == [2, 4, 5]

    # Accepted records are declarations of the forwarder's, routed and signed like any other.
    first = found[0]["declaration_id"]
    [record] = await consume_keys(running.settings.kafka_bootstrap_servers, route_topic("customs"), [first])
    verify_detached(headers_of(record)["tsw-signature"], record.value or b"", running.gateway.keys.jwks())
    view = (await running.http.get(f"/v1/declarations/{first}", headers=forwarder)).json()
    assert view["status"] in ("ACCEPTED", "ROUTED")

    # The same file again: the same job. Someone else's job: 404.
    again = await running.http.post(
        "/v1/batches", content=body, headers={**forwarder, "Content-Type": "application/x-ndjson"}
    )
    assert again.status_code == 200 and again.json()["id"] == job["id"]
    assert list(running.settings.batch_spool_dir.iterdir()) == []  # the job is done: no upload kept
    other = await running.add_client("other-forwarder", role="forwarder")
    assert (await running.http.get(f"/v1/batches/{job['id']}", headers=other)).status_code == 404
    assert (await running.http.get(f"/v1/batches/{job['id']}/results", headers=other)).status_code == 404

    csv_results = await running.http.get(
        f"/v1/batches/{job['id']}/results", headers={**forwarder, "Accept": "text/csv"}
    )
    csv_lines = csv_results.text.splitlines()
    assert csv_lines[0] == "position,ref,status,declaration_id,errors"
    assert len(csv_lines) == 7


async def test_csv_consignments_are_lodged_in_bulk(running: RunningGateway) -> None:
    forwarder = await running.add_client("forwarder-csv", role="forwarder")
    generated = list(generate_consignments(1200, invalid_rate=0.1, seed=11))
    body = b"".join(encode(generated, FileFormat.CSV))
    job = await upload(running, forwarder, body, "text/csv")
    done = await finished(running, forwarder, job["id"])
    invalid = [item for item in generated if item.defect is not None]
    assert (done["status"], done["total"], done["rejected"]) == ("completed", 1200, len(invalid))
    found = await results(running, forwarder, job["id"])
    assert [r["ref"] for r in found] == [item.rows[0]["consignment_ref"] for item in generated]
    for item, result in zip(generated, found, strict=True):
        if item.defect is None:
            assert result["status"] == "ACCEPTED", result
        else:
            assert result["status"] == "REJECTED"
            assert item.defect.code in {e["code"] for e in result["errors"]}, (item, result)
    # Lines: the header is line 1, then one line per row.
    line = 2
    for item, result in zip(generated, found, strict=True):
        assert result["position"] == line
        line += len(item.rows)

    accepted = {r["declaration_id"] for r in found if r["status"] == "ACCEPTED"}
    view = (await running.http.get(f"/v1/declarations/{next(iter(accepted))}", headers=forwarder)).json()
    lodgements = set()
    async with asyncio.timeout(30):
        while True:
            records = await consume_keys(
                running.settings.kafka_bootstrap_servers, route_topic("logistics"), [view["lodgement_id"]]
            )
            if records:
                break
    routed: set[str] = set()
    for record in records:
        assert headers_of(record)["ce_type"] == BULK_EVENT_TYPE
        bulk_id, _, consignments = parse_bulk_value(record.value or b"")
        lodgements.add(bulk_id)
        routed.update(declaration_id for declaration_id, _ in consignments)
    assert view["id"] in routed


async def test_xml_bundle_and_zip(running: RunningGateway) -> None:
    trader = await running.add_client("bundling-trader")
    valid, invalid = wco_samples()
    tdec_xml = examples("hk.tdec", suffix=".xml")[0].read_bytes()
    documents = [valid[0].read_bytes(), invalid.read_bytes(), tdec_xml]
    bundle = (
        f'<?xml version="1.0" encoding="UTF-8"?><b:Bundle xmlns:b="{BUNDLE_NS}">'.encode()
        + b"".join(
            f'<b:Document ref="doc-{n}">'.encode() + _without_prolog(doc) + b"</b:Document>"
            for n, doc in enumerate(documents, start=1)
        )
        + b"</b:Bundle>"
    )
    job = await upload(running, trader, bundle, "application/xml")
    done = await finished(running, trader, job["id"])
    assert (done["status"], done["accepted"], done["rejected"]) == ("completed", 2, 1), done["error"]
    found = await results(running, trader, job["id"])
    assert [(r["position"], r["ref"], r["status"]) for r in found] == [
        (1, "doc-1", "ACCEPTED"),
        (2, "doc-2", "REJECTED"),
        (3, "doc-3", "ACCEPTED"),
    ]
    assert found[1]["errors"][0]["code"] == "xsd.invalid"

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("declarations/a.xml", tdec_xml)
        zipped.writestr("declarations/b.json", examples("hk.tdec", suffix=".json")[0].read_bytes())
        zipped.writestr("declarations/c.json", b'{"documentType": "hk.tdec"}')
    job = await upload(running, trader, archive.getvalue(), "application/zip")
    done = await finished(running, trader, job["id"])
    found = await results(running, trader, job["id"])
    assert [(r["ref"], r["status"]) for r in found] == [
        ("declarations/a.xml", "ACCEPTED"),
        ("declarations/b.json", "ACCEPTED"),
        ("declarations/c.json", "REJECTED"),
    ]


async def test_hostile_uploads_get_clear_errors(running: RunningGateway) -> None:
    trader = await running.add_client("hostile-trader")
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zipped:
        zipped.writestr("../../etc/evil.xml", b"<x/>")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("bomb.json", b"0" * (40 * 1024 * 1024))
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as zipped:
        zipped.writestr("inner.zip", slip.getvalue())
    for body, content_type in (
        (slip.getvalue(), "application/zip"),
        (bomb.getvalue(), "application/zip"),
        (nested.getvalue(), "application/zip"),
        (b"not,the,right,columns\n1,2,3,4\n", "text/csv"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "application/xml"),
    ):
        answer = await running.http.post(
            "/v1/batches", content=body, headers={**trader, "Content-Type": content_type}
        )
        assert answer.status_code in (400, 413, 415, 422), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["code"]
    assert (await running.http.get("/healthz")).status_code == 200


def _without_prolog(document: bytes) -> bytes:
    """The document's root element alone (no XML declaration or comments around it)."""
    return etree.tostring(etree.fromstring(document))
