"""The viewer cache (app/tenancy/viewer_cache.py): known viewers authenticate without the
database, and a change to what a viewer is made of reaches every process's cache at once — in
this process when the write commits, in the others through PostgreSQL NOTIFY, whatever the
realtime broadcast (the two server processes here use memory://, which crosses no process)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from app.config import Settings
from app.tenancy.changes import APPLICATION_NAME, connector
from app.tenancy.credentials import Role
from app.tenancy.models import Tenant, User
from app.tenancy.viewer_cache import CHANNEL, CachedKey, ViewerCache
from tests.conftest import Actors, GraphQLClient, LiveServer, StatementCounter
from tests.process_support import ServerProcess, process_directory, process_environment, server_process

VIEWER = "{ viewer { id externalId timezone tenant { timezone levelThresholds } } }"
SETTINGS = "mutation S($input: TenantSettingsInput!) { updateTenantSettings(input: $input) { errors { code } } }"
CREATE_KEY = 'mutation { createApiKey(name: "ops") { secret apiKey { id } errors { code } } }'
REVOKE_KEY = "mutation R($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } errors { code } } }"
SERVE = ("-m", "app.cli", "serve", "--port", "{port}")
DEADLINE = 5.0  # well under the TTL (30 s): what arrives in time came by invalidation


async def _until(check: Callable[[], Awaitable[bool]], what: str, deadline: float = DEADLINE) -> float:
    """Poll ``check`` until it holds; the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        assert loop.time() - started < deadline, f"{what}: not within {deadline} s"
        await asyncio.sleep(0.02)
    return loop.time() - started


async def _connect(migrated: str) -> Any:
    """A plain asyncpg connection to the test database (another client than the server)."""
    return await connector(migrated)()


# ---------------------------------------------------------------- the cache itself


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _tenant(slug: str = "acme") -> Tenant:
    return Tenant(id=uuid.uuid4(), slug=slug, name="Acme", timezone="UTC")


def _user(tenant: Tenant, external_id: str = "alice") -> User:
    return User(id=uuid.uuid4(), tenant_id=tenant.id, external_id=external_id)


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = ViewerCache(ttl=30, clock=clock)
    tenant = _tenant()
    user = _user(tenant)
    cache.put_viewer(tenant, user, since=cache.generation)
    assert cache.tenant("acme") is tenant and cache.user(tenant.id, "alice") is user
    clock.now = 29.9
    assert cache.tenant("acme") is tenant
    clock.now = 30.0
    assert cache.tenant("acme") is None and cache.user(tenant.id, "alice") is None


def test_each_change_drops_what_it_makes_stale() -> None:
    cache = ViewerCache()
    acme, other = _tenant("acme"), _tenant("other")
    alice, bob = _user(acme, "alice"), _user(other, "bob")
    for tenant, user in ((acme, alice), (other, bob)):
        cache.put_viewer(tenant, user, since=cache.generation)
    key = CachedKey(id=uuid.uuid4(), secret_hash="h", tenant=acme, user=alice)
    cache.put_api_key("k1", key, since=cache.generation)

    cache.invalidate(f"api_key:{key.id}")
    assert cache.api_key("k1") is None and cache.tenant("acme") is acme
    cache.put_api_key("k1", key, since=cache.generation)
    cache.invalidate(f"tenant:{acme.id}")  # the tenant, and the keys that carry it
    assert cache.tenant("acme") is None and cache.api_key("k1") is None
    assert cache.tenant("other") is other and cache.user(acme.id, "alice") is alice
    cache.invalidate(f"user:{bob.id}")
    assert cache.user(other.id, "bob") is None and cache.tenant("other") is other
    cache.invalidate("anything else")  # unknown: everything goes
    assert cache.user(acme.id, "alice") is None and cache.tenant("other") is None


def test_a_load_that_began_before_an_invalidation_is_not_stored() -> None:
    cache = ViewerCache()
    tenant = _tenant()
    since = cache.generation  # a request starts reading the database ...
    cache.invalidate(f"tenant:{tenant.id}")  # ... a commit invalidates meanwhile ...
    cache.put_viewer(tenant, _user(tenant), since=since)  # ... what it read is not kept
    assert cache.tenant("acme") is None


