"""Bulk submissions: many e-commerce consignments decided in one request (`POST /v1/bulk-submissions`).

Each consignment is decided on its own by the agency's consignment rules
(`simulators.agencies.consignment_decider_for`: customs adds its green lane), as if it had been
submitted alone with action `submitted` and submission id `<submission_id>/<declaration_id>`; its
random draws come from the same per-declaration seed as a single submission's, so a consignment gets
the same draw whichever way it arrives. The answer has one decision per consignment, in request
order, all decided at the same moment::

    {"submission_id": "…", "decisions": [{"declaration_id", "decision", "reference", "reason",
                                          "detail"}, …]}

Finding pointers in a decision's `detail` (`/summary/...`) are relative to its consignment.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulators.agencies import Decide
from simulators.contract import BulkSubmissionRequest, SubmissionRequest

__all__ = ["decide_bulk"]

_FIELDS = set(SubmissionRequest.model_fields)


def decide_bulk(
    request: BulkSubmissionRequest,
    decide: Decide,
    *,
    rng_for: Callable[[str], random.Random],
    now: datetime,
) -> dict[str, Any]:
    """The body answering `request`: `decide` applied to every consignment."""
    decisions = []
    for consignment in request.consignments:
        declaration_id = consignment.declaration_id
        single = SubmissionRequest.model_construct(  # every field was validated with the bulk
            set(_FIELDS),  # its own: pydantic keeps the set it is given
            submission_id=f"{request.submission_id}/{declaration_id}",
            declaration_id=declaration_id,
            action="submitted",
            document_type=request.document_type,
            summary=consignment.summary,
        )
        decisions.append(decide(single, rng_for(declaration_id), now=now).entry(declaration_id))
    return {"submission_id": request.submission_id, "decisions": decisions}
