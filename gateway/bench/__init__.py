"""`tsw bench`: benchmarks that start the stack they measure.

- `submit` (`gateway.bench.submit`): throughput and latency of POST /v1/declarations, and routing;
- `clearance` (`gateway.bench.clearance`): the response loop, from the 202 to CLEARED as a trader
  sees it on `GET /v1/events`, at a steady rate.

Shared parts: `client` (a minimal keep-alive HTTP/1.1 client), `load` (closed-loop and paced load),
`processes` (a gateway on a free port), `stats` (percentiles).
"""

from __future__ import annotations

from gateway.bench.clearance import ClearanceOptions, ClearanceResult, run_clearance_bench
from gateway.bench.submit import run_bench

__all__ = ["ClearanceOptions", "ClearanceResult", "run_bench", "run_clearance_bench"]
