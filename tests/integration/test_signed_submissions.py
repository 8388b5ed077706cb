"""Trader signatures through the API, on both databases: keys registered and revoked, signed
submissions, amendments, cancellations and consignments recorded with their key (receipt, view,
versions, audit log), every kind of bad signature refused with nothing stored, and clients that must
sign."""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway.config import REPO_ROOT
from gateway.documents.origin import sign_origin
from gateway.documents.receipts import verify_receipt
from gateway.documents.trader_keys import public_jwk
from gateway.store.tables import audit_log, declarations
from tests.conftest import RunningGateway
from tests.integration.test_ecommerce import rows_of

EXAMPLE = REPO_ROOT / "schemas" / "hk.tdec" / "examples" / "valid" / "import-electronics-cn-sea.xml"
XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json"}
PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


async def register(running: RunningGateway, caller: dict[str, str], key: PrivateKey, **extra: str) -> str:
    answer = await running.http.post("/v1/signing-keys", json={**public_jwk(key), **extra}, headers=caller)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/v1/signing-keys/{answer.json()['kid']}"
    kid: str = answer.json()["kid"]
    return kid


def signed(body: bytes, key: PrivateKey, *, kid: str | None = None) -> dict[str, str]:
    return {"TSW-Signature": sign_origin(body, key, kid=kid)}


async def submit(running: RunningGateway, caller: dict[str, str], body: bytes, **headers: str) -> Any:
    return await running.http.post("/v1/declarations", content=body, headers={**caller, **XML, **headers})


def refused_code(answer: Any) -> str:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"] == 'TSW-Signature realm="tsw"'
    problem = answer.json()
    assert problem["type"] == "https://tsw.example/problems/signature-refused"
    [error] = problem["errors"]
    assert error["path"] == "/headers/TSW-Signature"
    code: str = error["code"]
    return code


async def stored_count(running: RunningGateway) -> int:
    async with running.gateway.engine.connect() as connection:
        return len((await connection.execute(select(declarations.c.id))).all())


async def audit_entries(running: RunningGateway, kind: str) -> list[dict[str, Any]]:
    async with running.gateway.engine.connect() as connection:
        rows = await connection.execute(select(audit_log.c.data).where(audit_log.c.kind == kind))
        return [row.data for row in rows]


