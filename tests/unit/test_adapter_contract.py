"""What the adapters send is what the agency back-ends accept: every translated example, as a
`POST /v1/submissions` body, passes the simulators' own request model."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from adapters.delivery import Submission
from adapters.translate import translate
from simulators.contract import SubmissionRequest
from tests.examples import content_type, examples, wco_samples


def documents() -> list[tuple[str, Path]]:
    valid, _ = wco_samples()
    packs = [(pack, path) for pack in ("hk.tdec", "hk.aci.road") for path in examples(pack)]
    return packs + [("wco.dec-dms", path) for path in valid]


@pytest.mark.parametrize("action", ["submitted", "amended", "cancelled"])
def test_translated_documents_meet_the_agency_contract(action: str) -> None:
    for document_type, path in documents():
        summary = translate(path.read_bytes(), content_type=content_type(path), document_type=document_type)
        body = Submission(
            submission_id=str(uuid.uuid4()),
            declaration_id=str(uuid.uuid4()),
            action=action,
            document_type=document_type,
            summary=summary,
        ).to_json()
        request = SubmissionRequest.model_validate_json(body)
        assert request.summary.kind == summary["kind"]
        assert len(request.summary.goods) == len(summary["lines"])
        assert orjson.loads(body)["summary"] == summary
