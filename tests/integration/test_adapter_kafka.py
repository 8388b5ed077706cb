"""Agency adapters against the real broker and a real HTTP agency back-end.

The gateway's side is played by the tests: routed events are produced here, signed with an ephemeral
gateway key whose JWKS the adapter reads from a file. The agency is `FakeAgency`: the contract's
`POST /v1/submissions` (idempotent by `submission_id`, deliveries counted) served by uvicorn on a free
port in a thread, with switches to go down, refuse, or answer slowly.

Topic names are fixed, so every test uses its own consumer group, positioned at the end of the routed
topic before the adapter starts, and looks only at its own declaration ids.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.config import AdapterSettings
from adapters.decisions import agency_status
from adapters.handler import HandleResult
from adapters.kafka import ensure_topics
from adapters.routed import RoutedConsumer
from adapters.worker import AgencyAdapter
from gateway.config import REPO_ROOT
from gateway.contracts.agencies import Agency
from gateway.contracts.events import EventHeaders, encode_headers, event_type, rfc3339
from gateway.contracts.responses import RESPONSE_EVENT_TYPE, AgencyResponse, response_event_id
from gateway.contracts.topics import RESPONSES_TOPIC, dlq_topic, route_topic
from gateway.documents.signing import GatewayKeys
from gateway.localkafka import LocalKafka
from tests.conftest import free_port
from tests.examples import content_type, examples, wco_samples
from tests.kafka_helpers import consume_keys, headers_of

pytestmark = pytest.mark.kafka

DECISIONS = {"customs": "CLEARED", "tid": "APPROVED", "censtatd": "ACKNOWLEDGED", "logistics": "RELEASED"}


# --------------------------------------------------------------------------- the fake agency back-end


class Served:
    """An ASGI app served by uvicorn on 127.0.0.1:`port`, in a thread with its own event loop."""

    def __init__(self, app: Any, *, port: int, name: str) -> None:
        self._app = app
        self._port = port
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self._port,
            log_level="warning",
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=self._name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive(), f"{self._name} did not start"
            assert time.monotonic() < deadline, f"{self._name} did not start in 10 s"
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            assert not self._thread.is_alive()
        self._server = self._thread = None


class FakeAgency:
    """The agency contract's submission endpoint, with fault switches, served on 127.0.0.1:`port`."""

    def __init__(self, agency: str, *, port: int | None = None) -> None:
        self.agency = agency
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.decision = DECISIONS[agency]
        self.down = False  # answer 503 + Retry-After
        self.latency_s = 0.0  # hold every answer this long (after recording the delivery)
        self.reject: set[str] = set()  # declaration ids answered 422
        self._lock = threading.Lock()
        self._deliveries: Counter[str] = Counter()
        self._answers: dict[str, dict[str, Any]] = {}
        self._bodies: dict[str, dict[str, Any]] = {}
        self.attempts = 0
        self._served = Served(self._app(), port=self.port, name=f"fake-{agency}")

    # ---- what the tests read

    def deliveries(self, submission_id: str) -> int:
        with self._lock:
            return self._deliveries[submission_id]

    def body(self, submission_id: str) -> dict[str, Any]:
        with self._lock:
            return self._bodies[submission_id]

    def distinct(self, submission_ids: set[str]) -> int:
        with self._lock:
            return len(submission_ids & set(self._deliveries))

    # ---- the HTTP app

    async def _submit(self, request: Request) -> Response:
        with self._lock:
            self.attempts += 1
        if self.down:
            return JSONResponse(
                {"type": "about:blank", "title": "Service Unavailable", "status": 503},
                status_code=503,
                headers={"Retry-After": "1"},
                media_type="application/problem+json",
            )
        body = orjson.loads(await request.body())
        missing = [
            name
            for name in ("submission_id", "declaration_id", "action", "document_type", "summary")
            if name not in body
        ]
        if missing or body["declaration_id"] in self.reject:
            errors = [{"path": f"/{name}", "message": "required"} for name in missing]
            return JSONResponse(
                {"title": "Unprocessable Content", "status": 422, "errors": errors or [{"path": "/"}]},
                status_code=422,
                media_type="application/problem+json",
            )
        with self._lock:
            submission_id = body["submission_id"]
            self._deliveries[submission_id] += 1
            self._bodies.setdefault(submission_id, body)
            answer = self._answers.setdefault(
                submission_id,
                {
                    "submission_id": submission_id,
                    "decision": self.decision,
                    "reference": f"{self.agency.upper()}-{len(self._answers) + 1:06d}",
                    "reason": None,
                    "detail": {"declaration_id": body["declaration_id"]},
                },
            )
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        return JSONResponse(answer)

    def _app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/submissions", self._submit, methods=["POST"])])

    # ---- lifecycle

    def start(self) -> None:
        self._served.start()

    def stop(self) -> None:
        self._served.stop()


