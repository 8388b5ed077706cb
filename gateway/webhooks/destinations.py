"""Where a webhook may be sent: URL rules and the guard against server-side request forgery (SSRF).

A callback URL must be `http` or `https`, at most `MAX_URL_LENGTH` characters, with a host, and
without user information or a fragment. It is parsed with httpx, the client that will call it, so
the check and the call never disagree about the host.

Unless private hosts are allowed (`TSW_WEBHOOK_ALLOW_PRIVATE_HOSTS`, for tests and closed
networks), the host must be, and resolve only to, public addresses: no loopback, private, shared
(CGNAT), link-local (cloud metadata), multicast, documentation or otherwise reserved address,
including IPv4 addresses inside IPv6 (mapped, 6to4, Teredo, NAT64). The check runs at registration
and again before every attempt, and the attempt connects to the very address that was checked, so
a name that resolves to a public address at registration and a private one later (DNS rebinding)
is refused then too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv6Address

import httpx

from gateway.documents.problems import Problem
from gateway.errors import UnsafeDestination

__all__ = [
    "MAX_URL_LENGTH",
    "DestinationGuard",
    "Resolver",
    "is_public_address",
    "system_resolver",
    "url_problems",
]

MAX_URL_LENGTH = 2048

#: Resolves a host name (and port) to IP address strings.
Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = IPv4Address | IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_PATH = "/url"


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (getaddrinfo), every address once, in its order of preference."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address, also looking inside IPv6 forms that carry IPv4."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def url_problems(url: str) -> list[Problem]:
    """What is wrong with `url` as a callback URL, without looking its host up (empty when nothing)."""
    if len(url) > MAX_URL_LENGTH:
        return [Problem("webhook.url.too-long", _PATH, f"the URL is longer than {MAX_URL_LENGTH} characters")]
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decodes IDNA labels: a malformed `xn--` label raises here (it once was a 500)
    except (httpx.InvalidURL, UnicodeError, IndexError) as exc:
        return [Problem("webhook.url.malformed", _PATH, f"not a URL: {exc}")]
    problems: list[Problem] = []
    if parsed.scheme not in ("http", "https"):
        problems.append(Problem("webhook.url.scheme", _PATH, "the scheme must be http or https"))
    if not host:
        problems.append(Problem("webhook.url.host", _PATH, "the URL has no host"))
    if parsed.userinfo:
        problems.append(Problem("webhook.url.userinfo", _PATH, "credentials in the URL are not allowed"))
    if parsed.fragment:
        problems.append(Problem("webhook.url.fragment", _PATH, "a fragment is never sent; remove it"))
    return problems


class DestinationGuard:
    """Checks callback URLs at registration (`problems`) and pins each attempt to a vetted address
    (`address_for`). With `allow_private_hosts` nothing is resolved and every host is allowed."""

    def __init__(
        self,
        *,
        allow_private_hosts: bool,
        resolver: Resolver = system_resolver,
        is_allowed: Callable[[IPAddress], bool] = is_public_address,
        resolve_timeout_s: float = 5.0,
    ) -> None:
        self._allow_private_hosts = allow_private_hosts
        self._resolver = resolver
        self._is_allowed = is_allowed
        self._resolve_timeout_s = resolve_timeout_s

    @property
    def pins_addresses(self) -> bool:
        """Whether attempts connect to a checked address rather than to the URL's host name."""
        return not self._allow_private_hosts

    async def problems(self, url: str) -> list[Problem]:
        """Everything wrong with `url` for a new subscription, its host's addresses included."""
        problems = url_problems(url)
        if problems or self._allow_private_hosts:
            return problems
        try:
            await self.address_for(httpx.URL(url))
        except UnsafeDestination as exc:
            return [Problem("webhook.url.private", _PATH, str(exc))]
        except (OSError, TimeoutError):
            return [Problem("webhook.url.unresolvable", _PATH, "the host name does not resolve")]
        return []

    async def address_for(self, url: httpx.URL) -> str | None:
        """The address to connect to for `url`: None when private hosts are allowed (connect as usual),
        else its host's first address once every one of them is public.

        Raises `UnsafeDestination` for a non-public address, `OSError` or `TimeoutError` when the name
        does not resolve.
        """
        if self._allow_private_hosts:
            return None
        host = url.raw_host.decode("ascii")
        addresses = await self._resolve(host, url.port or (443 if url.scheme == "https" else 80))
        for text in addresses:
            address = ipaddress.ip_address(text.partition("%")[0])
            if not self._is_allowed(address):
                raise UnsafeDestination(
                    f"{host} is or resolves to {address}, a loopback, private, link-local or reserved address"
                )
        return addresses[0]

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        async with asyncio.timeout(self._resolve_timeout_s):
            addresses = await self._resolver(host, port)
        if not addresses:
            raise OSError(f"{host} has no address")
        return addresses
