"""The simulator's HTTP service: one FastAPI app per agency, built by `create_app(settings)`.

Routes (the agency back-end contract):

- `POST /v1/submissions`: decide and answer a submission; the same `submission_id` again returns the
  stored answer unchanged and only counts one more delivery. 422 problem+json for a malformed body,
  503 problem+json with `Retry-After` when the service is down or an injected error fires.
- `GET /v1/submissions/{submission_id}`: the stored answer and its delivery count, or 404.
- `POST /v1/bulk-submissions`: decide many consignments in one request (`simulators.bulk`), idempotent
  by `submission_id` like the single route; `GET /v1/bulk-submissions/{submission_id}`: its stored
  answer, consignment count and deliveries, or 404.
- `GET /v1/received`: every submission id with its delivery count, `distinct` and `total_deliveries`;
  `GET /v1/received/bulk`: the same for bulk submissions, plus `consignments` (in distinct bulks).
- `PUT /v1/faults`, `GET /v1/faults`: the fault switches (see `simulators.faults`).
- `GET /healthz`: 200 `{"status": "ok"}`, also while the service is "down".

Bodies are parsed as JSON whatever their Content-Type says. Faults apply to the `/v1/submissions` and
`/v1/bulk-submissions` routes only; the control routes (`/v1/received`, `/v1/faults`, `/healthz`) always
answer, so a test can observe and repair a "down" agency.

Random draws (customs' random inspection, logistics' random hold) come from a generator seeded with
`seed`, the agency and the declaration id, so a declaration gets the same draw whatever the order of
arrival (the generator is only built when a rate above zero makes a rule draw); injected errors draw
from one generator seeded with `seed`.
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from simulators.agencies import Decide, consignment_decider_for, decider_for, draws_randomly
from simulators.bulk import decide_bulk
from simulators.clock import Clock
from simulators.config import SimulatorSettings
from simulators.contract import BulkSubmissionRequest, FaultSwitches, SubmissionRequest
from simulators.faults import Faults
from simulators.problems import install_problem_handlers, problem
from simulators.store import SubmissionStore

__all__ = ["Simulator", "create_app"]

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_Body = TypeVar("_Body", bound=BaseModel)


async def _parse(request: Request, model: type[_Body]) -> _Body:
    """The request body as `model`, whatever its Content-Type; every problem raised at once as a 422."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc


def _json(body: Any) -> Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, media_type="application/json")


class Simulator:
    """One agency's state: its decision function, its submissions and its fault switches."""

    def __init__(self, settings: SimulatorSettings, *, clock: Clock) -> None:
        self.agency = settings.agency
        self.clock = clock
        self.store = SubmissionStore()
        self._decide: Decide = decider_for(settings)
        self._decide_consignment: Decide = consignment_decider_for(settings)
        self._seed = settings.seed
        self._draws = draws_randomly(settings)
        self._no_draws = random.Random(settings.seed)  # handed to rules that never draw
        initial = FaultSwitches(latency_ms=settings.latency_ms, error_rate=settings.error_rate)
        self.faults = Faults(initial, clock=clock, rng=random.Random(f"{settings.seed}:faults"))

    def submit(self, request: SubmissionRequest) -> bytes:
        """The JSON answer to one delivery of `request`."""
        return self.store.deliver(
            request, lambda: self._decide(request, self._rng(request.declaration_id), now=self.clock.now())
        )

    def submit_bulk(self, request: BulkSubmissionRequest) -> bytes:
        """The JSON answer to one delivery of a bulk `request`."""
        return self.store.deliver_bulk(
            request,
            lambda: decide_bulk(request, self._decide_consignment, rng_for=self._rng, now=self.clock.now()),
        )

    def _rng(self, declaration_id: str) -> random.Random:
        if not self._draws:  # seeding costs ~10 µs, which a bulk of 10,000 would feel
            return self._no_draws
        return random.Random(f"{self._seed}:{self.agency}:{declaration_id}")


def create_app(settings: SimulatorSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The ASGI app of `settings.agency` (default: settings from the `TSW_SIM_*` environment)."""
    settings = settings if settings is not None else SimulatorSettings()
    simulator = Simulator(settings, clock=clock or Clock())
    app = FastAPI(
        title=f"TSW agency simulator: {settings.agency}",
        summary="Stands in for an agency back-end: decides submissions with configurable rules and faults.",
        version="1",
    )
    app.state.simulator = simulator
    install_problem_handlers(app)
    app.include_router(_service_routes(simulator))
    app.include_router(_bulk_routes(simulator))
    app.include_router(_control_routes(simulator))
    return app


def _service_routes(simulator: Simulator) -> APIRouter:
    router = APIRouter(prefix="/v1/submissions", dependencies=[Depends(simulator.faults.gate)])

    @router.post(
        "",
        summary="Decide a submission (idempotent by submission_id)",
        responses={422: _PROBLEM, 503: _PROBLEM},
    )
    async def submit(request: Request) -> Response:
        return _json(simulator.submit(await _parse(request, SubmissionRequest)))

    @router.get(
        "/{submission_id}",
        summary="A submission's answer and deliveries",
        responses={404: _PROBLEM, 503: _PROBLEM},
    )
    async def lookup(submission_id: str) -> Response:
        seen = simulator.store.get(submission_id)
        if seen is None:
            return problem(404, "not-found", "Not found", f"no submission {submission_id!r}")
        return _json(seen.view(submission_id))

    return router


def _bulk_routes(simulator: Simulator) -> APIRouter:
    router = APIRouter(prefix="/v1/bulk-submissions", dependencies=[Depends(simulator.faults.gate)])

    @router.post(
        "",
        summary="Decide many consignments at once (idempotent by submission_id)",
        responses={422: _PROBLEM, 503: _PROBLEM},
    )
    async def submit_bulk(request: Request) -> Response:
        return _json(simulator.submit_bulk(await _parse(request, BulkSubmissionRequest)))

    @router.get(
        "/{submission_id}",
        summary="A bulk submission's answer and deliveries",
        responses={404: _PROBLEM, 503: _PROBLEM},
    )
    async def lookup_bulk(submission_id: str) -> Response:
        seen = simulator.store.get_bulk(submission_id)
        if seen is None:
            return problem(404, "not-found", "Not found", f"no bulk submission {submission_id!r}")
        return _json(seen.view(submission_id))

    return router


def _control_routes(simulator: Simulator) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/received", summary="Every submission id seen, with its delivery count")
    async def received() -> Response:
        return _json(simulator.store.received())

    @router.get("/v1/received/bulk", summary="Every bulk submission id seen, with its delivery count")
    async def received_bulk() -> Response:
        return _json(simulator.store.received_bulk())

    @router.put(
        "/v1/faults",
        summary="Replace the fault switches (an omitted switch is off)",
        responses={422: _PROBLEM},
    )
    async def set_faults(request: Request) -> Response:
        return _json(simulator.faults.set(await _parse(request, FaultSwitches)).model_dump())

    @router.get("/v1/faults", summary="The fault switches in force")
    async def get_faults() -> Response:
        return _json(simulator.faults.current().model_dump())

    @router.get("/healthz", summary="Liveness of the process (also while the service is down)")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    return router
