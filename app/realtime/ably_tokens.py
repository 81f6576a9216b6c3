"""Ably token requests: signed here with ``ABLY_API_KEY`` (the SDK's ``create_token_request``,
no network call). A client hands one to its Ably SDK's ``authCallback``, which exchanges it
with Ably for a token that may only subscribe to the one channel it names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ably import AblyRest

from app.config import Settings
from app.errors import DomainError, ErrorCode

TOKEN_TTL_MS = 60 * 60 * 1000
SUBSCRIBE = "subscribe"


@dataclass(frozen=True)
class AblyTokenRequest:
    """A signed Ably token request, field for field what Ably's ``requestToken`` takes."""

    key_name: str
    client_id: str
    capability: str
    timestamp: int
    nonce: str
    mac: str
    ttl: int


@lru_cache(maxsize=4)
def _signer(api_key: str) -> Any:
    # Building a client costs tens of milliseconds; signing never uses its connection.
    return AblyRest(key=api_key)


async def create_token_request(*, settings: Settings, client_id: str, channel: str) -> AblyTokenRequest:
    """A token request letting ``client_id`` subscribe to ``channel`` only, for an hour."""
    if not settings.ably_api_key:
        raise DomainError(ErrorCode.NOT_CONFIGURED, "Ably is not configured on this server")
    params = {"client_id": client_id, "capability": {channel: [SUBSCRIBE]}, "ttl": TOKEN_TTL_MS}
    request = await _signer(settings.ably_api_key).auth.create_token_request(params, query_time=False)
    return AblyTokenRequest(
        key_name=request.key_name,
        client_id=request.client_id,
        capability=request.capability,
        timestamp=int(request.timestamp),
        nonce=request.nonce,
        mac=request.mac,
        ttl=int(request.ttl),
    )
