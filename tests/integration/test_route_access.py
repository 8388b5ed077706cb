"""Every route in the OpenAPI document, with every role and with no, unknown, revoked or expired
credentials: 401, 403 or 404 exactly as each route declares. A route added without an expectation
here fails the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.api.app import create_app
from gateway.config import REPO_ROOT
from gateway.documents.trader_keys import public_jwk
from gateway.localkafka import LocalKafka
from tests.conftest import RunningGateway, fresh_postgres_database, gateway_settings, start_gateway

EXAMPLE = REPO_ROOT / "schemas" / "hk.tdec" / "examples" / "valid" / "import-electronics-cn-sea.xml"
ROLES = ("trader", "forwarder", "agency", "admin")
SUBMITTERS = frozenset({"trader", "forwarder"})
TRADERS = frozenset({"trader"})
READERS = frozenset({"trader", "forwarder", "agency"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Access:
    """Who may call a route. `roles` None: public. `owned`: a path names a resource of one caller."""

    roles: frozenset[str] | None
    owned: bool = False


PUBLIC = Access(None)

EXPECTED: dict[tuple[str, str], Access] = {
    ("POST", "/v1/declarations"): Access(SUBMITTERS),
    ("GET", "/v1/declarations"): Access(READERS),
    ("GET", "/v1/declarations/{declaration_id}"): Access(READERS, owned=True),
    ("POST", "/v1/declarations/{declaration_id}/amendments"): Access(SUBMITTERS, owned=True),
    ("POST", "/v1/declarations/{declaration_id}/cancellation"): Access(SUBMITTERS, owned=True),
    ("GET", "/v1/declarations/{declaration_id}/versions"): Access(READERS, owned=True),
    ("GET", "/v1/declarations/{declaration_id}/versions/{version}/document"): Access(READERS, owned=True),
    ("POST", "/v1/ecommerce/consignments"): Access(SUBMITTERS),
    ("POST", "/v1/batches"): Access(SUBMITTERS),
    ("GET", "/v1/batches/{batch_id}"): Access(SUBMITTERS, owned=True),
    ("GET", "/v1/batches/{batch_id}/results"): Access(SUBMITTERS, owned=True),
    ("GET", "/v1/events"): Access(SUBMITTERS),
    ("POST", "/v1/webhooks"): Access(SUBMITTERS),
    ("GET", "/v1/webhooks"): Access(SUBMITTERS),
    ("GET", "/v1/webhooks/{webhook_id}"): Access(SUBMITTERS, owned=True),
    ("DELETE", "/v1/webhooks/{webhook_id}"): Access(SUBMITTERS, owned=True),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): Access(SUBMITTERS, owned=True),
    ("GET", "/v1/admin/clients"): Access(ADMIN),
    ("POST", "/v1/admin/clients"): Access(ADMIN),
    ("POST", "/v1/admin/clients/{client_id}/revoke"): Access(ADMIN, owned=True),
    ("POST", "/v1/admin/clients/{client_id}/rotate-key"): Access(ADMIN, owned=True),
    ("GET", "/v1/admin/keys"): Access(ADMIN),
    ("POST", "/v1/admin/keys/rotate"): Access(ADMIN),
    ("POST", "/v1/signing-keys"): Access(SUBMITTERS),
    ("GET", "/v1/signing-keys"): Access(SUBMITTERS),
    ("GET", "/v1/signing-keys/{kid}"): Access(SUBMITTERS, owned=True),
    ("DELETE", "/v1/signing-keys/{kid}"): Access(SUBMITTERS, owned=True),
    ("GET", "/v1/authorisations"): Access(SUBMITTERS),
    # DELETE before PUT (same path, run in this order): once the other trader's PUT has authorised the
    # forwarder for it, its DELETE would find something to withdraw.
    ("DELETE", "/v1/authorisations/{forwarder}"): Access(TRADERS, owned=True),
    ("PUT", "/v1/authorisations/{forwarder}"): Access(TRADERS),
    ("PUT", "/v1/admin/clients/{client_id}/require-signature"): Access(ADMIN, owned=True),
    ("DELETE", "/v1/admin/clients/{client_id}/require-signature"): Access(ADMIN, owned=True),
    ("GET", "/v1/admin/clients/{client_id}/signing-keys"): Access(ADMIN, owned=True),
    ("DELETE", "/v1/admin/clients/{client_id}/signing-keys/{kid}"): Access(ADMIN, owned=True),
    ("GET", "/v1/admin/clients/{client_id}/authorisations"): Access(ADMIN, owned=True),
    ("PUT", "/v1/admin/clients/{client_id}/authorisations/{trader}"): Access(ADMIN, owned=True),
    ("DELETE", "/v1/admin/clients/{client_id}/authorisations/{trader}"): Access(ADMIN, owned=True),
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("GET", "/asyncapi.yaml"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
}


@dataclass
class World:
    """The callers, and a resource of each kind belonging to `owner` (the admin routes: `victim`)."""

    callers: dict[str, dict[str, str]]
    bad_credentials: dict[str, dict[str, str]]
    ids: dict[str, str]


@pytest.fixture(params=["sqlite", "postgres"])
async def served(
    request: pytest.FixtureRequest, tmp_path: Path, kafka: LocalKafka
) -> AsyncIterator[RunningGateway]:
    """The gateway on each database: the scoping queries (a trader's own, those lodged for it, an
    agency's routed ones) differ in SQL by backend."""
    if request.param == "sqlite":
        settings = gateway_settings(tmp_path, kafka, webhook_allow_private_hosts=True)
        async with start_gateway(settings) as running:
            yield running
        return
    async with fresh_postgres_database(request.getfixturevalue("postgres_url")) as url:
        settings = gateway_settings(tmp_path, kafka, webhook_allow_private_hosts=True, database_url=url)
        async with start_gateway(settings) as running:
            yield running


async def _world(running: RunningGateway) -> World:
    add = running.add_client
    callers = {
        "owner": await add("owner"),
        "trader": await add("other-trader"),
        "forwarder": await add("forwarder", "forwarder"),
        "admin": await add("root", "admin"),
        "agency": await _agency(running, "tid-reader", "tid"),  # hk.tdec is not routed to tid
        "routed agency": await _agency(running, "customs-reader", "customs"),
    }
    await running.gateway.clients.add("revoked", role="trader")
    revoked_key = (await running.gateway.clients.rotate("revoked", grace=timedelta(hours=1)))[1]
    await running.gateway.clients.revoke("revoked")
    _, expired_key = await running.gateway.clients.add(
        "expired", role="admin", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    bad = {
        "no credentials": {},
        "not a bearer": {"Authorization": "Basic dXNlcjpwdw=="},
        "unknown key": {"Authorization": "Bearer tsw_unknown"},
        "revoked key": {"Authorization": f"Bearer {revoked_key}"},
        "expired key": {"Authorization": f"Bearer {expired_key}"},
    }
    ids = await _resources(running, callers["owner"])
    ids.update(await _origin_resources(running, callers["owner"]))
    return World(callers=callers, bad_credentials=bad, ids=ids)


async def _agency(running: RunningGateway, name: str, agency: str) -> dict[str, str]:
    _, api_key = await running.gateway.clients.add(name, role="agency", agency=agency)
    return {"Authorization": f"Bearer {api_key}"}


async def _resources(running: RunningGateway, owner: dict[str, str]) -> dict[str, str]:
    http = running.http
    submitted = await http.post(
        "/v1/declarations", content=EXAMPLE.read_bytes(), headers={**owner, "Content-Type": "application/xml"}
    )
    webhook = await http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=owner)
    batch = await http.post(
        "/v1/batches",
        content=b'{"documentType": "nothing"}\n',
        headers={**owner, "Content-Type": "application/x-ndjson"},
    )
    assert (submitted.status_code, webhook.status_code, batch.status_code) == (202, 201, 202)
    victim, _ = await running.gateway.clients.add("victim", role="trader")
    return {
        "declaration_id": submitted.json()["id"],
        "version": "1",
        "webhook_id": webhook.json()["id"],
        "batch_id": batch.json()["id"],
        "client_id": victim.id,
    }


async def _origin_resources(running: RunningGateway, owner: dict[str, str]) -> dict[str, str]:
    """The owner's signing key, and the forwarder it authorised to lodge for it."""
    jwk = public_jwk(Ed25519PrivateKey.generate())
    key = await running.http.post("/v1/signing-keys", json=jwk, headers=owner)
    authorised = await running.http.put("/v1/authorisations/forwarder", headers=owner)
    assert (key.status_code, authorised.status_code) == (201, 201)
    return {
        "kid": key.json()["kid"],
        "forwarder": authorised.json()["forwarder"]["id"],
        "trader": authorised.json()["trader"]["id"],
    }


def _routes() -> set[tuple[str, str]]:
    from gateway.bootstrap import build_gateway
    from gateway.config import Settings

    document = create_app(build_gateway(Settings(messaging="off"))).openapi()
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_route_has_an_expectation() -> None:
    assert _routes() == set(EXPECTED)


async def _call(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> int | None:
    """The status code, or None for an answer that is a stream still open after a moment."""
    request = http.request(method, path, headers=headers, content=b"")
    try:
        return (await asyncio.wait_for(request, timeout=2.0)).status_code
    except TimeoutError:
        return None


def _path(template: str, ids: dict[str, str], *, missing: bool = False) -> str:
    for name, value in ids.items():
        unknown = missing and name == "client_id"
        template = template.replace("{" + name + "}", "no-such-client" if unknown else value)
    return template


async def test_route_access_matrix(served: RunningGateway) -> None:
    world = await _world(served)
    failures: list[str] = []
    for (method, template), access in sorted(EXPECTED.items(), key=lambda item: item[0][1]):
        path = _path(template, world.ids)
        for label, headers in world.bad_credentials.items():
            status = await _call(served.http, method, path, headers)
            expected_401 = access.roles is not None
            if (status == 401) != expected_401:
                failures.append(f"{method} {template} with {label}: {status}")
        for caller, headers in world.callers.items():
            expected = _expected(access, method, template, caller)
            status = await _call(served.http, method, _target(template, world, caller), headers)
            if not expected(status):
                failures.append(f"{method} {template} as {caller}: {status}")
    assert failures == []


def _target(template: str, world: World, caller: str) -> str:
    """Admins act on a client that does not exist, except for the one real check below."""
    return _path(template, world.ids, missing=caller == "admin" and "{client_id}" in template)


def _expected(access: Access, method: str, template: str, caller: str) -> Callable[[int | None], bool]:
    role = {"owner": "trader", "routed agency": "agency"}.get(caller, caller)
    if access.roles is None:
        return lambda status: status not in (401, 403, 404)
    if role not in access.roles:
        return lambda status: status == 403
    sees_it = caller == "owner" or (caller == "routed agency" and template.startswith("/v1/declarations/"))
    if access.owned and not sees_it:
        return lambda status: status == 404
    return lambda status: status not in (401, 403, 404)


async def test_admin_routes_act_on_a_real_client(served: RunningGateway) -> None:
    admin = await served.add_client("root", "admin")
    target, key = await served.gateway.clients.add("target", role="trader")
    rotated = await served.http.post(f"/v1/admin/clients/{target.id}/rotate-key", headers=admin)
    revoked = await served.http.post(f"/v1/admin/clients/{target.id}/revoke", headers=admin)
    assert (rotated.status_code, revoked.status_code) == (200, 200)
    assert revoked.json()["revoked_at"] is not None
    for api_key in (key, rotated.json()["api_key"]):  # revocation is at once in this process
        answer = await served.http.get("/v1/declarations", headers={"Authorization": f"Bearer {api_key}"})
        assert answer.status_code == 401
