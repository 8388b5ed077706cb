"""PostgreSQL stopped and started again under a running gateway: 503s with Retry-After while it is
away, the same gateway serving again once it is back (pooled connections the restart broke are
discarded, never handed out), workers that wait and catch up, and a COMMIT cut off by the
connection's loss reported as such.

Restarting the shared test server would break every other test using it, so these run on a server
of their own (`gateway.chaos.postgres.LocalPostgres`, Debian's binaries, a free port)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from gateway.chaos.integrity import check_integrity
from gateway.chaos.postgres import LocalPostgres, LocalPostgresError
from gateway.contracts.responses import AgencyStatus
from gateway.ecommerce.generate import FileFormat, encode, generate_consignments
from gateway.errors import CommitOutcomeUnknown, ServiceUnavailable
from gateway.localkafka import LocalKafka
from gateway.store.database import create_engine
from gateway.store.uow import UnitOfWorkFactory
from tests.conftest import RunningGateway, free_port, gateway_settings, start_gateway
from tests.examples import content_type, examples
from tests.integration.test_response_loop import answer as publish_answer
from tests.kafka_helpers import routed_event_ids
from tests.route_sweep import sweep, sweep_ids

pytestmark = pytest.mark.postgres

_DONE = ("completed", "failed")
_WORKERS = ("outbox-relay", "response-consumer", "webhook-dispatcher", "audit-chainer")


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """A PostgreSQL server of this module's own (missing binaries fail the run, never skip it)."""
    try:
        server = LocalPostgres(tmp_path_factory.mktemp("own-postgres"), port=free_port())
        server.start()
    except LocalPostgresError as exc:
        pytest.fail(f"cannot start a private PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def pg_gateway(
    own_postgres: LocalPostgres, tmp_path: Path, kafka: LocalKafka
) -> AsyncIterator[RunningGateway]:
    if not own_postgres.running():  # a test that failed half-way left it stopped
        await asyncio.to_thread(own_postgres.start)
    url = await asyncio.to_thread(own_postgres.create_database, f"tsw_{uuid.uuid4().hex[:12]}")
    async with start_gateway(gateway_settings(tmp_path, kafka, database_url=url)) as running:
        yield running


def _documents(pack: str, suffix: str = "") -> list[tuple[bytes, str]]:
    return [(path.read_bytes(), content_type(path)) for path in examples(pack, suffix=suffix)]


async def _submit(
    running: RunningGateway, trader: dict[str, str], document: tuple[bytes, str]
) -> tuple[int, dict[str, Any]]:
    body, media_type = document
    answer = await running.http.post(
        "/v1/declarations",
        content=body,
        headers={**trader, "Content-Type": media_type, "Idempotency-Key": str(uuid.uuid4())},
    )
    return answer.status_code, answer.json() | {"_headers": dict(answer.headers)}


async def _status(running: RunningGateway, trader: dict[str, str], declaration_id: str) -> str:
    answer = await running.http.get(f"/v1/declarations/{declaration_id}", headers=trader)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def _until_status(
    running: RunningGateway, trader: dict[str, str], ids: list[str], wanted: str, *, timeout_s: float = 60
) -> None:
    async with asyncio.timeout(timeout_s):
        for declaration_id in ids:
            while await _status(running, trader, declaration_id) != wanted:  # noqa: ASYNC110 - polling HTTP
                await asyncio.sleep(0.05)


def _workers_alive() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks() if not task.done()} & set(_WORKERS)


def _is_503_problem(answer: dict[str, Any], status: int) -> bool:
    headers = answer["_headers"]
    return (
        status == 503
        and headers["content-type"] == "application/problem+json"
        and int(headers["retry-after"]) > 0
    )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_every_route_answers_503_while_postgres_is_down_and_the_same_gateway_recovers(
    pg_gateway: RunningGateway, own_postgres: LocalPostgres, mode: str
) -> None:
    running = pg_gateway
    trader = await running.add_client(f"pg-{mode}-trader")
    documents = _documents("hk.aci.road")
    status, first = await _submit(running, trader, documents[0])
    assert status == 202
    await _until_status(running, trader, [first["id"]], "ROUTED")

    await asyncio.to_thread(own_postgres.stop, mode=mode)
    try:
        status, answer = await _submit(running, trader, documents[1])
        assert _is_503_problem(answer, status), (status, answer)
        for path in (f"/v1/declarations/{first['id']}", "/v1/declarations", "/v1/webhooks"):
            read = await running.http.get(path, headers=trader)
            assert read.status_code == 503, (path, read.text)
            assert read.headers["content-type"] == "application/problem+json"
            assert int(read.headers["retry-after"]) > 0
        ready = await running.http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "unavailable"
        await asyncio.sleep(1)
        assert _workers_alive() == set(_WORKERS)
    finally:
        await asyncio.to_thread(own_postgres.start)

    # Every pooled connection died with the server; none may be handed out again: the very first
    # requests after the restart succeed.
    accepted = [first["id"]]
    for document in documents:
        status, answer = await _submit(running, trader, document)
        assert status == 202, answer
        accepted.append(answer["id"])
    await _until_status(running, trader, accepted, "ROUTED")
    assert (await running.http.get("/readyz")).status_code == 200
    assert _workers_alive() == set(_WORKERS)

    assert running.gateway.messaging is not None and running.gateway.messaging.audit is not None
    await running.gateway.messaging.audit.run_once(force_checkpoint=True)
    integrity = await check_integrity(running.gateway.uow_factory, jwks=running.gateway.keys.jwks())
    assert integrity.declarations == len(accepted), integrity.summary()
    assert integrity.whole, integrity.summary()


