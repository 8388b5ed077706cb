"""Properties of small validators of what clients send: a webhook's callback URL
(`gateway.webhooks.destinations`: its form, then every address its host resolves to), a webhook
endpoint's `Retry-After` (`gateway.webhooks.retries`) and a batch upload's format
(`gateway.batches.readers.sniff`: Content-Type, first bytes, file name).

Whatever arrives, the URL check lists problems (422) or accepts a URL whose every address is public,
the retry policy schedules within its bounds, and the sniffer names a known format or none (415);
none of them raises.
"""

from __future__ import annotations

import asyncio
import ipaddress
import string
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.batches.readers.sniff import sniff_kind
from gateway.webhooks.destinations import DestinationGuard, is_public_address, url_problems
from gateway.webhooks.retries import RetryPolicy, parse_retry_after

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_URL_PARTS = st.sampled_from(
    [
        "http://",
        "https://",
        "ftp://",
        "//",
        "user:pw@",
        "hooks.example.com",
        "xn--",
        "ü.example",
        "127.0.0.1",
        "[::1]",
        "[::ffff:10.0.0.1]",
        "0x7f.1",
        "%2e",
        "%",
        ":",
        ":65536",
        ":0",
        "/",
        "?",
        "#",
        "@",
        ".",
        "..",
        " ",
        "\t",
        "\x00",
    ]
)
_urls = st.text(max_size=80) | st.lists(
    _URL_PARTS | st.text(string.ascii_lowercase, max_size=6), max_size=8
).map("".join)
_addresses = st.ip_addresses().map(str) | st.sampled_from(
    ["fe80::1%eth0", "::ffff:127.0.0.1", "64:ff9b::a00:1"]
)


@FUZZ
@given(_urls)
def test_any_text_is_a_url_or_its_problems(url: str) -> None:
    for problem in url_problems(url):
        assert problem.code.startswith("webhook.url.") and problem.path == "/url" and problem.message
    if not url_problems(url):
        parsed = httpx.URL(url)
        assert parsed.scheme in ("http", "https") and parsed.host and not parsed.userinfo


@FUZZ
@given(_urls, st.lists(_addresses, max_size=3) | st.just("unresolvable"))
def test_a_url_is_accepted_only_when_every_address_is_public(url: str, resolved: list[str] | str) -> None:
    async def resolver(_host: str, _port: int) -> list[str]:
        if isinstance(resolved, str):
            raise OSError("no such host")
        return resolved

    problems = asyncio.run(DestinationGuard(allow_private_hosts=False, resolver=resolver).problems(url))
    assert all(problem.code.startswith("webhook.url.") for problem in problems)
    if not problems:
        host = httpx.URL(url).host
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            assert isinstance(resolved, list)
            addresses = [ipaddress.ip_address(a.partition("%")[0]) for a in resolved]
        assert addresses and all(is_public_address(a) for a in addresses)


@FUZZ
@given(
    st.none()
    | st.text(max_size=40)
    | st.sampled_from(["text/csv; charset=utf-16", "application/x-ndjson", "application/zip", "a/b+xml", ""]),
    st.binary(max_size=40) | st.sampled_from([b"PK\x03\x04", b"\xef\xbb\xbf <", b"{", b"\n\n<x/>"]),
    st.none() | st.text(max_size=20) | st.sampled_from(["a.CSV", "b.jsonl", "c.xml", "d.zip", ".ndjson"]),
)
def test_any_upload_is_a_known_format_or_none(
    content_type: str | None, first: bytes, filename: str | None
) -> None:
    assert sniff_kind(content_type, first, filename) in (None, "csv", "jsonl", "bundle", "zip")


@FUZZ
@given(
    st.none()
    | st.text(max_size=40)
    | st.integers(0, 10**400).map(str)
    | st.datetimes(timezones=st.timezones()).map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S %z")),
    st.integers(1, 20),
)
def test_any_retry_after_from_a_webhook_endpoint_gives_a_next_attempt_or_an_end(
    value: str | None, failed: int
) -> None:
    """The endpoint's `Retry-After` is read whatever it says, and the next attempt is within the policy."""
    now = datetime(2026, 11, 26, tzinfo=UTC)
    wait = parse_retry_after(value, now=now)
    assert wait is None or wait >= 0
    policy = RetryPolicy()
    at = policy.next_attempt_at(failed_attempts=failed, created_at=now, now=now, retry_after_s=wait)
    assert at is None or now <= at <= now + timedelta(milliseconds=policy.backoff_max_ms)