async def test_signed_submissions_carry_their_key_everywhere(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("signing-trader")
    ed, p256 = Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    ed_kid = await register(running, trader, ed)
    p_kid = await register(running, trader, p256, kid="acme-p256-2026")
    assert ed_kid == public_jwk(ed)["kid"] and p_kid == "acme-p256-2026"
    body = EXAMPLE.read_bytes()
    jwks = (await running.http.get("/.well-known/jwks.json")).json()
    for key, kid, alg in ((ed, ed_kid, "EdDSA"), (p256, p_kid, "ES256")):
        answer = await submit(running, trader, body, **signed(body, key, kid=kid))
        assert answer.status_code == 202, answer.text
        payload = verify_receipt(answer.json()["receipt"], jwks, body=body)
        assert payload["signed_by"] == {"kid": kid, "alg": alg}
        view = (await running.http.get(answer.headers["location"], headers=trader)).json()
        assert view["signed_by"] == {"kid": kid, "alg": alg}
        assert view["on_behalf_of"] is None and view["submitted_by"] == payload["trader_id"]
        versions = (await running.http.get(f"{answer.headers['location']}/versions", headers=trader)).json()
        assert versions[0]["signed_by"] == {"kid": kid, "alg": alg}
    unsigned = await submit(running, trader, body)
    assert unsigned.status_code == 202
    assert "signed_by" not in verify_receipt(unsigned.json()["receipt"], jwks)
    view = (await running.http.get(unsigned.headers["location"], headers=trader)).json()
    assert view["signed_by"] is None
    origins = [
        item[4]
        for entry in await audit_entries(running, "declarations.accepted")
        for item in entry["items"]
        if len(item) == 5
    ]
    assert origins == [
        {"signed_by": {"kid": ed_kid, "alg": "EdDSA"}},
        {"signed_by": {"kid": p_kid, "alg": "ES256"}},
    ]
    async with running.gateway.engine.connect() as connection:
        stored = await connection.execute(
            select(declarations.c.signature).where(declarations.c.signature.is_not(None))
        )
        for (jws,) in stored:  # the evidence is kept as received
            assert jws.count(".") == 2 and jws.split(".")[1] == ""


async def test_bad_signatures_are_refused_and_nothing_is_stored(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("careful-trader")
    other = await running.add_client("other-trader")
    key, others_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    kid = await register(running, trader, key)
    others_kid = await register(running, other, others_key)
    body = EXAMPLE.read_bytes()
    tampered = body.replace(b"</", b" </", 1)
    head, _, tail = sign_origin(body, key).split(".")
    cases = {
        "signature.mismatch": signed(body, key)["TSW-Signature"],  # sent with the tampered body
        "signature.unknown-key": sign_origin(tampered, Ed25519PrivateKey.generate()),
        "signature.not-detached": f"{head}.{orjson.dumps('x').decode()}.{tail}",
        "signature.malformed": "not a jws",
    }
    for code, signature in cases.items():
        assert refused_code(await submit(running, trader, tampered, **{"TSW-Signature": signature})) == code
    # Another client's key, even with its private half and kid, is not the caller's.
    stolen = await submit(running, trader, body, **signed(body, others_key, kid=others_kid))
    assert refused_code(stolen) == "signature.unknown-key"
    assert (await running.http.delete(f"/v1/signing-keys/{others_kid}", headers=trader)).status_code == 404
    assert (await running.http.get(f"/v1/signing-keys/{others_kid}", headers=trader)).status_code == 404
    assert (await running.http.get(f"/v1/signing-keys/{kid}", headers=trader)).status_code == 200
    assert await stored_count(running) == 0
    listed = (await running.http.get("/v1/signing-keys", headers=trader)).json()["items"]
    assert [item["kid"] for item in listed] == [kid]


async def test_a_revoked_key_verifies_nothing_new(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("revoking-trader")
    key, successor = Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    kid = await register(running, trader, key)
    body = EXAMPLE.read_bytes()
    first = await submit(running, trader, body, **signed(body, key))
    assert first.status_code == 202
    assert (await running.http.delete(f"/v1/signing-keys/{kid}", headers=trader)).status_code == 204
    assert refused_code(await submit(running, trader, body, **signed(body, key))) == "signature.revoked-key"
    shown = (await running.http.get(f"/v1/signing-keys/{kid}", headers=trader)).json()
    assert shown["revoked_at"] is not None
    again = await running.http.post("/v1/signing-keys", json=public_jwk(key), headers=trader)
    assert again.status_code == 409  # a revoked key stays revoked
    earlier = (await running.http.get(first.headers["location"], headers=trader)).json()
    assert earlier["signed_by"]["kid"] == kid  # what it signed before still says so
    successor_kid = await register(running, trader, successor)
    assert (await submit(running, trader, body, **signed(body, successor))).status_code == 202
    kinds = {entry["kid"] for entry in await audit_entries(running, "signing_key.registered")}
    assert kinds == {kid, successor_kid}
    assert [entry["kid"] for entry in await audit_entries(running, "signing_key.revoked")] == [kid]


async def test_keys_offered_for_registration_are_checked(running: RunningGateway) -> None:
    trader = await running.add_client("registering-trader")
    key = Ed25519PrivateKey.generate()
    from joserfc.jwk import OKPKey

    private = OKPKey.import_key(key).as_dict(private=True)
    answer = await running.http.post("/v1/signing-keys", json=private, headers=trader)
    assert answer.status_code == 422
    assert [e["code"] for e in answer.json()["errors"]] == ["key.private"]
    x25519 = {"kty": "OKP", "crv": "X25519", "x": public_jwk(key)["x"]}
    assert (await running.http.post("/v1/signing-keys", json=x25519, headers=trader)).status_code == 422
    kid = await register(running, trader, key, kid="k1")
    duplicate_kid = {**public_jwk(Ed25519PrivateKey.generate()), "kid": "k1"}
    assert (
        await running.http.post("/v1/signing-keys", json=duplicate_kid, headers=trader)
    ).status_code == 409
    same_key = {**public_jwk(key), "kid": "k2"}
    assert (await running.http.post("/v1/signing-keys", json=same_key, headers=trader)).status_code == 409
    assert kid == "k1"
    # Another client may register the same public key: it proves nothing for the first.
    other = await running.add_client("copycat")
    assert (
        await running.http.post("/v1/signing-keys", json=public_jwk(key), headers=other)
    ).status_code == 201


async def test_a_client_that_must_sign_is_refused_unsigned(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    admin = await running.add_client("signature-admin", "admin")
    trader = await running.add_client("strict-trader")
    client = await running.gateway.clients.credentials()
    trader_id = next(item.client.id for item in client if item.client.name == "strict-trader")
    key = Ed25519PrivateKey.generate()
    await register(running, trader, key)
    body = EXAMPLE.read_bytes()
    required = await running.http.put(f"/v1/admin/clients/{trader_id}/require-signature", headers=admin)
    assert required.status_code == 200 and required.json()["require_signature"] is True
    assert refused_code(await submit(running, trader, body)) == "signature.required"
    rows = orjson.dumps(rows_of(2, invalid_rate=0.0, seed=5)[0])
    unsigned_rows = await running.http.post(
        "/v1/ecommerce/consignments", content=rows, headers={**trader, **JSON}
    )
    assert refused_code(unsigned_rows) == "signature.required"
    assert await stored_count(running) == 0
    accepted = await submit(running, trader, body, **signed(body, key))
    assert accepted.status_code == 202
    lodged = await running.http.post(
        "/v1/ecommerce/consignments", content=rows, headers={**trader, **JSON, **signed(rows, key)}
    )
    assert lodged.status_code == 202, lodged.text
    location = accepted.headers["location"]
    cancel = await running.http.post(f"{location}/cancellation", headers=trader)
    assert refused_code(cancel) == "signature.required"
    relaxed = await running.http.delete(f"/v1/admin/clients/{trader_id}/require-signature", headers=admin)
    assert relaxed.json()["require_signature"] is False
    assert (await submit(running, trader, body)).status_code == 202
    listed = await running.http.get("/v1/admin/clients", headers=admin)
    assert {c["name"]: c["require_signature"] for c in listed.json()}["strict-trader"] is False
    created = await running.http.post(
        "/v1/admin/clients",
        json={"name": "born-strict", "role": "forwarder", "require_signature": True},
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["require_signature"] is True
    strict = {"Authorization": f"Bearer {created.json()['api_key']}"}
    assert refused_code(await submit(running, strict, body)) == "signature.required"
    agency = await running.http.post(
        "/v1/admin/clients",
        json={"name": "signing-agency", "role": "agency", "agency": "customs", "require_signature": True},
        headers=admin,
    )
    assert agency.status_code == 422
    entries = await audit_entries(running, "client.signature_required")
    assert [entry["required"] for entry in entries] == [True, False]


async def test_amendments_cancellations_and_consignments_are_signed(backend_gateway: RunningGateway) -> None:
    running = backend_gateway
    trader = await running.add_client("changing-trader")
    key = ec.generate_private_key(ec.SECP256R1())
    kid = await register(running, trader, key)
    jwks = (await running.http.get("/.well-known/jwks.json")).json()
    body = EXAMPLE.read_bytes()
    location = (await submit(running, trader, body)).headers["location"]
    amendment = body + b"\n"
    bad = await running.http.post(
        f"{location}/amendments", content=amendment, headers={**trader, **XML, **signed(body, key)}
    )
    assert refused_code(bad) == "signature.mismatch"
    amended = await running.http.post(
        f"{location}/amendments", content=amendment, headers={**trader, **XML, **signed(amendment, key)}
    )
    assert amended.status_code == 202, amended.text
    assert verify_receipt(amended.json()["receipt"], jwks, body=amendment)["signed_by"] == {
        "kid": kid,
        "alg": "ES256",
    }
    versions = (await running.http.get(f"{location}/versions", headers=trader)).json()
    assert [v["signed_by"] for v in versions] == [None, {"kid": kid, "alg": "ES256"}]
    reason = orjson.dumps({"reason": "wrong vessel"})
    cancelled = await running.http.post(
        f"{location}/cancellation", content=reason, headers={**trader, **JSON, **signed(reason, key)}
    )
    assert cancelled.status_code == 202, cancelled.text
    assert verify_receipt(cancelled.json()["receipt"], jwks, body=reason)["signed_by"]["kid"] == kid
    [entry] = await audit_entries(running, "declaration.cancelled")
    assert entry["signed_by"] == {"kid": kid, "alg": "ES256"} and entry["signature"].split(".")[1] == ""
    [entry] = await audit_entries(running, "declaration.amended")
    assert entry["signed_by"] == {"kid": kid, "alg": "ES256"}
    rows = orjson.dumps(rows_of(3, invalid_rate=0.0, seed=9)[0])
    lodged = await running.http.post(
        "/v1/ecommerce/consignments", content=rows, headers={**trader, **JSON, **signed(rows, key)}
    )
    assert lodged.status_code == 202, lodged.text
    [lodgement] = lodged.json()["lodgements"]
    assert verify_receipt(lodgement["receipt"], jwks, body=rows)["signed_by"] == {"kid": kid, "alg": "ES256"}
    consignment = lodged.json()["results"][0]["id"]
    view = (await running.http.get(f"/v1/declarations/{consignment}", headers=trader)).json()
    assert view["signed_by"] == {"kid": kid, "alg": "ES256"}
    [entry] = await audit_entries(running, "lodgement.accepted")
    assert entry["signed_by"] == {"kid": kid, "alg": "ES256"}
    tampered = await running.http.post(
        "/v1/ecommerce/consignments", content=rows + b" ", headers={**trader, **JSON, **signed(rows, key)}
    )
    assert refused_code(tampered) == "signature.mismatch"


async def test_batch_uploads_refuse_what_they_cannot_honour(running: RunningGateway) -> None:
    """A batch carries no signature and lodges for no other trader yet: both headers are refused, not
    ignored, and a client that must sign cannot walk around it by uploading."""
    trader = await running.add_client("batching-trader")
    key = Ed25519PrivateKey.generate()
    await register(running, trader, key)
    line = b'{"documentType": "x"}\n'
    ndjson = {"Content-Type": "application/x-ndjson"}
    signed_upload = await running.http.post(
        "/v1/batches", content=line, headers={**trader, **ndjson, **signed(line, key)}
    )
    assert refused_code(signed_upload) == "signature.unsupported"
    for_other = await running.http.post(
        "/v1/batches", content=line, headers={**trader, **ndjson, "TSW-On-Behalf-Of": "someone"}
    )
    assert for_other.status_code == 400
    assert (
        await running.http.post("/v1/batches", content=line, headers={**trader, **ndjson})
    ).status_code == 202
    await running.gateway.clients.require_signature("batching-trader", required=True, actor=None)
    strict = await running.http.post("/v1/batches", content=line + b"\n", headers={**trader, **ndjson})
    assert refused_code(strict) == "signature.required"