async def test_every_route_answers_while_postgres_is_down(
    own_postgres: LocalPostgres, tmp_path: Path, kafka: LocalKafka
) -> None:
    """Each route of the OpenAPI document, its caller's key still cached (so the handler itself meets
    the missing database): a 503 problem with Retry-After or its usual answer; never a 500 or a hang."""
    if not own_postgres.running():
        await asyncio.to_thread(own_postgres.start)
    url = await asyncio.to_thread(own_postgres.create_database, f"tsw_{uuid.uuid4().hex[:12]}")
    settings = gateway_settings(
        tmp_path, kafka, database_url=url, api_key_cache_s=600, webhook_allow_private_hosts=True
    )
    async with start_gateway(settings) as running:
        trader = await running.add_client("swept-trader")
        admin = await running.add_client("swept-admin", role="admin")
        ids = await sweep_ids(running, trader, admin)
        kids = [key.kid for key in running.gateway.keys.infos]
        await asyncio.to_thread(own_postgres.stop, mode="fast")
        try:
            answers = await sweep(running, ids=ids, trader=trader, admin=admin)
        finally:
            await asyncio.to_thread(own_postgres.start)
        on_disk = type(running.gateway.keys).load(running.settings.keys_dir)
        assert [key.kid for key in on_disk.infos] == kids  # a refused rotation made no key
    faults = [fault for answer in answers if (fault := answer.fault()) is not None]
    assert faults == []
    unavailable = {(answer.method, answer.path) for answer in answers if answer.status == 503}
    assert ("GET", f"/v1/declarations/{ids['declaration_id']}") in unavailable
    assert ("GET", "/readyz") in unavailable
    assert len(unavailable) > len(answers) / 2  # the others refused the empty body first, or need no database


async def test_pooled_connections_a_restart_broke_are_never_handed_out(
    own_postgres: LocalPostgres, tmp_path: Path, kafka: LocalKafka
) -> None:
    """A quick restart while nobody asks anything: the pool still holds connections to the old
    server; each is pinged when checked out and replaced, so no request sees one."""
    if not own_postgres.running():
        await asyncio.to_thread(own_postgres.start)
    url = await asyncio.to_thread(own_postgres.create_database, f"tsw_{uuid.uuid4().hex[:12]}")
    settings = gateway_settings(tmp_path, kafka, database_url=url, api_key_cache_s=0).model_copy(
        update={"messaging": "off"}  # nothing else uses the pool meanwhile
    )
    async with start_gateway(settings) as running:
        trader = await running.add_client("pooled-trader")
        status, first = await _submit(running, trader, _documents("hk.aci.road")[0])
        assert status == 202

        async def read() -> int:
            answer = await running.http.get(f"/v1/declarations/{first['id']}", headers=trader)
            return answer.status_code

        assert set(await asyncio.gather(*(read() for _ in range(8)))) == {200}  # several pooled
        await asyncio.to_thread(own_postgres.stop, mode="fast")
        await asyncio.to_thread(own_postgres.start)
        assert set(await asyncio.gather(*(read() for _ in range(8)))) == {200}


async def test_relay_and_response_consumer_wait_through_the_outage_and_catch_up(
    pg_gateway: RunningGateway, own_postgres: LocalPostgres
) -> None:
    running = pg_gateway
    assert running.gateway.messaging is not None
    trader = await running.add_client("pg-workers-trader")
    document = _documents("hk.tdec", suffix=".json")[0]
    status, answer = await _submit(running, trader, document)
    assert status == 202
    answered = answer["id"]
    await _until_status(running, trader, [answered], "ROUTED")
    routed = await routed_event_ids(running.settings.kafka_bootstrap_servers, answered, ["customs"])
    async with asyncio.timeout(60):
        await running.gateway.messaging.responses.ready.wait()

    relay = running.gateway.messaging.relay
    await relay.stop()  # a backlog waits in the outbox when the database goes
    backlog = []
    for document in _documents("hk.aci.road"):
        status, answer = await _submit(running, trader, document)
        assert status == 202
        backlog.append(answer["id"])

    producer = AIOKafkaProducer(bootstrap_servers=running.settings.kafka_bootstrap_servers)
    await producer.start()
    await asyncio.to_thread(own_postgres.stop, mode="fast")
    try:
        await relay.start()
        await publish_answer(
            producer, answered, "customs", AgencyStatus.CLEARED, "CLEARED", in_reply_to=routed["customs"]
        )
        await asyncio.sleep(3)  # both fail, back off, try again
        assert _workers_alive() == set(_WORKERS)
    finally:
        await producer.stop()
        await asyncio.to_thread(own_postgres.start)
    await _until_status(running, trader, backlog, "ROUTED", timeout_s=60)
    await _until_status(running, trader, [answered], "UNDER_REVIEW", timeout_s=60)
    assert _workers_alive() == set(_WORKERS)


