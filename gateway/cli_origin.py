"""`tsw signing-key ...` (a trader's own key pair) and the `tsw clients` commands about origin:
`authorise`, `deauthorise`, `require-signature`.

A trader's private key never reaches the gateway: `tsw signing-key generate` writes it here (PKCS#8
PEM, mode 0600) and prints the public JWK to register (`tsw signing-key register`, or `POST
/v1/signing-keys`); `tsw submit FILE --sign-key KEY` then signs each body with it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import httpx
import orjson
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from gateway.config import Settings
from gateway.documents.trader_keys import public_jwk
from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.store.uow import UnitOfWorkFactory

__all__ = [
    "authorise",
    "deauthorise",
    "load_signing_key",
    "require_signature",
    "signing_key_app",
]

signing_key_app = typer.Typer(help="Your own signing key pair (for TSW-Signature).", no_args_is_help=True)

console = Console()
err = Console(stderr=True)

PrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
_URL = typer.Option("--url", envvar="TSW_URL", help="Gateway base URL.")
_API_KEY = typer.Option("--api-key", envvar="TSW_API_KEY", help="API key (or TSW_API_KEY).")


def load_signing_key(path: Path) -> PrivateKey:
    """An unencrypted PKCS#8 PEM private key, Ed25519 or P-256; `typer.BadParameter` otherwise."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise typer.BadParameter(f"cannot read a private key from {path}: {exc}") from exc
    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise typer.BadParameter(f"{path} is neither an Ed25519 nor a P-256 private key")


@signing_key_app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the private key (PEM, 0600).")],
    alg: Annotated[
        Literal["EdDSA", "ES256"], typer.Option(help="EdDSA (Ed25519) or ES256 (P-256).")
    ] = "EdDSA",
) -> None:
    """Make a key pair: the private key into OUT (never overwritten), the public JWK to stdout."""
    key: PrivateKey = (
        Ed25519PrivateKey.generate() if alg == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        err.print(f"[red]{out} exists: not overwritten[/]")
        raise typer.Exit(2) from exc
    with os.fdopen(fd, "wb") as sink:
        sink.write(pem)
    err.print(f"private key written to {out}; register the public key below (tsw signing-key register)")
    print(orjson.dumps(public_jwk(key), option=orjson.OPT_INDENT_2).decode())


@signing_key_app.command("register")
def register(
    key_file: Annotated[Path, typer.Argument(help="Your private key (PEM): only its public half is sent.")],
    kid: Annotated[str | None, typer.Option(help="Key id (default: the RFC 7638 thumbprint).")] = None,
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
) -> None:
    """Register your public key with the gateway (POST /v1/signing-keys)."""
    jwk = public_jwk(load_signing_key(key_file))
    if kid:
        jwk["kid"] = kid
    answer = httpx.post(
        f"{url}/v1/signing-keys", json=jwk, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    _print(answer)


@signing_key_app.command("list")
def list_keys(
    url: Annotated[str, _URL] = "http://127.0.0.1:8000",
    api_key: Annotated[str, _API_KEY] = "",
) -> None:
    """Your registered keys, revoked ones included."""
    _print(httpx.get(f"{url}/v1/signing-keys", headers={"Authorization": f"Bearer {api_key}"}, timeout=30))


def authorise(
    forwarder: Annotated[str, typer.Argument(help="The forwarder's client name or id.")],
    trader: Annotated[str, typer.Option("--for", help="The trader's client name or id.")],
) -> None:
    """Let a forwarder lodge for a trader (TSW-On-Behalf-Of); a running gateway sees it within
    TSW_API_KEY_CACHE_S."""

    async def run(uow_factory: UnitOfWorkFactory) -> str:
        from gateway.forwarders import ForwarderService

        item, created = await ForwarderService(uow_factory).authorise(forwarder, trader, actor=None)
        state = "may now lodge" if created else "could already lodge"
        return f"{item.forwarder_name} {state} for {item.trader_name}"

    console.print(_with_database(run))


def deauthorise(
    forwarder: Annotated[str, typer.Argument(help="The forwarder's client name or id.")],
    trader: Annotated[str, typer.Option("--for", help="The trader's client name or id.")],
) -> None:
    """Withdraw a forwarder's authorisation to lodge for a trader."""

    async def run(uow_factory: UnitOfWorkFactory) -> str:
        from gateway.forwarders import ForwarderService

        await ForwarderService(uow_factory).deauthorise(forwarder, trader, actor=None)
        return f"{forwarder} may no longer lodge for {trader}"

    console.print(_with_database(run))


def require_signature(
    name: Annotated[str, typer.Argument(help="The client's name or id.")],
    off: Annotated[bool, typer.Option("--off", help="Accept its unsigned submissions again.")] = False,
) -> None:
    """Refuse a client's unsigned submissions from now on (or, with --off, accept them again)."""

    async def run(uow_factory: UnitOfWorkFactory) -> str:
        from gateway.clients import ClientService

        client = await ClientService(uow_factory).require_signature(name, required=not off, actor=None)
        return f"client {client.name}: signatures {'required' if client.require_signature else 'optional'}"

    console.print(_with_database(run))


def _with_database(action: Callable[[UnitOfWorkFactory], Awaitable[str]]) -> str:
    """Run `action` over the configured (migrated) database; a refusal exits 2."""
    from gateway.store.database import create_engine, migrate
    from gateway.store.uow import UnitOfWorkFactory

    async def run() -> str:
        engine = create_engine(Settings().effective_database_url)
        try:
            await migrate(engine)
            return await action(UnitOfWorkFactory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


def _print(response: httpx.Response) -> None:
    style = "green" if response.is_success else "red"
    console.print(f"[{style}]HTTP {response.status_code}[/]")
    try:
        print(orjson.dumps(response.json(), option=orjson.OPT_INDENT_2).decode())
    except ValueError:
        print(response.text)
    if not response.is_success:
        raise typer.Exit(1)
