"""The agency simulators, through HTTP against the real ASGI app: decisions, charges, idempotency, faults."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from simulators import SimulatorSettings, create_app
from simulators.censtatd import declaration_charge
from simulators.clock import Clock
from simulators.config import AGENCY_IDS, AgencyId

Json = dict[str, Any]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@asynccontextmanager
async def simulator(
    agency: AgencyId, *, clock: Clock | None = None, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorSettings(agency=agency, **options), clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://simulator") as client:
        yield client


def line(hs_code: str | None = "85171300", **fields: Any) -> Json:
    return {
        "hs_code": hs_code,
        "description": "goods",
        "quantity": "1",
        "unit": "NAR",
        "value": "100",
        **fields,
    }


def submission(
    *,
    submission_id: str = "event-1",
    declaration_id: str = "declaration-1",
    action: str = "submitted",
    **summary: Any,
) -> Json:
    base: Json = {
        "kind": "import",
        "trader": {"name": "Pacific Link", "id": "61528834"},
        "origin_countries": ["CN"],
        "destination_country": "HK",
        "total_value": {"amount": "10000", "currency": "HKD"},
        "lines": [line()],
        "transport": {"mode": "road", "vehicle": "AB1234", "control_point": "LMC", "crossing_time": None},
    }
    return {
        "submission_id": submission_id,
        "declaration_id": declaration_id,
        "action": action,
        "document_type": "hk.tdec",
        "summary": base | summary,
    }


async def decide(client: httpx.AsyncClient, body: Json) -> Json:
    answer = await client.post("/v1/submissions", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    result: Json = answer.json()
    assert set(result) == {"submission_id", "decision", "reference", "reason", "detail"}
    assert result["submission_id"] == body["submission_id"]
    return result


async def decide_one(agency: AgencyId, body: Json, **options: Any) -> Json:
    async with simulator(agency, **options) as client:
        return await decide(client, body)


# ---------------------------------------------------------------------------------------------- customs


async def test_customs_clears_ordinary_goods_with_a_wco_style_notification() -> None:
    answer = await decide_one("customs", submission())
    assert answer["decision"] == "CLEARED"
    assert answer["reason"] is None
    assert re.fullmatch(r"CED\d{10}", answer["reference"])
    detail = answer["detail"]
    assert (detail["function_code"], detail["notification"]) == ("09", "DMSCLE")
    assert detail["wco_type_name"] == "RES"
    assert re.fullmatch(r"[0-9a-f]{32}", detail["functional_reference_id"])
    assert detail["acceptance_datetime"] == detail["issue_datetime"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", detail["issue_datetime"])
    assert detail["declaration"] == {"id": answer["reference"], "functional_reference_id": "declaration-1"}
    assert detail["findings"] == []


@pytest.mark.parametrize(
    ("summary", "country", "pointer"),
    [
        ({"origin_countries": ["CN", "KP"]}, "KP", "/summary/origin_countries/1"),
        (
            {"origin_countries": [], "lines": [line(), line(origin_country="ir")]},
            "IR",
            "/summary/lines/1/origin_country",
        ),
    ],
)
async def test_customs_rejects_a_sanctioned_origin_and_names_it(
    summary: Json, country: str, pointer: str
) -> None:
    answer = await decide_one("customs", submission(**summary))
    assert answer["decision"] == "REJECTED"
    assert country in answer["reason"]
    assert (answer["detail"]["function_code"], answer["detail"]["notification"]) == ("03", "DMSREJ")
    assert answer["detail"]["acceptance_datetime"] is None
    assert answer["detail"]["findings"][0]["pointer"] == pointer


async def test_customs_rejection_outranks_every_hold() -> None:
    summary: Json = {"origin_countries": ["SY"], "lines": [line("93011000"), line("24022000")]}
    answer = await decide_one("customs", submission(**summary))
    assert answer["decision"] == "REJECTED"
    assert {finding["rule"] for finding in answer["detail"]["findings"]} == {
        "sanctioned-origin",
        "inspection-chapter",
        "controlled-chapter",
    }


async def test_customs_holds_an_inspection_chapter_for_inspection() -> None:
    answer = await decide_one("customs", submission(lines=[line(), line("2402.20.00")]))
    assert answer["decision"] == "HELD_FOR_INSPECTION"
    assert "24" in answer["reason"] and "line 2" in answer["reason"]
    assert (answer["detail"]["function_code"], answer["detail"]["notification"]) == ("05", "DMSCTL")


async def test_customs_inspection_chapters_are_configurable() -> None:
    body = submission(lines=[line("71131910")])
    assert (await decide_one("customs", body))["decision"] == "CLEARED"
    held = await decide_one("customs", body, customs_inspection_chapters=frozenset({"71"}))
    assert held["decision"] == "HELD_FOR_INSPECTION"


async def test_customs_random_inspection_fires_at_rate_one_and_never_at_rate_zero() -> None:
    assert (await decide_one("customs", submission(), customs_inspection_rate=1.0))["decision"] == (
        "HELD_FOR_INSPECTION"
    )
    assert (await decide_one("customs", submission(), customs_inspection_rate=0.0))["decision"] == "CLEARED"


async def test_customs_random_inspection_is_reproducible_by_seed_and_declaration() -> None:
    async def decisions(seed: int) -> list[str]:
        async with simulator("customs", customs_inspection_rate=0.5, seed=seed) as client:
            bodies = [submission(submission_id=f"e{i}", declaration_id=f"d{i}") for i in range(40)]
            return [(await decide(client, body))["decision"] for body in reversed(bodies)][::-1]

    first, again, other = await decisions(7), await decisions(7), await decisions(8)
    assert first == again
    assert first != other
    assert 5 < first.count("HELD_FOR_INSPECTION") < 35


async def test_customs_holds_arms_for_documents_unless_licensed() -> None:
    held = await decide_one("customs", submission(lines=[line("93011000")]))
    assert held["decision"] == "HELD_FOR_DOCUMENTS"
    assert "93" in held["reason"]
    assert (held["detail"]["function_code"], held["detail"]["notification"]) == ("06", "DMSDOC")
    licensed = await decide_one("customs", submission(lines=[line("93011000", licence_number="SC/2026/1")]))
    assert licensed["decision"] == "CLEARED"


async def test_customs_holds_for_documents_above_the_value_threshold_in_hkd() -> None:
    threshold = {"customs_documents_threshold_hkd": Decimal(1_000_000)}
    usd_over = submission(total_value={"amount": "130000", "currency": "usd"})  # HK$1,014,000
    usd_under = submission(total_value={"amount": "128000", "currency": "USD"})  # HK$998,400
    over = await decide_one("customs", usd_over, **threshold)
    assert over["decision"] == "HELD_FOR_DOCUMENTS"
    assert "1,014,000.00" in over["reason"]
    assert (await decide_one("customs", usd_under, **threshold))["decision"] == "CLEARED"
    assert (await decide_one("customs", usd_over))["decision"] == "CLEARED"  # default: effectively off


async def test_customs_counts_an_unknown_currency_as_over_the_threshold() -> None:
    answer = await decide_one("customs", submission(total_value={"amount": "1", "currency": "XAU"}))
    assert answer["decision"] == "HELD_FOR_DOCUMENTS"
    assert "XAU" in answer["reason"]
    assert (await decide_one("customs", submission(total_value=None)))["decision"] == "CLEARED"


async def test_customs_reference_is_the_declarations_whatever_the_submission() -> None:
    async with simulator("customs") as client:
        first = await decide(client, submission(submission_id="a", declaration_id="D-1"))
        amended = await decide(client, submission(submission_id="b", declaration_id="D-1", action="amended"))
        other = await decide(client, submission(submission_id="c", declaration_id="D-2"))
    assert first["reference"] == amended["reference"] != other["reference"]
    assert first["detail"]["functional_reference_id"] != amended["detail"]["functional_reference_id"]


# -------------------------------------------------------------------------------------------------- tid


async def test_tid_needs_no_licence_for_ordinary_goods() -> None:
    answer = await decide_one("tid", submission())
    assert (answer["decision"], answer["reference"], answer["reason"]) == ("NOT_REQUIRED", None, None)
    assert answer["detail"]["controlled_lines"] == []


@pytest.mark.parametrize(
    ("hs_code", "category"),
    [("93011000", "arms"), ("2902.30", "toluene"), ("29394100", "ephedrine"), ("28371100", "cyanides")],
)
async def test_tid_requires_a_licence_for_strategic_goods(hs_code: str, category: str) -> None:
    answer = await decide_one("tid", submission(lines=[line(), line(hs_code)]))
    assert answer["decision"] == "LICENCE_REQUIRED"
    assert answer["reference"] is None
    assert "line 2" in answer["reason"] and category in answer["reason"]
    assert [item["line"] for item in answer["detail"]["controlled_lines"]] == [2]


async def test_tid_approves_licensed_strategic_goods_with_a_licence_reference() -> None:
    body = submission(lines=[line("93011000", licence_number="SC/2026/041873"), line()])
    answer = await decide_one("tid", body)
    assert answer["decision"] == "APPROVED"
    assert re.fullmatch(r"TID-SC-\d{10}", answer["reference"])
    assert answer["detail"]["controlled_lines"][0]["licence_number"] == "SC/2026/041873"
    assert (await decide_one("tid", body))["reference"] == answer["reference"]


@pytest.mark.parametrize(
    "summary",
    [
        {"destination_country": "KP", "origin_countries": ["HK"]},
        {"origin_countries": ["IR"]},
        {"origin_countries": [], "lines": [line("93011000", origin_country="CU", licence_number="L1")]},
    ],
)
async def test_tid_refuses_strategic_goods_to_or_from_a_sanctioned_country(summary: Json) -> None:
    summary.setdefault("lines", [line("93011000", licence_number="L1")])
    answer = await decide_one("tid", submission(**summary))
    assert answer["decision"] == "REFUSED"
    assert re.search(r"\b(KP|IR|CU)\b", answer["reason"])


async def test_tid_does_not_refuse_ordinary_goods_from_a_sanctioned_country() -> None:
    assert (await decide_one("tid", submission(origin_countries=["KP"])))["decision"] == "NOT_REQUIRED"


# --------------------------------------------------------------------------------------------- censtatd


@pytest.mark.parametrize(
    ("value_hkd", "charge"),
    [
        ("0", "0.20"),
        ("1", "0.20"),
        ("46000", "0.20"),
        ("46000.01", "0.40"),  # 0.2 + 0.125 = 0.325, rounded up to 0.40
        ("46001", "0.40"),
        ("47000", "0.40"),
        ("47000.01", "0.50"),  # 0.2 + 2 x 0.125 = 0.45 -> 0.50
        ("54000", "1.20"),  # 0.2 + 8 x 0.125 = 1.20 exactly
        ("1000000", "119.50"),  # 954 parts: 119.45 -> 119.50
        ("1644000", "200.00"),  # 1598 parts: 199.95 -> 200.00, just at the cap
        ("1644000.01", "200.00"),  # 1599 parts: 200.075 -> capped
        ("999999999999999999", "200.00"),
    ],
)
def test_declaration_charge_follows_the_published_rule(value_hkd: str, charge: str) -> None:
    assert str(declaration_charge(Decimal(value_hkd))) == charge


def test_a_food_import_costs_the_flat_charge_whatever_its_value() -> None:
    assert str(declaration_charge(Decimal(10**12), food_import=True)) == "0.20"


async def test_censtatd_acknowledges_with_the_charge_on_the_value_in_hkd() -> None:
    answer = await decide_one("censtatd", submission(total_value={"amount": "10000", "currency": "USD"}))
    assert answer["decision"] == "ACKNOWLEDGED"
    assert re.fullmatch(r"CSD\d{10}", answer["reference"])
    assert answer["reason"] is None
    detail = answer["detail"]
    assert (detail["value_hkd"], detail["charge_hkd"]) == ("78000.00", "4.20")  # 32 parts: 0.2 + 4.0
    assert (detail["charge_basis"], detail["capped"]) == ("value", False)


async def test_censtatd_caps_the_charge_at_200() -> None:
    answer = await decide_one("censtatd", submission(total_value={"amount": "5000000", "currency": "EUR"}))
    assert (answer["detail"]["charge_hkd"], answer["detail"]["capped"]) == ("200.00", True)


async def test_censtatd_charges_a_food_import_the_flat_rate_but_not_a_food_export() -> None:
    food: Json = {
        "lines": [line("22042100"), line("0306.17.19")],
        "total_value": {"amount": "900000", "currency": "HKD"},
    }
    imported = await decide_one("censtatd", submission(**food))
    assert (imported["detail"]["charge_hkd"], imported["detail"]["charge_basis"]) == ("0.20", "food-import")
    exported = await decide_one("censtatd", submission(kind="export", **food))
    # 854 parts of HK$1,000 above the first HK$46,000: 0.2 + 106.75 = 106.95 -> 107.00
    assert (exported["detail"]["charge_hkd"], exported["detail"]["charge_basis"]) == ("107.00", "value")
    mixed = await decide_one(
        "censtatd", submission(**(food | {"lines": [line("22042100"), line("85171300")]}))
    )
    assert mixed["detail"]["charge_basis"] == "value"


@pytest.mark.parametrize(
    ("total_value", "why"),
    [(None, "no total value"), ({"amount": "100", "currency": "XAU"}, "XAU")],
)
async def test_censtatd_acknowledges_without_a_charge_when_the_value_is_unusable(
    total_value: Json | None, why: str
) -> None:
    answer = await decide_one("censtatd", submission(total_value=total_value))
    assert answer["decision"] == "ACKNOWLEDGED"
    assert answer["detail"]["charge_hkd"] is None
    assert why in answer["reason"]


# -------------------------------------------------------------------------------------------- logistics


async def test_logistics_releases_advance_cargo() -> None:
    answer = await decide_one("logistics", submission(kind="advance-cargo"))
    assert answer["decision"] == "RELEASED"
    assert re.fullmatch(r"LOG\d{10}", answer["reference"])
    assert answer["detail"]["released_at"] == answer["detail"]["acknowledged_at"]
    assert (answer["detail"]["kind"], answer["detail"]["control_point"]) == ("advance-cargo", "LMC")


async def test_logistics_holds_a_vehicle_on_the_watch_list() -> None:
    body = submission(kind="advance-cargo", transport={"vehicle": "ab-1234", "control_point": "LMC"})
    answer = await decide_one("logistics", body, logistics_watch_vehicles=frozenset({"AB 1234"}))
    assert answer["decision"] == "HELD"
    assert "watch list" in answer["reason"]
    assert "released_at" not in answer["detail"]


async def test_logistics_holds_when_the_seeded_hold_fires() -> None:
    answer = await decide_one("logistics", submission(kind="advance-cargo"), logistics_hold_rate=1.0)
    assert answer["decision"] == "HELD"
    assert "LMC" in answer["reason"]
    assert (await decide_one("logistics", submission(transport=None)))["decision"] == "RELEASED"


# ----------------------------------------------------------------------------------------- cancellation


@pytest.mark.parametrize("agency", ["customs", "tid", "censtatd", "logistics"])
async def test_every_agency_acknowledges_a_cancellation(agency: AgencyId) -> None:
    body = submission(action="cancelled", origin_countries=["KP"], lines=[line("93011000")])
    answer = await decide_one(agency, body, logistics_hold_rate=1.0, customs_inspection_rate=1.0)
    assert answer["decision"] == "CANCELLATION_ACKNOWLEDGED"
    assert answer["reason"] is None
    if agency == "customs":
        assert (answer["detail"]["function_code"], answer["detail"]["notification"]) == ("10", "DMSINV")


# ------------------------------------------------------------------------------------------ idempotency


async def test_the_same_submission_twice_is_answered_the_same_and_seen_once() -> None:
    async with simulator("customs", customs_inspection_rate=0.5) as client:
        first = await client.post("/v1/submissions", json=submission())
        changed = submission(origin_countries=["KP"])  # same id, other body: still the stored answer
        second = await client.post("/v1/submissions", json=changed)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        received = (await client.get("/v1/received")).json()
        assert received == {"submissions": {"event-1": 2}, "distinct": 1, "total_deliveries": 2}
        seen = (await client.get("/v1/submissions/event-1")).json()
    assert seen == {
        "submission_id": "event-1",
        "declaration_id": "declaration-1",
        "deliveries": 2,
        "answer": first.json(),
    }


async def test_concurrent_deliveries_of_one_submission_are_decided_once() -> None:
    async with simulator("logistics", logistics_hold_rate=0.5, latency_ms=20) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/submissions", json=submission()) for _ in range(10))
        )
        assert len({answer.content for answer in answers}) == 1
        assert (await client.get("/v1/received")).json()["total_deliveries"] == 10


async def test_distinct_submissions_are_counted_apart() -> None:
    async with simulator("tid") as client:
        for index in range(3):
            await decide(client, submission(submission_id=f"e{index}", declaration_id="same"))
        await decide(client, submission(submission_id="e0", declaration_id="same"))
        assert (await client.get("/v1/received")).json() == {
            "submissions": {"e0": 2, "e1": 1, "e2": 1},
            "distinct": 3,
            "total_deliveries": 4,
        }


async def test_an_unknown_submission_is_a_problem_404() -> None:
    async with simulator("censtatd") as client:
        answer = await client.get("/v1/submissions/nope")
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 404
        assert (await client.get("/v1/no-such-route")).headers["content-type"] == "application/problem+json"


# ----------------------------------------------------------------------------------------------- faults


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["status"] == 503


async def test_a_down_service_answers_503_but_stays_healthy_and_observable() -> None:
    async with simulator("customs") as client:
        put = await client.put("/v1/faults", json={"down": True})
        assert put.json() == {"latency_ms": 0, "error_rate": 0.0, "down": True, "down_for_s": None}
        assert_unavailable(await client.post("/v1/submissions", json=submission()))
        assert_unavailable(await client.post("/v1/submissions", content=b"not even json"))
        assert_unavailable(await client.get("/v1/submissions/event-1"))
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/v1/received")).json()["total_deliveries"] == 0  # refused: not seen
        await client.put("/v1/faults", json={"down": False})
        await decide(client, submission())
        assert (await client.get("/v1/received")).json()["total_deliveries"] == 1


async def test_down_for_s_recovers_by_itself() -> None:
    monotonic = FakeMonotonic()
    async with simulator("tid", clock=Clock(monotonic=monotonic)) as client:
        await client.put("/v1/faults", json={"down_for_s": 5})
        answer = await client.post("/v1/submissions", json=submission())
        assert_unavailable(answer)
        assert answer.headers["retry-after"] == "5"
        monotonic.now_s += 3.5
        assert (await client.get("/v1/faults")).json() == {
            "latency_ms": 0,
            "error_rate": 0.0,
            "down": True,
            "down_for_s": 1.5,
        }
        assert (await client.post("/v1/submissions", json=submission())).headers["retry-after"] == "2"
        monotonic.now_s += 1.5
        assert (await client.get("/v1/faults")).json()["down"] is False
        await decide(client, submission())


async def test_error_rate_one_refuses_everything_and_zero_nothing() -> None:
    async with simulator("censtatd", error_rate=1.0) as client:
        assert (await client.get("/v1/faults")).json()["error_rate"] == 1.0
        for _ in range(5):
            assert_unavailable(await client.post("/v1/submissions", json=submission()))
        assert (await client.get("/v1/received")).json()["distinct"] == 0
        await client.put("/v1/faults", json={"error_rate": 0})
        await decide(client, submission())


async def test_injected_errors_are_reproducible_by_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        async with simulator("logistics", error_rate=0.5, seed=seed) as client:
            return [(await client.post("/v1/submissions", json=submission())).status_code for _ in range(30)]

    first = await statuses(3)
    assert first == await statuses(3)
    assert {200, 503} == set(first)


async def test_latency_is_honoured() -> None:
    async with simulator("customs") as client:
        await client.put("/v1/faults", json={"latency_ms": 150})
        started = time.perf_counter()
        await decide(client, submission())
        elapsed_s = time.perf_counter() - started
        assert 0.15 <= elapsed_s < 2.0
        assert (await client.get("/v1/faults")).json()["latency_ms"] == 150
        started = time.perf_counter()
        await client.get("/healthz")
        assert time.perf_counter() - started < 0.15


async def test_put_faults_replaces_every_switch_and_refuses_nonsense() -> None:
    async with simulator("customs", latency_ms=5, error_rate=0.1) as client:
        assert (await client.get("/v1/faults")).json() == {
            "latency_ms": 5,
            "error_rate": 0.1,
            "down": False,
            "down_for_s": None,
        }
        assert (await client.put("/v1/faults", json={})).json()["latency_ms"] == 0
        bad = await client.put(
            "/v1/faults", json={"latency_ms": -1, "error_rate": 2, "down": "yes", "down_for_s": -3, "lag": 1}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        paths = sorted(error["path"] for error in bad.json()["errors"])
        assert paths == ["/down", "/down_for_s", "/error_rate", "/lag", "/latency_ms"]


# -------------------------------------------------------------------------------------- malformed input


async def test_a_malformed_submission_is_a_422_listing_every_problem() -> None:
    body = submission(
        origin_countries=["CHN"],
        total_value={"amount": "12,50", "currency": "US"},
        lines=[line(value="NaN"), line(quantity="1e400")],
        kind="smuggled",
    )
    del body["declaration_id"]
    body["action"] = "deleted"
    async with simulator("customs") as client:
        answer = await client.post("/v1/submissions", json=body)
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["type"].endswith("/invalid-request") and problem["status"] == 422
        assert sorted(error["path"] for error in problem["errors"]) == [
            "/action",
            "/declaration_id",
            "/summary/kind",
            "/summary/lines/0/value",
            "/summary/lines/1/quantity",
            "/summary/origin_countries/0",
            "/summary/total_value/amount",
            "/summary/total_value/currency",
        ]
        assert all(error["code"].startswith("request.") and error["message"] for error in problem["errors"])
        assert (await client.get("/v1/received")).json()["distinct"] == 0


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"text"', b"\xff\xfe"])
async def test_a_body_that_is_not_a_json_object_is_a_422(raw: bytes) -> None:
    async with simulator("tid") as client:
        answer = await client.post(
            "/v1/submissions", content=raw, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["path"] == ""


async def test_a_json_body_is_read_whatever_its_content_type() -> None:
    async with simulator("tid") as client:
        raw = httpx.Request("POST", "/", json=submission()).content
        assert (await client.post("/v1/submissions", content=raw)).status_code == 200


async def test_a_minimal_submission_is_enough() -> None:
    body = {
        "submission_id": "e",
        "declaration_id": "d",
        "action": "submitted",
        "document_type": "x",
        "summary": {},
    }
    for agency in AGENCY_IDS:
        assert (await decide_one(agency, body))["decision"] in {
            "CLEARED",
            "NOT_REQUIRED",
            "ACKNOWLEDGED",
            "RELEASED",
        }


# ------------------------------------------------------------------------------------------- properties

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["0", "46000", "46000.01", "1E+3", "-5", "1e17", "99999999999999999999", "NaN", ""]),
)
_LINES = st.fixed_dictionaries(
    {},
    optional={
        "hs_code": st.none()
        | st.sampled_from(["93011000", "2902.30", "24", "2", "", "\uff12\uff14", "28371100"])
        | st.text(),
        "value": st.none() | _DECIMALS,
        "quantity": st.none() | _DECIMALS | _JSON,
        "origin_country": st.none() | st.sampled_from(["CN", "kp", "IR", "X", "HKG"]),
        "licence_number": st.none() | st.text(max_size=5),
    },
)
_SUMMARIES = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["import", "export", "re-export", "advance-cargo", "unknown", None, "other"]),
        "origin_countries": st.none() | st.lists(st.sampled_from(["CN", "KP", "us", "SY", "1"]), max_size=3),
        "destination_country": st.none() | st.sampled_from(["KP", "JP", "Japan"]),
        "total_value": st.none()
        | st.fixed_dictionaries(
            {"amount": _DECIMALS, "currency": st.sampled_from(["HKD", "usd", "XAU", "EURO"])}
        ),
        "lines": st.none() | st.lists(_LINES, max_size=4),
        "transport": st.none()
        | st.fixed_dictionaries({}, optional={"vehicle": st.none() | st.text(max_size=6)}),
        "trader": _JSON,
    },
)
_REQUESTS = st.fixed_dictionaries(
    {
        "submission_id": st.text(min_size=1, max_size=6),
        "declaration_id": st.text(min_size=1, max_size=6),
        "action": st.sampled_from(["submitted", "amended", "cancelled"]),
        "document_type": st.sampled_from(["hk.tdec", "hk.aci.road", "wco.dec-dms"]),
        "summary": _SUMMARIES,
    }
)
_BODIES = st.one_of(
    _JSON.map(lambda value: httpx.Request("POST", "/", json=value).content),
    _REQUESTS.map(lambda value: httpx.Request("POST", "/", json=value).content),
    st.binary(max_size=40),
)


@pytest.mark.parametrize("agency", ["customs", "tid", "censtatd", "logistics"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_BODIES, error_rate=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 1000))
async def test_no_body_ever_causes_a_server_error(
    agency: AgencyId, body: bytes, error_rate: float, seed: int
) -> None:
    options: Json = {
        "error_rate": error_rate,
        "seed": seed,
        "customs_inspection_rate": 0.5,
        "logistics_hold_rate": 0.5,
    }
    async with simulator(agency, customs_documents_threshold_hkd=Decimal(50_000), **options) as client:
        answer = await client.post("/v1/submissions", content=body)
        event(f"status {answer.status_code}")
        if answer.status_code == 503:
            assert error_rate > 0
        assert answer.status_code in {200, 422, 503}
        if answer.status_code != 200:
            assert answer.headers["content-type"] == "application/problem+json"
