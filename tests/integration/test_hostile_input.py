"""Hostile and malformed input gets a 4xx problem+json, leaks nothing, and the service stays up."""

from __future__ import annotations

import pytest

from tests.conftest import RunningGateway

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE TradeDeclaration [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<TradeDeclaration xmlns="urn:hk:tsw:tdec:1"><DeclarantReference>&xxe;</DeclarantReference>
</TradeDeclaration>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""

PLAIN_DOCTYPE = b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><x/>'

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]><x/>"""

XINCLUDE = b"""<TradeDeclaration xmlns="urn:hk:tsw:tdec:1" xmlns:xi="http://www.w3.org/2001/XInclude">
<xi:include href="file:///etc/passwd" parse="text"/></TradeDeclaration>"""

DEEP_JSON = b'{"documentType": "hk.tdec", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (XXE, "application/xml", 400),
        (BILLION_LAUGHS, "application/xml", 400),
        (PLAIN_DOCTYPE, "application/xml", 400),
        (PARAMETER_ENTITY, "application/xml", 400),
        (XINCLUDE, "application/xml", 422),
        (b"<TradeDeclaration><unclosed></TradeDeclaration>", "application/xml", 400),
        (b'<?xml version="1.0" encoding="UTF-8"?><a>\xff\xfe</a>', "application/xml", 400),
        (b'{"documentType": "hk.tdec", "x": "\xff"}', "application/json", 400),
        (b"{not json", "application/json", 400),
        (DEEP_JSON, "application/json", 400),
        (b"[1, 2, 3]", "application/json", 422),
        (b'{"documentType": "no.such.type"}', "application/json", 422),
        (b"<Unknown xmlns='urn:nobody'/>", "application/xml", 422),
        (b"hello", "text/plain", 415),
        (b"", "application/xml", 400),
    ],
    ids=[
        "xxe",
        "billion-laughs",
        "external-dtd",
        "parameter-entity",
        "xinclude-not-processed",
        "malformed-xml",
        "bad-utf8-xml",
        "bad-utf8-json",
        "malformed-json",
        "deep-json",
        "json-not-object",
        "unknown-json-type",
        "unknown-xml-root",
        "text-plain",
        "empty",
    ],
)
async def test_hostile_or_malformed_body_is_refused_cleanly(
    running: RunningGateway, body: bytes, content_type: str, status: int
) -> None:
    trader = await running.add_client("mallory")

    answer = await running.http.post(
        "/v1/declarations", content=body, headers={**trader, "Content-Type": content_type}
    )

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    assert "root:" not in answer.text  # nothing of /etc/passwd
    assert "Traceback" not in answer.text
    assert "/work/" not in answer.text and "site-packages" not in answer.text
    assert (await running.http.get("/healthz")).status_code == 200


async def test_body_over_the_limit_is_413(running: RunningGateway) -> None:
    trader = await running.add_client("bulky")
    limit = running.settings.max_body_bytes

    answer = await running.http.post(
        "/v1/declarations", content=b" " * (limit + 1), headers={**trader, "Content-Type": "application/xml"}
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


async def test_streamed_body_over_the_limit_is_413(running: RunningGateway) -> None:
    trader = await running.add_client("streamer")
    limit = running.settings.max_body_bytes

    async def chunks() -> object:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    answer = await running.http.post(
        "/v1/declarations", content=chunks(), headers={**trader, "Content-Type": "application/xml"}
    )

    assert answer.status_code == 413


async def test_missing_or_wrong_credentials_are_401(running: RunningGateway) -> None:
    for headers in ({}, {"Authorization": "Bearer tsw_nope"}, {"Authorization": "Basic abc"}):
        answer = await running.http.post(
            "/v1/declarations", content=b"<x/>", headers={**headers, "Content-Type": "application/xml"}
        )
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_agency_role_may_not_submit(running: RunningGateway) -> None:
    agency = await running.add_client("customs-reader", role="agency")
    answer = await running.http.post(
        "/v1/declarations", content=b"<x/>", headers={**agency, "Content-Type": "application/xml"}
    )
    assert answer.status_code == 403