def test_the_cache_holds_a_bounded_number_of_entries() -> None:
    cache = ViewerCache(max_entries=3)
    tenants = [_tenant(f"t{i}") for i in range(5)]
    for tenant in tenants:
        cache.put_viewer(tenant, _user(tenant), since=cache.generation)
    assert [cache.tenant(t.slug) is not None for t in tenants] == [False, False, True, True, True]


async def test_a_change_that_rolls_back_invalidates_nothing(server: LiveServer, actors: Actors) -> None:
    from app.db import transaction
    from app.tenancy.service import update_tenant_settings

    tenant = await actors.tenant()
    alice = actors.user(tenant)
    await alice.data(VIEWER)
    generation = server.runtime.viewers.generation
    with pytest.raises(RuntimeError):
        async with transaction(server.runtime.sessions) as session:
            await update_tenant_settings(session, tenant_id=tenant.id, timezone="Europe/Paris")
            raise RuntimeError("changed my mind")
    await asyncio.sleep(0.2)  # (a notification would have arrived by now)
    assert server.runtime.viewers.generation == generation
    assert (await alice.data(VIEWER))["viewer"]["tenant"]["timezone"] == "UTC"


# ---------------------------------------------------------------- one process


async def test_a_known_viewer_is_authenticated_without_the_database(
    actors: Actors, statements: StatementCounter, db: Any
) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    # when a user is first seen, they are created (and their viewer read) ...
    async with statements.measure() as counter:
        await alice.data(VIEWER)
    first = counter.count
    # ... and on every request afterwards nothing is read or written to know who they are
    async with statements.measure() as counter:
        for _ in range(3):
            assert (await alice.data(VIEWER))["viewer"]["externalId"] == "alice"
    assert first >= 2 and counter.count == 0, (first, counter.count)
    async with db() as session:
        users = await session.execute(text("SELECT count(*) FROM users WHERE tenant_id = :t"), {"t": tenant.id})
        assert users.scalar_one() == 1


async def test_an_api_key_is_checked_on_every_request_even_when_cached(actors: Actors) -> None:
    tenant = await actors.tenant()
    created = (await actors.admin(tenant).data(CREATE_KEY))["createApiKey"]
    key = actors.credential(created["secret"])
    assert (await key.data(VIEWER))["viewer"]["externalId"].startswith("apikey:")
    assert (await key.data(VIEWER))["viewer"]  # cached now
    # a wrong secret with the same key id is refused, cached or not
    forged = created["secret"][:-4] + ("AAAA" if not created["secret"].endswith("AAAA") else "BBBB")
    assert await actors.credential(forged).error_codes(VIEWER) == ["UNAUTHENTICATED"]


async def test_changed_tenant_settings_are_seen_at_once(actors: Actors) -> None:
    tenant = await actors.tenant()
    alice, admin = actors.user(tenant), actors.admin(tenant)
    assert (await alice.data(VIEWER))["viewer"]["tenant"]["timezone"] == "UTC"
    changes = {"timezone": "Pacific/Auckland", "levelThresholds": [0, 50, 70]}
    assert (await admin.data(SETTINGS, {"input": changes}))["updateTenantSettings"]["errors"] == []
    seen = (await alice.data(VIEWER))["viewer"]
    assert seen["timezone"] == "Pacific/Auckland" and seen["tenant"]["levelThresholds"] == [0, 50, 70]


async def test_a_revoked_api_key_is_refused_at_once(actors: Actors) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    created = (await admin.data(CREATE_KEY))["createApiKey"]
    key = actors.credential(created["secret"])
    assert "errors" not in await key.post(VIEWER)
    assert "errors" not in await key.post(VIEWER)  # served from the cache
    revoked = await admin.data(REVOKE_KEY, {"id": created["apiKey"]["id"]})
    assert revoked["revokeApiKey"]["errors"] == []
    assert await key.error_codes(VIEWER) == ["UNAUTHENTICATED"]


