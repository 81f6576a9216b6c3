"""Credentials: user JWTs and tenant API keys, every way they can be wrong."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt

from app.tenancy.service import create_api_key, revoke_api_key
from tests.conftest import TEST_SECRET, Actors

VIEWER = "query { viewer { externalId role tenant { slug } } }"


def _token(claims: dict[str, Any], secret: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def test_valid_token_creates_the_user_on_first_sight(actors: Actors) -> None:
    tenant = await actors.tenant()
    data = await actors.user(tenant, "bob").data(VIEWER)
    assert data["viewer"] == {"externalId": "bob", "role": "USER", "tenant": {"slug": tenant.slug}}
    again = await actors.user(tenant, "bob").data("query { viewer { id } }")
    first = await actors.user(tenant, "bob").data("query { viewer { id } }")
    assert again == first


async def test_bad_tokens_are_unauthenticated(actors: Actors) -> None:
    tenant = await actors.tenant()
    now = int(time.time())
    good = {"sub": "alice", "tenant": tenant.slug, "exp": now + 60}
    bad_credentials = {
        "expired": _token({**good, "exp": now - 10}),
        "alg none": _unsigned(good),
        "wrong secret": _token(good, secret="another-secret-" + "y" * 40),
        "malformed": "not.a.jwt",
        "garbage": "abc",
        "missing sub": _token({k: v for k, v in good.items() if k != "sub"}),
        "missing tenant": _token({k: v for k, v in good.items() if k != "tenant"}),
        "missing exp": _token({k: v for k, v in good.items() if k != "exp"}),
        "unknown tenant": _token({**good, "tenant": "no-such-tenant"}),
        "bad role": _token({**good, "role": "superuser"}),
        "bad tz": _token({**good, "tz": "Mars/Olympus"}),
        "HS512": _token(good, alg="HS512"),
    }
    for name, credential in bad_credentials.items():
        codes = await actors.credential(credential).error_codes(VIEWER)
        assert codes == ["UNAUTHENTICATED"], name


async def test_missing_or_non_bearer_header_is_unauthenticated(actors: Actors) -> None:
    assert await actors.anonymous().error_codes(VIEWER) == ["UNAUTHENTICATED"]
    response = await actors.http.post("/graphql", json={"query": VIEWER}, headers={"Authorization": "Basic abc"})
    body = response.json()
    assert [e["extensions"] for e in body["errors"]] == [{"code": "UNAUTHENTICATED", "status": 401}]


async def test_anonymous_typename_needs_no_credential(actors: Actors) -> None:
    body = await actors.anonymous().post("{ __typename }")
    assert body == {"data": {"__typename": "Query"}}


async def test_api_key_acts_as_admin_and_can_be_revoked(actors: Actors) -> None:
    tenant = await actors.tenant()
    async with actors.db() as session:
        key, secret = await create_api_key(session, tenant_id=tenant.id, name="ci")
    assert secret.startswith("sk_")
    client = actors.credential(secret)
    data = await client.data("query { viewer { role tenant { slug } } apiKeys { edges { node { name prefix } } } }")
    assert data["viewer"] == {"role": "ADMIN", "tenant": {"slug": tenant.slug}}
    assert data["apiKeys"]["edges"] == [{"node": {"name": "ci", "prefix": f"sk_{key.key_id}_"}}]

    assert await actors.credential(secret[:-1] + ("A" if secret[-1] != "A" else "B")).error_codes(VIEWER) == [
        "UNAUTHENTICATED"
    ]
    assert await actors.credential("sk_0000000000000000_nope").error_codes(VIEWER) == ["UNAUTHENTICATED"]
    assert await actors.credential("sk_short").error_codes(VIEWER) == ["UNAUTHENTICATED"]

    async with actors.db() as session:
        await revoke_api_key(session, tenant_id=tenant.id, key_id=key.id)
    assert await client.error_codes(VIEWER) == ["UNAUTHENTICATED"]


async def test_api_keys_are_stored_only_as_hashes(actors: Actors) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    created = await admin.data(
        'mutation { createApiKey(name: "deploy") { secret apiKey { id name } errors { code } } }'
    )
    secret = created["createApiKey"]["secret"]
    async with actors.db() as session:
        from sqlalchemy import text

        rows = (await session.execute(text("SELECT secret_hash, key_id FROM api_keys"))).all()
    assert len(rows) == 1
    assert secret not in rows[0][0] and secret.split("_", 2)[2] not in rows[0][0]
    viewer = await actors.credential(secret).data("query { viewer { role } }")
    assert viewer["viewer"]["role"] == "ADMIN"
    revoked = await admin.data(
        "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } errors { code } } }",
        {"id": created["createApiKey"]["apiKey"]["id"]},
    )
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    assert await actors.credential(secret).error_codes(VIEWER) == ["UNAUTHENTICATED"]


async def test_users_cannot_manage_api_keys(actors: Actors) -> None:
    tenant = await actors.tenant()
    codes = await actors.user(tenant).error_codes('mutation { createApiKey(name: "x") { secret } }')
    assert codes == ["FORBIDDEN"]
    assert await actors.user(tenant).error_codes("{ apiKeys { edges { cursor } } }") == ["FORBIDDEN"]


async def test_tenant_and_api_key_nodes_are_scoped(actors: Actors) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    admin = actors.admin(tenant)
    created = await admin.data('mutation { createApiKey(name: "n") { apiKey { id } } }')
    key_id = created["createApiKey"]["apiKey"]["id"]
    tenant_id = (await admin.data("{ viewer { tenant { id } } }"))["viewer"]["tenant"]["id"]
    other_id = (await actors.admin(other).data("{ viewer { tenant { id } } }"))["viewer"]["tenant"]["id"]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }"
    seen = await admin.data(query, {"ids": [key_id, tenant_id, other_id]})
    assert seen["nodes"] == [{"id": key_id, "__typename": "ApiKey"}, {"id": tenant_id, "__typename": "Tenant"}, None]
    as_user = await actors.user(tenant).data(query, {"ids": [key_id, tenant_id]})
    assert as_user["nodes"] == [None, {"id": tenant_id, "__typename": "Tenant"}]
    as_other_admin = await actors.admin(other).data(query, {"ids": [key_id]})
    assert as_other_admin["nodes"] == [None]