@contextmanager
def fake_agency(agency: str) -> Iterator[FakeAgency]:
    backend = FakeAgency(agency)
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


# --------------------------------------------------------------------------- the gateway's side


@dataclass(frozen=True)
class Routed:
    event_id: str
    declaration_id: str


class Gateway:
    """Signs and produces routed events, as the gateway's outbox relay would."""

    def __init__(self, bootstrap_servers: str, tmp_path: Path) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.keys = GatewayKeys.ephemeral()
        self.jwks_file = tmp_path / "jwks.json"
        self.jwks_file.write_bytes(orjson.dumps(self.keys.jwks()))
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, enable_idempotence=True, acks="all"
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def route(
        self,
        agency: str,
        document: bytes,
        *,
        media_type: str,
        document_type: str | None,
        keys: GatewayKeys | None = None,
        signature: str | None = None,
        partition: int | None = None,
    ) -> Routed:
        assert self._producer is not None
        event = Routed(event_id=str(uuid.uuid4()), declaration_id=str(uuid.uuid4()))
        headers = EventHeaders(
            id=event.event_id,
            source="urn:tsw:gateway",
            type=event_type("submitted"),
            subject=event.declaration_id,
            time=rfc3339(_utc_now()),
            content_type=media_type,
            signature=signature or (keys or self.keys).sign_detached(document),
            document_type=document_type,
        )
        await self._producer.send_and_wait(
            route_topic(agency),
            value=document,
            key=event.declaration_id.encode(),
            headers=encode_headers(headers),
            partition=partition,
        )
        return event

    async def route_file(self, agency: str, path: Path, document_type: str, **kwargs: Any) -> Routed:
        document = _read(path)
        return await self.route(
            agency, document, media_type=content_type(path), document_type=document_type, **kwargs
        )


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def gateway(kafka: LocalKafka, tmp_path: Path) -> AsyncIterator[Gateway]:
    side = Gateway(kafka.bootstrap_servers, tmp_path)
    await side.start()
    try:
        yield side
    finally:
        await side.stop()


def adapter_settings(
    kafka: LocalKafka,
    gateway: Gateway,
    backend: FakeAgency | tuple[str, str],
    data_dir: Path,
    **overrides: Any,
) -> AdapterSettings:
    """Settings for a test adapter; `backend` is a `FakeAgency` or ``(agency, base URL)``."""
    agency, url = (backend.agency, backend.url) if isinstance(backend, FakeAgency) else backend
    values: dict[str, Any] = {
        "agency": Agency(agency),
        "kafka_bootstrap_servers": kafka.bootstrap_servers,
        "backend_url": url,
        "jwks_file": gateway.jwks_file,
        "group_id": f"test-adapter-{uuid.uuid4()}",
        "data_dir": data_dir,
        "retry_base_backoff_s": 0.05,
        "retry_max_backoff_s": 1.0,
        "circuit_failure_threshold": 3,
        "circuit_cooldown_s": 1.0,
        "request_timeout_s": 5.0,
        "kafka_session_timeout_ms": 6000,
        "stop_grace_s": 2.0,
        **overrides,
    }
    return AdapterSettings(**values)


async def start_group_at_end(settings: AdapterSettings) -> None:
    """Create the topics and commit the group's offsets at the routed topic's end, so the adapter
    reads only what the test routes from now on (earlier tests' records stay behind)."""
    topic = route_topic(settings.agency)
    await ensure_topics(settings, [topic, dlq_topic(settings.agency), RESPONSES_TOPIC])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.effective_group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tps = await _topic_partitions(settings.kafka_bootstrap_servers, topic)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.commit(ends)
    finally:
        await consumer.stop()


