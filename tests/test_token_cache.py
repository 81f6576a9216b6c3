"""Verified user tokens are remembered (app/tenancy/credentials.py), never past their `exp`,
and only for the very token and the settings that verified it."""

from __future__ import annotations

import asyncio
import time

import jwt

from app.tenancy import credentials
from tests.conftest import TEST_SECRET, Actors

VIEWER = "query { viewer { externalId } }"


async def test_a_remembered_token_stops_working_when_it_expires(actors: Actors) -> None:
    tenant = await actors.tenant()
    expires = int(time.time()) + 2
    token = jwt.encode({"sub": "eve", "tenant": tenant.slug, "exp": expires}, TEST_SECRET, algorithm="HS256")
    client = actors.credential(token)
    # verified once, then answered from memory
    assert (await client.data(VIEWER))["viewer"] == {"externalId": "eve"}
    assert (await client.data(VIEWER))["viewer"] == {"externalId": "eve"}
    assert any(key[0] == token for key in credentials._verified)
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    assert await client.error_codes(VIEWER) == ["UNAUTHENTICATED"]
    body = await client.post(VIEWER)
    assert body["errors"][0]["message"] == "The token has expired"
    assert not any(key[0] == token for key in credentials._verified)


async def test_a_remembered_token_does_not_vouch_for_an_altered_one(actors: Actors) -> None:
    tenant = await actors.tenant()
    token = actors.token(tenant, "mallory")
    assert (await actors.credential(token).data(VIEWER))["viewer"] == {"externalId": "mallory"}
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert await actors.credential(f"{header}.{payload}.{flipped}").error_codes(VIEWER) == ["UNAUTHENTICATED"]
    # nor one signed with another secret for the same claims
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}), "another-secret-" + "z" * 40, algorithm="HS256"
    )
    assert await actors.credential(forged).error_codes(VIEWER) == ["UNAUTHENTICATED"]
    assert (await actors.credential(token).data(VIEWER))["viewer"] == {"externalId": "mallory"}


async def test_the_memory_is_bounded(actors: Actors) -> None:
    tenant = await actors.tenant()
    first = actors.token(tenant, "user-0")
    assert (await actors.credential(first).data(VIEWER))["viewer"] == {"externalId": "user-0"}
    settings = actors.settings
    for n in range(credentials.VERIFIED_TOKENS):
        credentials.read_user_token(
            settings, credentials.mint_user_token(settings, tenant_slug=tenant.slug, subject=f"filler-{n}")
        )
    assert len(credentials._verified) == credentials.VERIFIED_TOKENS
    assert not any(key[0] == first for key in credentials._verified)  # the least recently used went
    # and it still verifies (afresh)
    assert (await actors.credential(first).data(VIEWER))["viewer"] == {"externalId": "user-0"}
