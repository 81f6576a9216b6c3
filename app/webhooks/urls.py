"""Where webhooks may go: the URL rules, and the address check at connect time.

Production allows ``https://`` only and refuses hosts that resolve to loopback, private,
link-local, multicast or otherwise non-public addresses (unless JOURNEYS_WEBHOOK_ALLOW_PRIVATE=1).
The check runs when an endpoint is saved and again on every connection: the delivery client
resolves the host itself, checks every address, and connects to a checked one (the request keeps
its Host header and TLS server name), so a DNS answer that changes after the endpoint was saved
cannot point a delivery inward. Outside production anything http(s) goes, for local receivers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from app.config import Settings
from app.errors import DomainError, ErrorCode

MAX_URL = 2048
URL_FIELD = ("input", "url")


class RefusedAddress(Exception):
    """The destination resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class UrlPolicy:
    """What the service allows: https only (production), and whether private addresses are refused."""

    https_only: bool
    refuse_private: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlPolicy:
        return cls(
            https_only=settings.production, refuse_private=settings.production and not settings.webhook_allow_private
        )


def _bad(message: str) -> DomainError:
    return DomainError(ErrorCode.BAD_USER_INPUT, message, field=URL_FIELD)


def public(address: str) -> bool:
    """Whether an address is a public unicast one (IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an address literal is its own)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, all of them public; RefusedAddress otherwise (or when it does not resolve)."""
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise RefusedAddress(f"{host} does not resolve") from exc
    refused = [a for a in addresses if not public(a)]
    if not addresses or refused:
        raise RefusedAddress(f"{host} resolves to a non-public address ({', '.join(refused) or 'none'})")
    return addresses


async def check_url(url: object, policy: UrlPolicy) -> str:
    """The endpoint URL, stripped, if the policy allows it; BAD_USER_INPUT on ["input", "url"] otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise _bad("url is required")
    url = url.strip()
    if len(url) > MAX_URL:
        raise _bad(f"url must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad("url is not a valid URL") from None
    schemes = {"https"} if policy.https_only else {"http", "https"}
    if parts.scheme not in schemes:
        raise _bad("url must be an https:// URL" if policy.https_only else "url must be an http:// or https:// URL")
    if not parts.hostname:
        raise _bad("url names no host")
    if parts.username is not None or parts.password is not None:
        raise _bad("url must not carry credentials")
    if parts.fragment:
        raise _bad("url must not have a #fragment")
    if policy.refuse_private:
        try:
            await checked_addresses(parts.hostname, port or 443)
        except RefusedAddress as exc:
            raise _bad(f"url is not allowed: {exc}") from None
    return url


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses, resolving host names itself."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("webhooks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over :class:`GuardedBackend` (httpx takes no network backend of its own,
    so its connection pool is rebuilt with one)."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(),
        )


def create_client(policy: UrlPolicy, *, timeout: float, limits: httpx.Limits | None = None) -> httpx.AsyncClient:
    """The pooled client deliveries are sent with: no redirects, no proxies from the environment,
    and (when the policy refuses private addresses) the address check on every connection."""
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30)
    transport = (
        GuardedTransport(limits=limits)
        if policy.refuse_private
        else httpx.AsyncHTTPTransport(trust_env=False, limits=limits)
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
