"""One attempt: POST the signed body and keep what came back (the status and at most 1 KiB)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from app.webhooks.urls import RefusedAddress

RESPONSE_BODY_LIMIT = 1024


@dataclass(frozen=True)
class Response:
    """What one attempt got: the status and the start of the body, or why there was none."""

    status: int | None
    body: str | None
    error: str | None


async def post(client: httpx.AsyncClient, url: str, *, body: bytes, headers: dict[str, str], within: float) -> Response:
    """Send one delivery; every failure (timeout, refused address or connection) becomes an ``error``.

    ``within`` bounds the whole exchange, not each read: a receiver trickling bytes cannot hold a
    delivery (and its endpoint's lock) longer.
    """
    kept = bytearray()
    try:
        async with asyncio.timeout(within):
            response = await client.send(client.build_request("POST", url, content=body, headers=headers), stream=True)
            try:
                async for chunk in response.aiter_bytes():
                    kept += chunk
                    if len(kept) >= RESPONSE_BODY_LIMIT:
                        break  # the rest is not read: the connection is closed rather than reused
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return Response(None, None, f"no answer within {within:g} s")
    except RefusedAddress as exc:
        return Response(None, None, f"refused: {exc}")
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return Response(None, None, f"{type(exc).__name__}: {exc}"[:500])
    return Response(response.status_code, kept[:RESPONSE_BODY_LIMIT].decode(errors="replace"), None)
