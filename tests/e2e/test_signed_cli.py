"""Signatures and forwarders from the command line, against `tsw serve`: `tsw signing-key generate |
register | list`, `tsw submit --sign-key | --on-behalf-of`, `tsw clients add --require-signature`,
`tsw clients require-signature`, `tsw clients authorise | deauthorise`."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson

from gateway.documents.receipts import load_jwks, verify_receipt
from gateway.localkafka import LocalKafka
from tests.e2e.conftest import serve_gateway, tsw
from tests.examples import examples


def answer_of(stdout: str) -> Any:
    return orjson.loads(stdout[stdout.index("{") :])


def test_signing_and_lodging_for_a_trader_from_the_command_line(tmp_path: Path, kafka: LocalKafka) -> None:
    # A cache of 0 s: each change made by these commands (another process) applies at the next request.
    with serve_gateway(tmp_path, kafka, TSW_API_KEY_CACHE_S="0") as (url, env):
        acme = tsw("clients", "add", "acme", "--require-signature", env=env).stdout.strip().splitlines()[-1]
        swift = tsw("clients", "add", "swift", "--role", "forwarder", env=env).stdout.strip().splitlines()[-1]
        assert "must sign" in tsw("clients", "list", env=env).stdout
        document = examples("hk.tdec", suffix=".xml")[0]
        http = ("--url", url)

        key_file = tmp_path / "acme.pem"
        generated = tsw("signing-key", "generate", "--out", str(key_file), env=env)
        jwk = orjson.loads(generated.stdout)
        assert jwk["kty"] == "OKP" and "d" not in jwk
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        again = tsw("signing-key", "generate", "--out", str(key_file), env=env, check=False)
        assert again.returncode == 2  # never overwritten
        registered = tsw("signing-key", "register", str(key_file), *http, "--api-key", acme, env=env)
        assert answer_of(registered.stdout)["kid"] == jwk["kid"]
        listed = tsw("signing-key", "list", *http, "--api-key", acme, env=env)
        assert [item["kid"] for item in answer_of(listed.stdout)["items"]] == [jwk["kid"]]

        unsigned = tsw("submit", str(document), *http, "--api-key", acme, env=env, check=False)
        assert unsigned.returncode == 1 and "signature.required" in unsigned.stdout
        signed = tsw("submit", str(document), *http, "--api-key", acme, "--sign-key", str(key_file), env=env)
        receipt = verify_receipt(
            answer_of(signed.stdout)["receipt"],
            load_jwks(f"{url}/.well-known/jwks.json"),
            body=document.read_bytes(),
        )
        assert receipt["signed_by"] == {"kid": jwk["kid"], "alg": "EdDSA"}
        assert "optional" in tsw("clients", "require-signature", "acme", "--off", env=env).stdout
        assert tsw("submit", str(document), *http, "--api-key", acme, env=env).returncode == 0

        p256 = tmp_path / "swift.pem"
        assert (
            orjson.loads(tsw("signing-key", "generate", "-o", str(p256), "--alg", "ES256", env=env).stdout)[
                "crv"
            ]
            == "P-256"
        )
        tsw("signing-key", "register", str(p256), "--kid", "swift-1", *http, "--api-key", swift, env=env)
        lodge = ("submit", str(document), *http, "--api-key", swift, "--on-behalf-of", "acme")
        refused = tsw(*lodge, env=env, check=False)
        assert refused.returncode == 1 and "403" in refused.stdout
        assert "may now lodge" in tsw("clients", "authorise", "swift", "--for", "acme", env=env).stdout
        assert "could already" in tsw("clients", "authorise", "swift", "--for", "acme", env=env).stdout
        lodged = answer_of(tsw(*lodge, "--sign-key", str(p256), "--kid", "swift-1", env=env).stdout)
        shown = answer_of(tsw("status", lodged["id"], *http, "--api-key", acme, env=env).stdout)
        assert shown["signed_by"] == {"kid": "swift-1", "alg": "ES256"} and shown["on_behalf_of"] is not None
        tsw("clients", "deauthorise", "swift", "--for", "acme", env=env)
        assert tsw(*lodge, env=env, check=False).returncode == 1
        assert tsw("clients", "deauthorise", "swift", "--for", "acme", env=env, check=False).returncode == 2
        assert tsw("clients", "authorise", "acme", "--for", "swift", env=env, check=False).returncode == 2
