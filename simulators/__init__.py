"""Agency back-end simulators: one HTTP service per agency, standing in for the real systems.

Each simulator speaks the agency back-end contract (`POST /v1/submissions`, `GET /v1/submissions/{id}`,
`POST /v1/bulk-submissions`, `GET /v1/bulk-submissions/{id}`, `GET /v1/received`,
`GET /v1/received/bulk`, `PUT|GET /v1/faults`, `GET /healthz`) and decides with deterministic,
configurable rules: `customs` (a risk engine, with a green lane that releases the low-risk
e-commerce consignments of a bulk submission at once), `tid` (strategic-commodity licences),
`censtatd` (trade statistics and the declaration charge) and `logistics` (cross-boundary road
consignments). Faults (latency, error rate, downtime) can be switched on at start-up or at run time.

This package imports nothing from `gateway` or `adapters`: the simulators are black boxes that speak
HTTP, as the real agencies would.

Run one with `python -m simulators run --agency customs` (see `simulators.cli`), or build the ASGI
app with `create_app(SimulatorSettings(agency="tid"))`.
"""

from __future__ import annotations

from simulators.app import create_app
from simulators.config import SimulatorSettings

__all__ = ["SimulatorSettings", "create_app"]