async def test_a_batch_job_interrupted_by_a_restart_resumes_and_answers_each_record_once(
    own_postgres: LocalPostgres, tmp_path: Path, kafka: LocalKafka
) -> None:
    """The batch runner (and its CSV reader process) meets the outage between chunks: the job stays
    running, resumes after its last committed chunk once PostgreSQL is back, and completes."""
    if not own_postgres.running():
        await asyncio.to_thread(own_postgres.start)
    url = await asyncio.to_thread(own_postgres.create_database, f"tsw_{uuid.uuid4().hex[:12]}")
    settings = gateway_settings(tmp_path, kafka, database_url=url, batch_chunk_records=50)
    generated = list(generate_consignments(3000, invalid_rate=0.05, seed=5))
    body = b"".join(encode(generated, FileFormat.CSV))
    async with start_gateway(settings) as running:
        forwarder = await running.add_client("pg-batch-forwarder", role="forwarder")
        upload = await running.http.post(
            "/v1/batches", content=body, headers={**forwarder, "Content-Type": "text/csv"}
        )
        assert upload.status_code == 202, upload.text
        job_id = upload.json()["id"]
        async with asyncio.timeout(60):
            while (started := await _job(running, forwarder, job_id))["position"] == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await asyncio.to_thread(own_postgres.stop, mode="immediate")
        assert started["status"] == "running", started  # stopped mid-job, not after it
        await asyncio.sleep(2)  # the runner fails, backs off, tries again
        assert "batch-runner" in {task.get_name() for task in asyncio.all_tasks() if not task.done()}
        await asyncio.to_thread(own_postgres.start)
        async with asyncio.timeout(120):
            while (job := await _job(running, forwarder, job_id))["status"] not in _DONE:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        assert job["status"] == "completed", job
        invalid = sum(1 for item in generated if item.defect is not None)
        assert (job["total"], job["rejected"], job["accepted"]) == (3000, invalid, 3000 - invalid)
        answer = await running.http.get(f"/v1/batches/{job_id}/results", headers=forwarder)
        refs = [orjson.loads(line)["ref"] for line in answer.content.splitlines()]
        assert refs == [item.rows[0]["consignment_ref"] for item in generated]  # each once, in order


async def _job(running: RunningGateway, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    answer = await running.http.get(f"/v1/batches/{job_id}", headers=headers)
    if answer.status_code == 503:  # asked while PostgreSQL is away
        return {"status": "running", "position": -1}
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


async def test_a_commit_cut_off_by_the_connections_loss_is_reported_as_unknown(
    own_postgres: LocalPostgres,
) -> None:
    """The COMMIT is in flight (a deferred trigger keeps it busy) when the server ends the session:
    the unit of work cannot say whether it was applied, and says exactly that."""
    if not own_postgres.running():
        await asyncio.to_thread(own_postgres.start)
    url = await asyncio.to_thread(own_postgres.create_database, f"tsw_{uuid.uuid4().hex[:12]}")
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in _SLOW_COMMIT:
                await connection.execute(text(statement))
        uow_factory = UnitOfWorkFactory(engine)

        async def terminate_soon() -> None:
            await asyncio.sleep(0.5)
            async with engine.connect() as admin:
                await admin.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE query LIKE 'COMMIT%' AND pid <> pg_backend_pid()"
                    )
                )
                await admin.commit()

        killer = asyncio.create_task(terminate_soon())
        with pytest.raises(CommitOutcomeUnknown):
            async with uow_factory() as uow:
                await uow.connection.execute(text("INSERT INTO slow_commit VALUES (1)"))
                await uow.commit()
        await killer
        assert issubclass(CommitOutcomeUnknown, ServiceUnavailable)  # a 503 wherever it surfaces
        async with uow_factory() as uow:  # the pool handed out a working connection again
            rows = (await uow.connection.execute(text("SELECT count(*) FROM slow_commit"))).scalar()
        assert rows == 0  # terminated inside the COMMIT's trigger: not applied
    finally:
        await engine.dispose()


_SLOW_COMMIT = (
    "CREATE TABLE slow_commit (id integer)",
    "CREATE FUNCTION slow_commit_check() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$",
    "CREATE CONSTRAINT TRIGGER slow_commit_trigger AFTER INSERT ON slow_commit"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit_check()",
)
