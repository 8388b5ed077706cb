from __future__ import annotations

import pytest

from gateway.contracts import (
    AGENCIES,
    EventHeaders,
    Status,
    decode_headers,
    dlq_topic,
    encode_headers,
    route_topic,
)
from gateway.domain.declaration import IllegalTransition, check_transition, is_terminal, statuses_after_answer


def test_topic_names() -> None:
    assert {"customs", "tid", "censtatd", "logistics"} == AGENCIES
    assert route_topic("customs") == "tsw.route.customs"
    assert dlq_topic("tid") == "tsw.dlq.tid"
    with pytest.raises(ValueError, match="unknown agency"):
        route_topic("nasa")


def test_event_headers_round_trip_and_missing_header() -> None:
    headers = EventHeaders(
        id="e1",
        source="urn:tsw:gateway",
        type="t",
        subject="d1",
        time="2026-01-01T00:00:00.000000Z",
        content_type="application/xml",
        signature="h..s",
        document_type="hk.tdec",
    )
    encoded = encode_headers(headers)

    assert dict(encoded)["ce_specversion"] == b"1.0"
    assert decode_headers(encoded) == headers
    with pytest.raises(ValueError, match="ce_subject"):
        decode_headers([(n, v) for n, v in encoded if n != "ce_subject"])


def test_status_machine() -> None:
    check_transition(Status.ACCEPTED, Status.ROUTED)
    check_transition(Status.ROUTED, Status.UNDER_REVIEW)
    check_transition(Status.UNDER_REVIEW, Status.CLEARED)
    with pytest.raises(IllegalTransition):
        check_transition(Status.CLEARED, Status.ROUTED)
    with pytest.raises(IllegalTransition):
        check_transition(Status.ACCEPTED, Status.CLEARED)
    assert is_terminal(Status.REJECTED) and not is_terminal(Status.ROUTED)


@pytest.mark.parametrize(
    ("current", "answers", "published", "expected"),
    [
        (Status.ROUTED, {"customs": "CLEARED"}, True, [Status.UNDER_REVIEW]),
        (
            Status.ROUTED,
            {"customs": "CLEARED", "censtatd": "CLEARED"},
            True,
            [Status.UNDER_REVIEW, Status.CLEARED],
        ),
        (Status.UNDER_REVIEW, {"customs": "CLEARED", "censtatd": "CLEARED"}, True, [Status.CLEARED]),
        (Status.UNDER_REVIEW, {"customs": "HELD", "censtatd": "CLEARED"}, True, [Status.HELD]),
        (Status.ROUTED, {"customs": "REJECTED"}, True, [Status.UNDER_REVIEW, Status.REJECTED]),
        (Status.UNDER_REVIEW, {"customs": "HELD", "censtatd": "REJECTED"}, True, [Status.REJECTED]),
        (Status.ROUTED, {"customs": "UNDER_REVIEW"}, True, [Status.UNDER_REVIEW]),
        (Status.UNDER_REVIEW, {"customs": "UNDER_REVIEW"}, True, []),
        (Status.ACCEPTED, {"customs": "CLEARED"}, True, [Status.ROUTED, Status.UNDER_REVIEW]),
        (Status.ACCEPTED, {"customs": "CLEARED"}, False, []),
        (Status.CLEARED, {"customs": "REJECTED"}, True, []),
        (Status.CANCELLED, {"customs": "CLEARED", "censtatd": "CLEARED"}, True, []),
        (Status.ROUTED, {"tid": "REJECTED"}, True, []),  # not a target of this declaration: ignored
    ],
)
def test_statuses_after_an_answer(
    current: Status, answers: dict[str, str], published: bool, expected: list[Status]
) -> None:
    assert (
        statuses_after_answer(
            current, targets=("customs", "censtatd"), answers=answers, all_published=published
        )
        == expected
    )
