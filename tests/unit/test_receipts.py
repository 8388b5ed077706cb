"""Receipts: payload shape, signing, verification with the body, and loading a JWKS."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import KeySet, KeySetSerialization

from gateway.documents.receipts import (
    RECEIPT_TYP,
    body_digest,
    build_receipt_payload,
    issue_receipt,
    load_jwks,
    verify_receipt,
)
from gateway.documents.signing import GatewayKeys, verify_compact
from gateway.errors import ServiceUnavailable, SignatureInvalid

BODY = b'<Declaration xmlns="urn:wco:datamodel:WCO:DEC-DMS:2"><ID>1</ID></Declaration>'
AT = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


@pytest.fixture
def keys(tmp_path: Path) -> GatewayKeys:
    return GatewayKeys.load_or_create(tmp_path / "keys")


def joserfc_keys(keys: GatewayKeys) -> KeySet:
    """The published JWKS, imported into joserfc."""
    return KeySet.import_key_set(cast(KeySetSerialization, keys.jwks()))


def receipt_for(keys: GatewayKeys, body: bytes = BODY, **extra: Any) -> str:
    return issue_receipt(
        keys,
        declaration_id="D-000123",
        document_type="wco-dms",
        body=body,
        received_at=AT,
        trader="acme",
        extra=extra or None,
    )


# --------------------------------------------------------------------------- payload


def test_body_digest_is_sha256_hex_of_exact_bytes() -> None:
    assert body_digest(BODY) == "sha256:" + hashlib.sha256(BODY).hexdigest()
    assert body_digest(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert body_digest(BODY + b"\n") != body_digest(BODY)


def test_payload_has_required_fields_sorted_and_utc_z() -> None:
    payload = build_receipt_payload(
        declaration_id="D-1",
        document_type="wco-dms",
        digest=body_digest(BODY),
        received_at=AT,
        trader="acme",
    )
    assert payload == (
        b'{"declaration_id":"D-1","digest":"' + body_digest(BODY).encode() + b'",'
        b'"document_type":"wco-dms","received_at":"2025-03-04T05:06:07.123456Z","trader":"acme"}'
    )


def test_received_at_is_converted_to_utc() -> None:
    hong_kong = timezone(timedelta(hours=8))
    payload = build_receipt_payload(
        declaration_id="D-1",
        document_type="t",
        digest=body_digest(b""),
        received_at=datetime(2025, 1, 1, 8, 0, 0, tzinfo=hong_kong),
        trader="acme",
    )
    assert orjson.loads(payload)["received_at"] == "2025-01-01T00:00:00.000000Z"


def test_extra_fields_are_sorted_in_and_cannot_override() -> None:
    common: dict[str, Any] = dict(
        declaration_id="D-1", document_type="t", digest=body_digest(b""), received_at=AT, trader="acme"
    )
    payload = build_receipt_payload(**common, extra={"z": {"b": 1, "a": 2}, "agencies": ["customs"]})
    assert payload == build_receipt_payload(**common, extra={"agencies": ["customs"], "z": {"a": 2, "b": 1}})
    assert list(orjson.loads(payload)) == sorted(orjson.loads(payload))
    assert b'"z":{"a":2,"b":1}' in payload
    with pytest.raises(ValueError, match="trader"):
        build_receipt_payload(**common, extra={"trader": "mallory"})


@pytest.mark.parametrize("digest", ["sha256:ABC", "md5:" + "0" * 64, "0" * 64, "sha256:" + "A" * 64])
def test_malformed_digest_is_refused(digest: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        build_receipt_payload(
            declaration_id="D", document_type="t", digest=digest, received_at=AT, trader="t"
        )


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_receipt_payload(
            declaration_id="D",
            document_type="t",
            digest=body_digest(b""),
            received_at=datetime(2025, 1, 1),
            trader="t",
        )


# --------------------------------------------------------------------------- verify_receipt


def test_receipt_round_trip_with_body(keys: GatewayKeys) -> None:
    receipt = receipt_for(keys)
    payload = verify_receipt(receipt, keys.jwks(), body=BODY)
    assert payload == {
        "declaration_id": "D-000123",
        "document_type": "wco-dms",
        "digest": body_digest(BODY),
        "received_at": "2025-03-04T05:06:07.123456Z",
        "trader": "acme",
    }
    header, _ = verify_compact(receipt, keys.jwks())
    assert header == {"alg": "EdDSA", "kid": keys.active_kid, "typ": RECEIPT_TYP}
    assert verify_receipt(receipt, keys.jwks()) == payload


def test_digest_mismatch_is_rejected(keys: GatewayKeys) -> None:
    receipt = receipt_for(keys)
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_receipt(receipt, keys.jwks(), body=BODY + b" ")
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        verify_receipt(receipt, keys.jwks(), body=b"")


def test_receipt_from_another_gateway_is_rejected(keys: GatewayKeys) -> None:
    with pytest.raises(SignatureInvalid, match="unknown kid"):
        verify_receipt(receipt_for(GatewayKeys.ephemeral()), keys.jwks(), body=BODY)


def test_receipt_survives_key_rotation(tmp_path: Path, keys: GatewayKeys) -> None:
    old_receipt = receipt_for(keys)
    new_kid = keys.rotate()
    rotated = GatewayKeys.load(tmp_path / "keys")
    assert verify_receipt(old_receipt, rotated.jwks(), body=BODY)["trader"] == "acme"
    new_receipt = receipt_for(rotated)
    assert verify_compact(new_receipt, rotated.jwks())[0]["kid"] == new_kid
    assert verify_receipt(new_receipt, rotated.jwks(), body=BODY)["declaration_id"] == "D-000123"


def test_other_typ_is_not_a_receipt(keys: GatewayKeys) -> None:
    payload = orjson.loads(verify_compact(receipt_for(keys), keys.jwks())[1])
    token = keys.sign_compact(orjson.dumps(payload), typ="tsw-event+jws")
    with pytest.raises(SignatureInvalid, match="typ"):
        verify_receipt(token, keys.jwks())
    # A receipt signed without typ is still accepted.
    assert verify_receipt(keys.sign_compact(orjson.dumps(payload)), keys.jwks(), body=BODY) == payload


@pytest.mark.parametrize(
    "payload", [b"not json", b"[1,2]", b'{"declaration_id":"D"}', b'{"declaration_id":1,"digest":"x"}']
)
def test_signed_but_malformed_payload_is_rejected(keys: GatewayKeys, payload: bytes) -> None:
    with pytest.raises(SignatureInvalid, match="payload"):
        verify_receipt(keys.sign_compact(payload, typ=RECEIPT_TYP), keys.jwks())


def test_detached_signature_is_not_a_receipt(keys: GatewayKeys) -> None:
    with pytest.raises(SignatureInvalid):
        verify_receipt(keys.sign_detached(BODY), keys.jwks())


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
def test_joserfc_reads_a_receipt(keys: GatewayKeys) -> None:
    obj = jws.deserialize_compact(receipt_for(keys), joserfc_keys(keys), algorithms=["EdDSA"])
    assert json.loads(obj.payload)["digest"] == body_digest(BODY)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receipt=st.text(max_size=200), body=st.none() | st.binary(max_size=32))
def test_verify_receipt_only_raises_signature_invalid(
    keys: GatewayKeys, receipt: str, body: bytes | None
) -> None:
    with pytest.raises(SignatureInvalid):
        verify_receipt(receipt, keys.jwks(), body=body)


# --------------------------------------------------------------------------- load_jwks


def test_load_jwks_from_file(tmp_path: Path, keys: GatewayKeys) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(orjson.dumps(keys.jwks()))
    jwks = load_jwks(str(path))
    assert jwks == keys.jwks()
    assert verify_receipt(receipt_for(keys), jwks, body=BODY)["trader"] == "acme"


def test_load_jwks_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_jwks(str(tmp_path / "absent.json"))


@pytest.mark.parametrize("content", [b"nope", b"[]", b'{"keys": {}}', b"{}"])
def test_load_jwks_rejects_non_jwks(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(content)
    with pytest.raises(SignatureInvalid):
        load_jwks(str(path))


Route = tuple[int, bytes]


@pytest.fixture
def http_server() -> Iterator[Callable[[dict[str, Route]], str]]:
    """A real HTTP server on 127.0.0.1 (port 0) in a thread; call it with {path: (status, body)}."""
    routes: dict[str, Route] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client hanging up early (the oversized-body test) is expected

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(new_routes: dict[str, Route]) -> str:
        routes.update(new_routes)
        return f"http://127.0.0.1:{server.server_address[1]}"

    try:
        yield serve
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_load_jwks_from_url(http_server: Callable[[dict[str, Route]], str], keys: GatewayKeys) -> None:
    base = http_server({"/.well-known/jwks.json": (200, orjson.dumps(keys.jwks()))})
    jwks = load_jwks(f"{base}/.well-known/jwks.json", timeout_s=5)
    assert jwks == keys.jwks()
    assert verify_receipt(receipt_for(keys), jwks, body=BODY)["declaration_id"] == "D-000123"


def test_load_jwks_http_error_is_service_unavailable(http_server: Callable[[dict[str, Route]], str]) -> None:
    base = http_server({"/broken": (503, b"{}")})
    with pytest.raises(ServiceUnavailable, match="404"):
        load_jwks(f"{base}/absent", timeout_s=5)
    with pytest.raises(ServiceUnavailable, match="503"):
        load_jwks(f"{base}/broken", timeout_s=5)


def test_load_jwks_url_with_garbage_or_huge_body(http_server: Callable[[dict[str, Route]], str]) -> None:
    base = http_server({"/garbage": (200, b"<html>"), "/huge": (200, b" " * (2 * 1024 * 1024))})
    with pytest.raises(SignatureInvalid, match="not JSON"):
        load_jwks(f"{base}/garbage", timeout_s=5)
    with pytest.raises(SignatureInvalid, match="larger"):
        load_jwks(f"{base}/huge", timeout_s=5)


def test_load_jwks_unreachable_is_service_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServiceUnavailable, match="cannot fetch"):
        load_jwks(f"http://127.0.0.1:{port}/jwks.json", timeout_s=2)
