"""Callback URL rules and the SSRF guard (with a fake resolver: no network)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from gateway.errors import UnsafeDestination
from gateway.webhooks.destinations import MAX_URL_LENGTH, DestinationGuard, is_public_address, url_problems


def codes(url: str) -> set[str]:
    return {problem.code for problem in url_problems(url)}


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/tsw", "http://hooks.example.com:8080/a?b=c", "https://[2606:4700::1111]/"],
)
def test_acceptable_urls(url: str) -> None:
    assert url_problems(url) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://hooks.example.com/", {"webhook.url.scheme"}),
        ("file:///etc/passwd", {"webhook.url.scheme", "webhook.url.host"}),
        ("https://user:secret@hooks.example.com/", {"webhook.url.userinfo"}),
        ("https://hooks.example.com/#part", {"webhook.url.fragment"}),
        ("javascript:alert(1)", {"webhook.url.scheme", "webhook.url.host"}),
        ("https://" + "a" * MAX_URL_LENGTH + ".example/", {"webhook.url.too-long"}),
        ("http://[::1/", {"webhook.url.malformed"}),
        ("gopher://u@h/#f", {"webhook.url.scheme", "webhook.url.userinfo", "webhook.url.fragment"}),
    ],
)
def test_refused_urls_name_every_problem(url: str, expected: set[str]) -> None:
    assert codes(url) == expected
    assert all(problem.path == "/url" for problem in url_problems(url))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (CGNAT)
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "198.18.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
        "2001:db8::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"{host}: name does not resolve")
        return table[host]

    return resolve


GUARD = DestinationGuard(
    allow_private_hosts=False,
    resolver=resolver(
        {
            "hooks.example.com": ["8.8.4.4", "8.8.8.8"],
            "docs.example.com": ["8.8.8.8", "203.0.113.9"],  # the second is a documentation address
            "rebind.example.com": ["8.8.8.8", "10.0.0.7"],
            "localhost": ["127.0.0.1", "::1"],
        }
    ),
)


async def test_registration_resolves_the_host() -> None:
    assert await GUARD.problems("https://hooks.example.com/tsw") == []
    [private] = await GUARD.problems("https://rebind.example.com/tsw")
    assert private.code == "webhook.url.private"
    assert "10.0.0.7" in private.message
    assert [p.code for p in await GUARD.problems("http://localhost:8000/")] == ["webhook.url.private"]
    assert [p.code for p in await GUARD.problems("http://docs.example.com/")] == ["webhook.url.private"]
    assert [p.code for p in await GUARD.problems("http://169.254.169.254/latest")] == ["webhook.url.private"]
    assert [p.code for p in await GUARD.problems("https://nowhere.invalid/")] == ["webhook.url.unresolvable"]
    # Syntax problems first: nothing is resolved for a URL that is refused anyway.
    assert [p.code for p in await GUARD.problems("ftp://localhost/")] == ["webhook.url.scheme"]


async def test_each_attempt_is_pinned_to_a_checked_address() -> None:
    assert await GUARD.address_for(httpx.URL("https://hooks.example.com/tsw")) == "8.8.4.4"
    assert await GUARD.address_for(httpx.URL("http://8.8.8.8:81/")) == "8.8.8.8"
    with pytest.raises(UnsafeDestination, match=r"10\.0\.0\.7"):
        await GUARD.address_for(httpx.URL("https://rebind.example.com/tsw"))
    with pytest.raises(UnsafeDestination):
        await GUARD.address_for(httpx.URL("http://[::ffff:127.0.0.1]/"))
    with pytest.raises(OSError):
        await GUARD.address_for(httpx.URL("https://nowhere.invalid/"))


async def test_private_hosts_allowed_resolves_nothing() -> None:
    async def never(host: str, port: int) -> list[str]:
        raise AssertionError("resolved")

    guard = DestinationGuard(allow_private_hosts=True, resolver=never)
    assert await guard.problems("http://127.0.0.1:9/hook") == []
    assert await guard.problems("ftp://127.0.0.1/") != []
    assert await guard.address_for(httpx.URL("http://localhost/")) is None
    assert not guard.pins_addresses
    assert GUARD.pins_addresses
