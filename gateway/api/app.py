"""The FastAPI application: routers, problem+json handlers, and the gateway's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.types import Scope

from gateway.api import (
    admin,
    admin_origin,
    authorisations,
    batches,
    declarations,
    ecommerce,
    events,
    signing_keys,
    system,
    webhooks,
)
from gateway.api.deadline import DeadlineMiddleware
from gateway.api.openapi import install_openapi
from gateway.api.problems import install_problem_handlers
from gateway.bootstrap import Gateway
from gateway.config import Settings

__all__ = ["create_app"]


def create_app(gateway: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(
        title="Trade Single Window gateway",
        version="0.1.0",
        summary="Submit trade declarations once; they are validated, signed, stored and routed to agencies.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    install_problem_handlers(app)
    install_openapi(app, packs=gateway.validator.packs)
    app.include_router(declarations.router)
    app.include_router(ecommerce.router)
    app.include_router(batches.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(system.router)
    app.include_router(admin.router)
    app.include_router(signing_keys.router)
    app.include_router(authorisations.router)
    app.include_router(admin_origin.router)
    app.add_middleware(DeadlineMiddleware, timeout_s=partial(_deadline_s, gateway.settings))
    return app


def _deadline_s(settings: Settings, scope: Scope) -> float:
    """How long a request may take to start its answer: uploading a batch file streams it whole."""
    if scope["method"] == "POST" and scope["path"].rstrip("/") == "/v1/batches":
        return settings.upload_timeout_ms / 1000
    return settings.request_timeout_ms / 1000
