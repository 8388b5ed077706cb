"""The FastAPI application: routers, problem+json handlers, and the gateway's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.api import batches, declarations, ecommerce, events, system, webhooks
from gateway.api.problems import install_problem_handlers
from gateway.bootstrap import Gateway

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
    app.include_router(declarations.router)
    app.include_router(ecommerce.router)
    app.include_router(batches.router)
    app.include_router(events.router)
    app.include_router(webhooks.router)
    app.include_router(system.router)
    return app