async def test_a_change_committed_by_another_client_arrives_by_notification(actors: Actors, migrated: str) -> None:
    # given a cached viewer
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    await alice.data(VIEWER)
    # when another program changes the tenant and notifies, as record_change does
    connection = await _connect(migrated)
    try:
        async with connection.transaction():
            await connection.execute("UPDATE tenants SET timezone = 'Asia/Tokyo' WHERE id = $1", tenant.id)
            await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, f"tenant:{tenant.id}")
    finally:
        await connection.close()

    # then the server sees it long before the TTL
    async def changed() -> bool:
        return (await alice.data(VIEWER))["viewer"]["tenant"]["timezone"] == "Asia/Tokyo"

    await _until(changed, "the notified change")


async def test_while_the_listener_is_away_the_cache_serves_nothing(
    server: LiveServer, actors: Actors, statements: StatementCounter, migrated: str
) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    await alice.data(VIEWER)
    listener = server.runtime.changes
    assert listener is not None and listener.connected
    # when the listener's connection dies
    connection = await _connect(migrated)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
            APPLICATION_NAME,
        )
    finally:
        await connection.close()
    await _until(lambda: _false_async(listener.connected), "the listener noticing")
    # then requests read the database (invalidations could be missed meanwhile)
    async with statements.measure() as counter:
        await alice.data(VIEWER)
    assert counter.count >= 1
    # and once it listens again the cache starts empty, then serves
    await _until(lambda: _true_async(listener.connected), "the listener reconnecting")
    await alice.data(VIEWER)
    async with statements.measure() as counter:
        await alice.data(VIEWER)
    assert counter.count == 0


async def _true_async(value: bool) -> bool:
    return value


async def _false_async(value: bool) -> bool:
    return not value


# ---------------------------------------------------------------- two processes


@pytest.fixture(scope="module")
async def two_servers(migrated: str, settings: Settings) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    environment = process_environment(migrated, settings, BROADCAST_URL="memory://")
    directory = process_directory(settings, "viewer-cache-")
    async with (
        server_process(SERVE, environment, directory, "a") as first,
        server_process(SERVE, environment, directory, "b") as second,
    ):
        yield first, second


async def test_a_change_through_one_process_reaches_the_others_cache(
    two_servers: tuple[ServerProcess, ServerProcess], actors: Actors, client: Any
) -> None:
    first, second = two_servers
    tenant = await actors.tenant()

    def on(process: ServerProcess, credential: str) -> GraphQLClient:
        return GraphQLClient(_Prefixed(client, process.url), credential)

    admin_on_first = on(first, actors.token(tenant, "admin", role=Role.ADMIN))
    alice_on_second = on(second, actors.token(tenant, "alice"))
    # given alice's viewer cached by the second process (the first request may warm it up)
    for _ in range(3):
        assert (await alice_on_second.data(VIEWER))["viewer"]["tenant"]["timezone"] == "UTC"
    # when an admin changes the tenant through the first process
    changes = {"input": {"timezone": "America/Lima"}}
    assert (await admin_on_first.data(SETTINGS, changes))["updateTenantSettings"]["errors"] == []

    # then the second process sees the change by invalidation, not by expiry
    async def second_sees_it() -> bool:
        return (await alice_on_second.data(VIEWER))["viewer"]["tenant"]["timezone"] == "America/Lima"

    await _until(second_sees_it, "the tenant change on the other process")

    # and an API key revoked through the first process stops working on the second
    created = (await admin_on_first.data(CREATE_KEY))["createApiKey"]
    key_on_second = on(second, created["secret"])
    for _ in range(3):
        assert "errors" not in await key_on_second.post(VIEWER)
    assert (await admin_on_first.data(REVOKE_KEY, {"id": created["apiKey"]["id"]}))["revokeApiKey"]["errors"] == []

    async def refused() -> bool:
        return await key_on_second.error_codes(VIEWER) == ["UNAUTHENTICATED"]

    await _until(refused, "the revocation on the other process")


class _Prefixed:
    """An httpx client posting to another base URL (GraphQLClient posts to "/graphql")."""

    def __init__(self, http: Any, base: str) -> None:
        self.http, self.base = http, base

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self.http.post(self.base + path, **kwargs)
