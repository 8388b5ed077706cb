"""Keys, health, readiness and metrics."""

from __future__ import annotations

import contextlib
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import GatewayDep
from gateway.api.problems import problem
from gateway.api.schemas import ProblemDetails
from gateway.errors import ServiceUnavailable
from gateway.messaging.kafka import broker_answers

__all__ = ["router"]

router = APIRouter(tags=["system"])


class JsonWebKey(BaseModel):
    """An RFC 7517 public key (Ed25519 here: `kty` OKP, `crv` Ed25519, `x`)."""

    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str


class JsonWebKeySet(BaseModel):
    keys: list[JsonWebKey]


class Health(BaseModel):
    status: str = Field(description="ok")


class Readiness(BaseModel):
    status: str = Field(description="ready")
    database: str = Field(description="ok")
    kafka: str = Field(description="ok")


class NotReady(ProblemDetails):
    checks: dict[str, str] = Field(description="Each dependency: ok or unavailable.")


@router.get(
    "/.well-known/jwks.json",
    summary="Every public key that may still verify a receipt or event",
    response_model=None,  # served as built: the model only documents it
    responses={200: {"model": JsonWebKeySet, "description": "RFC 7517 JWK Set"}},
)
async def jwks(gateway: GatewayDep) -> dict[str, Any]:
    return gateway.keys.jwks()


@router.get(
    "/asyncapi.yaml",
    summary="AsyncAPI 3 document: every Kafka topic, its key, headers and payload",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}},
)
async def asyncapi() -> Response:
    document = files("gateway.contracts").joinpath("asyncapi.yaml").read_bytes()
    return Response(document, media_type="application/yaml")


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database and Kafka are reachable",
    response_model=Readiness,
    responses={503: {"model": NotReady, "description": "A dependency is unavailable"}},
)
async def readyz(gateway: GatewayDep) -> Any:
    checks = {"database": await _database_ok(gateway), "kafka": await _kafka_ok(gateway)}
    body = {name: "ok" if ok else "unavailable" for name, ok in checks.items()}
    if all(checks.values()):
        return {"status": "ready", **body}
    return problem(
        503,
        "not-ready",
        "Not ready",
        "a dependency is unavailable",
        headers={"Retry-After": "5"},
        checks=body,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(gateway: GatewayDep) -> Response:
    with contextlib.suppress(ServiceUnavailable):  # metrics must render while the database is down
        async with gateway.uow_factory() as uow:
            gateway.metrics.outbox_backlog.set(await uow.outbox.backlog())
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def _database_ok(gateway: GatewayDep) -> bool:
    try:
        async with gateway.uow_factory() as uow:
            await uow.ping()
    except ServiceUnavailable:
        return False
    return True


async def _kafka_ok(gateway: GatewayDep) -> bool:
    return await broker_answers(gateway.settings.kafka_bootstrap_servers)