async def _topic_partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [
        TopicPartition(topic, p["partition"])
        for p in sorted(described["partitions"], key=lambda p: p["partition"])
    ]


@asynccontextmanager
async def running_adapter(settings: AdapterSettings) -> AsyncIterator[AgencyAdapter]:
    await start_group_at_end(settings)
    adapter = AgencyAdapter(settings)
    task = asyncio.create_task(adapter.run())
    try:
        yield adapter
    finally:
        await adapter.stop()
        await adapter.stop()  # twice is harmless
        async with asyncio.timeout(15):
            await task


async def committed_offsets(settings: AdapterSettings) -> dict[int, int]:
    topic = route_topic(settings.agency)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.effective_group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tps = await _topic_partitions(settings.kafka_bootstrap_servers, topic)
        ends = await consumer.end_offsets(tps)
        result = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            result[tp.partition] = (committed or 0) - ends[tp]
        return result  # 0 everywhere: everything up to the end is committed
    finally:
        await consumer.stop()


async def eventually(predicate: Any, *, timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if predicate():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}") from None


def responses_by_declaration(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for record in records:
        assert record.key is not None
        found.setdefault(record.key.decode(), []).append(record)
    return found


def check_response(
    record: ConsumerRecord[bytes, bytes], event: Routed, agency: str, status: str
) -> AgencyResponse:
    headers = headers_of(record)
    assert headers["ce_id"] == response_event_id(event.event_id, status)
    assert headers["ce_type"] == RESPONSE_EVENT_TYPE
    assert headers["ce_source"] == f"urn:tsw:adapter:{agency}"
    assert headers["ce_subject"] == event.declaration_id
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    assert record.value is not None
    response = AgencyResponse.from_json(record.value)
    assert (response.declaration_id, response.agency, response.in_reply_to) == (
        event.declaration_id,
        agency,
        event.event_id,
    )
    assert response.status == status
    return response


# --------------------------------------------------------------------------- the tests


async def test_tdec_aci_and_wco_declarations_are_answered(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path
) -> None:
    tdec = examples("hk.tdec", suffix="import-electronics-cn-sea.xml")[0]
    aci = examples("hk.aci.road", suffix="export-hzmb-dried-seafood.json")[0]
    wco = next(p for p in wco_samples()[0] if p.name == "TT_IM001b__TT_IM001b.xml")
    with fake_agency("customs") as backend:
        settings = adapter_settings(kafka, gateway, backend, tmp_path / "adapter")
        async with running_adapter(settings) as adapter:
            events = {
                "hk.tdec": await gateway.route_file("customs", tdec, "hk.tdec"),
                "hk.aci.road": await gateway.route_file("customs", aci, "hk.aci.road"),
                "wco.dec-dms": await gateway.route_file("customs", wco, "wco.dec-dms"),
            }
            ids = [event.declaration_id for event in events.values()]
            records = await consume_keys(kafka.bootstrap_servers, RESPONSES_TOPIC, ids, timeout_s=60)
            await eventually(lambda: adapter.stats.committed == 3, timeout_s=10, what="three commits")
            assert set((await committed_offsets(settings)).values()) == {0}
        stats = adapter.stats.results

    assert stats[HandleResult.RESPONDED] == 3
    by_declaration = responses_by_declaration(records)
    kinds = {"hk.tdec": "import", "hk.aci.road": "advance-cargo", "wco.dec-dms": "import"}
    for document_type, event in events.items():
        (record,) = by_declaration[event.declaration_id]
        response = check_response(record, event, "customs", "CLEARED")
        assert response.decision == "CLEARED"
        assert response.reference and response.reference.startswith("CUSTOMS-")
        assert headers_of(record)["tsw-document-type"] == document_type
        assert backend.deliveries(event.event_id) == 1
        body = backend.body(event.event_id)
        assert (body["action"], body["document_type"]) == ("submitted", document_type)
        assert body["summary"]["kind"] == kinds[document_type]
    assert backend.body(events["wco.dec-dms"].event_id)["summary"]["lines"][0]["hs_code"] == "85109000"


async def test_a_forged_signature_lands_in_the_dlq_and_never_reaches_the_agency(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path
) -> None:
    document = examples("hk.tdec", suffix="import-vegetables-cn-road.xml")[0].read_bytes()
    media = "application/xml"
    with fake_agency("censtatd") as backend:
        settings = adapter_settings(kafka, gateway, backend, tmp_path / "adapter")
        async with running_adapter(settings):
            forged = {
                "unknown kid": await gateway.route(
                    "censtatd",
                    document,
                    media_type=media,
                    document_type="hk.tdec",
                    keys=GatewayKeys.ephemeral(),
                ),
                "bad signature": await gateway.route(
                    "censtatd",
                    document,
                    media_type=media,
                    document_type="hk.tdec",
                    signature=gateway.keys.sign_detached(document.replace(b"4200", b"42")),
                ),
                "malformed": await gateway.route(
                    "censtatd", document, media_type=media, document_type="hk.tdec", signature="forged"
                ),
            }
            genuine = await gateway.route("censtatd", document, media_type=media, document_type="hk.tdec")
            dead = await consume_keys(
                kafka.bootstrap_servers,
                dlq_topic("censtatd"),
                [event.declaration_id for event in forged.values()],
                timeout_s=60,
            )
            answered = await consume_keys(
                kafka.bootstrap_servers, RESPONSES_TOPIC, [genuine.declaration_id], timeout_s=60
            )

    by_declaration = responses_by_declaration(dead)
    for reason, event in forged.items():
        (record,) = by_declaration[event.declaration_id]
        headers = headers_of(record)
        assert reason in headers["tsw-dlq-reason"], headers["tsw-dlq-reason"]
        assert "signature" in headers["tsw-dlq-reason"]
        assert headers["tsw-dlq-at"].endswith("Z")
        assert headers["tsw-dlq-origin"].startswith("tsw.route.censtatd/")
        assert headers["ce_id"] == event.event_id  # the original headers travel along
        assert record.value == document
        assert backend.deliveries(event.event_id) == 0  # the agency never saw it
    assert backend.attempts == 1  # only the genuine event was ever sent
    (record,) = answered
    check_response(record, genuine, "censtatd", "CLEARED")


async def test_poison_events_go_to_the_dlq_and_the_adapter_goes_on(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path
) -> None:
    good = examples("hk.aci.road", suffix="import-mkt-frozen-shrimp.json")[0]
    with fake_agency("logistics") as backend:
        settings = adapter_settings(kafka, gateway, backend, tmp_path / "adapter")
        async with running_adapter(settings) as adapter:
            # all on one partition, in this order: the good ones come after the poison ones
            broken = await gateway.route(
                "logistics",
                b'{"documentType": "hk.aci.road", ',
                media_type="application/json",
                document_type="hk.aci.road",
                partition=0,
            )
            refused = await gateway.route_file("logistics", good, "hk.aci.road", partition=0)
            backend.reject.add(refused.declaration_id)
            after = [
                await gateway.route_file("logistics", good, "hk.aci.road", partition=0) for _ in range(2)
            ]
            dead = await consume_keys(
                kafka.bootstrap_servers,
                dlq_topic("logistics"),
                [broken.declaration_id, refused.declaration_id],
                timeout_s=60,
            )
            answered = await consume_keys(
                kafka.bootstrap_servers, RESPONSES_TOPIC, [e.declaration_id for e in after], timeout_s=60
            )
            await eventually(lambda: adapter.stats.committed == 4, timeout_s=10, what="four commits")

    reasons = {record.key.decode(): headers_of(record)["tsw-dlq-reason"] for record in dead if record.key}
    assert "not valid JSON" in reasons[broken.declaration_id]
    assert "HTTP 422" in reasons[refused.declaration_id]
    assert backend.deliveries(broken.event_id) == 0
    by_declaration = responses_by_declaration(answered)
    for event in after:  # the records after the poison ones, on the same partition, were handled
        (record,) = by_declaration[event.declaration_id]
        check_response(record, event, "logistics", "CLEARED")


async def test_a_backend_down_for_20_seconds_loses_nothing(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path
) -> None:
    """10 s refusing connections (process gone), then 10 s answering 503 + Retry-After; then back."""
    document = examples("hk.tdec", suffix="reexport-us-sea.xml")[0]
    backend = FakeAgency("customs")  # not listening yet
    # a poll interval far shorter than the outage: the adapter must stay in its group while it waits
    settings = adapter_settings(
        kafka, gateway, backend, tmp_path / "adapter", kafka_max_poll_interval_ms=4000
    )
    async with running_adapter(settings) as adapter:
        events = [await gateway.route_file("customs", document, "hk.tdec") for _ in range(5)]
        started = time.monotonic()
        await asyncio.sleep(10)
        assert adapter.stats.committed == 0
        backend.down = True
        backend.start()
        try:
            await asyncio.sleep(10)
            assert adapter.stats.committed == 0
            attempts_while_down = backend.attempts
            backend.down = False
            ids = [event.declaration_id for event in events]
            records = await consume_keys(kafka.bootstrap_servers, RESPONSES_TOPIC, ids, timeout_s=60)
            recovered_s = time.monotonic() - started - 20
            await eventually(lambda: adapter.stats.committed == 5, timeout_s=10, what="five commits")
        finally:
            backend.stop()

    print(
        f"\nback-end down 20 s: {attempts_while_down} probes answered 503 in the second 10 s; "
        f"all 5 answered {recovered_s:.2f} s after it came back"
    )
    # the circuit breaker spaces the probes out (1 s cool-down), rather than hammering
    assert 1 <= attempts_while_down <= 15
    # the consumer kept its partitions through the outage (no rebalance): nothing was redelivered
    assert adapter.stats.assignments == 1
    assert adapter.stats.results[HandleResult.DUPLICATE] == 0
    assert adapter.stats.results[HandleResult.RESPONDED] == 5
    by_declaration = responses_by_declaration(records)
    for event in events:
        (record,) = by_declaration[event.declaration_id]
        check_response(record, event, "customs", "CLEARED")
        assert backend.deliveries(event.event_id) == 1


# ---- crashes


def adapter_process(settings: AdapterSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TSW_ADAPTER_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
        "TSW_ADAPTER_RETRY_BASE_BACKOFF_S": "0.05",
        "TSW_ADAPTER_RETRY_MAX_BACKOFF_S": "1",
        "TSW_ADAPTER_CIRCUIT_COOLDOWN_S": "1",
    }
    command = [
        sys.executable,
        "-m",
        "adapters",
        "run",
        *("--agency", settings.agency.value),
        *("--backend-url", settings.effective_backend_url),
        *("--jwks-file", str(settings.jwks_file)),
        *("--bootstrap-servers", settings.kafka_bootstrap_servers),
        *("--group-id", settings.effective_group_id),
        *("--data-dir", str(settings.effective_data_dir)),
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_an_adapter_killed_mid_message_redelivers_and_the_agency_sees_it_once(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path
) -> None:
    """SIGKILL while the agency holds the request (it has recorded the submission, not answered)."""
    document = examples("hk.tdec", suffix="import-wine-fr-air.json")[0]
    log = tmp_path / "adapter.log"
    with fake_agency("tid") as backend:
        settings = adapter_settings(kafka, gateway, backend, tmp_path / "adapter")
        await start_group_at_end(settings)
        backend.latency_s = 5.0
        with reaped(adapter_process(settings, log)) as first:
            event = await gateway.route_file("tid", document, "hk.tdec")
            await eventually(
                lambda: backend.deliveries(event.event_id) == 1, timeout_s=60, what="the first delivery"
            )
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=10) == -signal.SIGKILL
        backend.latency_s = 0.0
        with reaped(adapter_process(settings, log)) as second:
            records = await consume_keys(
                kafka.bootstrap_servers, RESPONSES_TOPIC, [event.declaration_id], timeout_s=90, settle_s=2.0
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, log.read_text()[-3000:]

    assert backend.distinct({event.event_id}) == 1  # one submission...
    assert backend.deliveries(event.event_id) == 2  # ...delivered twice: the agency deduplicated it
    assert {headers_of(record)["ce_id"] for record in records} == {
        response_event_id(event.event_id, "CLEARED")
    }
    check_response(records[0], event, "tid", "CLEARED")
    assert set((await committed_offsets(settings)).values()) == {0}


class Crash(BaseException):
    """Stands for the process dying (BaseException: nothing in the adapter may catch it)."""


@pytest.mark.parametrize("crash_point", ["before-commit", "before-publish"])
async def test_a_crash_after_the_answer_replays_the_stored_outcome_without_calling_the_agency(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_point: str
) -> None:
    """The agency answered and the outcome was recorded; the adapter dies before the commit (after
    publishing) or before publishing. The restarted adapter gets the record again and publishes the
    stored response (same ce_id), without a second call to the agency."""
    document = examples("hk.aci.road", suffix="export-stk-tiles.xml")[0]
    with fake_agency("logistics") as backend:
        settings = adapter_settings(kafka, gateway, backend, tmp_path / "adapter")
        await start_group_at_end(settings)
        crashed = asyncio.Event()

        async def crash(*args: Any, **kwargs: Any) -> Any:
            crashed.set()
            raise Crash(crash_point)

        first = AgencyAdapter(settings)
        with monkeypatch.context() as patch:
            if crash_point == "before-commit":
                patch.setattr(RoutedConsumer, "commit", crash)
            else:
                patch.setattr(first, "_publish", crash)
                first._handler._publish = crash  # the handler holds the bound method
            task = asyncio.create_task(first.run())
            event = await gateway.route_file("logistics", document, "hk.aci.road")
            async with asyncio.timeout(60):
                await crashed.wait()
            with pytest.raises(Crash):
                async with asyncio.timeout(10):
                    await task
        await first.stop()
        assert backend.deliveries(event.event_id) == 1

        second = AgencyAdapter(settings)
        task = asyncio.create_task(second.run())
        try:
            records = await consume_keys(
                kafka.bootstrap_servers, RESPONSES_TOPIC, [event.declaration_id], timeout_s=60, settle_s=2.0
            )
            await eventually(lambda: second.stats.committed == 1, timeout_s=30, what="the commit")
        finally:
            await second.stop()
            async with asyncio.timeout(15):
                await task

    assert second.stats.results[HandleResult.DUPLICATE] == 1
    assert backend.deliveries(event.event_id) == 1  # never called again
    expected = response_event_id(event.event_id, "CLEARED")
    assert {headers_of(record)["ce_id"] for record in records} == {expected}
    assert len(records) == 1  # published once: before the crash, or by the restarted adapter
    check_response(records[0], event, "logistics", "CLEARED")


# ---- the real agency simulators


@pytest.mark.parametrize(
    ("agency", "pack", "example"),
    [
        ("customs", "hk.tdec", "import-electronics-cn-sea.xml"),
        ("tid", "hk.tdec", "reexport-vn-sea-licensed.json"),
        ("censtatd", "hk.tdec", "import-wine-fr-air.json"),
        ("logistics", "hk.aci.road", "import-lmc-electronic-components.xml"),
    ],
)
async def test_the_agency_simulators_answer_through_the_adapter(
    kafka: LocalKafka, gateway: Gateway, tmp_path: Path, agency: str, pack: str, example: str
) -> None:
    """`simulators.app`, down for 3 s when the event arrives: retried, answered, mapped, counted once."""
    from simulators.app import create_app
    from simulators.config import SimulatorSettings

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    simulator = Served(
        create_app(SimulatorSettings(agency=agency, port=port)), port=port, name=f"sim-{agency}"
    )
    simulator.start()
    try:
        settings = adapter_settings(kafka, gateway, (agency, url), tmp_path / "adapter")
        async with running_adapter(settings), httpx.AsyncClient(base_url=url, timeout=5) as http:
            answer = await http.put("/v1/faults", json={"down": True, "down_for_s": 3.0})
            assert answer.status_code == 200, answer.text
            event = await gateway.route_file(agency, examples(pack, suffix=example)[0], pack)
            records = await consume_keys(kafka.bootstrap_servers, RESPONSES_TOPIC, [event.declaration_id])
            received = (await http.get("/v1/received")).json()
    finally:
        simulator.stop()

    (record,) = records
    assert record.value is not None
    decision = AgencyResponse.from_json(record.value).decision
    response = check_response(record, event, agency, agency_status(Agency(agency), decision))
    assert received["submissions"] == {event.event_id: 1}
    assert received["distinct"] == 1
    print(f"\n{agency}: {pack} {example} -> {decision} ({response.status}), reference {response.reference}")
