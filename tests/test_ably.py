"""Ably: signed token requests, and the mirror publishing every event to a local server that
speaks Ably's REST protocol (tests/ably_server.py), through the real ably SDK."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from ably import AblyException, AblyRest
from sqlalchemy import text

from app.config import ConfigError, Settings, load_settings
from app.db import transaction
from app.main import create_app
from app.realtime.ably import AblyMirror, create_client
from app.realtime.outbox import EventType, record_event
from app.tenancy.service import create_tenant
from tests.ably_server import AblyServer
from tests.catalog_support import mutate, published_journey
from tests.conftest import TEST_SECRET, Actors, GraphQLClient, LiveServer

KEY_NAME = "testapp.mirror"
KEY_SECRET = "local-ably-secret-" + "k" * 20
TOKEN_TTL_MS = 2000  # the local server's tokens expire quickly, so renewal is exercised
HOUR_MS = 60 * 60 * 1000

TOKEN_REQUEST = """
mutation Token($scope: RealtimeScope) {
  createAblyTokenRequest(scope: $scope) {
    channelName
    tokenRequest { keyName clientId capability timestamp nonce mac ttl }
    errors { code message }
  }
}
"""
VIEWER = "{ viewer { channelName } }"
START_JOURNEY = """
mutation Start($journeyId: ID!) { startJourney(journeyId: $journeyId) { instance { id } errors { code } } }
"""
COMPLETE_EVENT = """
mutation Complete($instanceId: ID!, $eventId: ID!) {
  completeEvent(instanceId: $instanceId, journeyEventId: $eventId) { eventInstance { status } errors { code } }
}
"""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ably_server() -> Iterator[AblyServer]:
    server = AblyServer({KEY_NAME: KEY_SECRET}, token_ttl_ms=TOKEN_TTL_MS)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def ably(ably_server: AblyServer) -> AblyServer:
    ably_server.reset()
    return ably_server


@pytest.fixture(scope="module")
def ably_settings(data_dir: Path, ably_server: AblyServer) -> Settings:
    return load_settings(
        {
            "JOURNEYS_ENV": "test",
            "JOURNEYS_JWT_SECRET": TEST_SECRET,
            "JOURNEYS_DATA_DIR": str(data_dir),
            "ABLY_API_KEY": f"{KEY_NAME}:{KEY_SECRET}",
            "ABLY_REST_HOST": ably_server.host,
            "ABLY_REST_PORT": str(ably_server.port),
            "ABLY_TLS": "false",
            "ABLY_POLL_INTERVAL": "0.1",
            "ABLY_RETRY_MAX": "0.8",
        }
    )


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[LiveServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio"))
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(app, sock.getsockname()[1])
    finally:
        uv.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="module")
async def ably_app(migrated: str, ably_settings: Settings) -> AsyncIterator[LiveServer]:
    """A second server process-alike, configured with the Ably key: it runs the mirror."""
    async with serve(create_app(ably_settings, migrated)) as live:
        yield live


@pytest.fixture
async def ably_actors(ably_app: LiveServer, server: LiveServer, settings: Settings, db: Any) -> AsyncIterator[Actors]:
    async with httpx.AsyncClient(base_url=ably_app.url, timeout=30) as http:
        yield Actors(http, settings, db)


# ---------------------------------------------------------------- helpers


def documented_mac(secret: str, request: dict[str, Any]) -> str:
    """Ably's token request signature, from its documentation: HMAC-SHA256, base64."""
    signed = "".join(
        f"{value}\n"
        for value in (
            request["keyName"],
            request["ttl"],
            request["capability"],
            request["clientId"],
            request["timestamp"],
            request["nonce"],
        )
    )
    return base64.b64encode(hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()).decode()


async def user_id(db: Any, tenant_id: uuid.UUID, external_id: str) -> uuid.UUID:
    async with db() as session:
        sql = text("SELECT id FROM users WHERE tenant_id = :t AND external_id = :e")
        found: uuid.UUID = (await session.execute(sql, {"t": tenant_id, "e": external_id})).scalar_one()
        return found


async def token_request(client: GraphQLClient, scope: str | None = None) -> dict[str, Any]:
    return await mutate(client, TOKEN_REQUEST, {"scope": scope} if scope else {})


async def exchange(ably: AblyServer, request: dict[str, Any]) -> Any:
    """Hand ``request`` to the ably SDK's authCallback, as a frontend would; the SDK asks the server for a token."""

    async def auth_callback(_params: dict[str, Any]) -> dict[str, Any]:
        return dict(request)

    client = AblyRest(auth_callback=auth_callback, endpoint=ably.host, port=ably.port, tls=False)
    try:
        return await client.auth.authorize()
    finally:
        await client.close()


async def stored_events(db: Any, tenant_id: uuid.UUID) -> list[Any]:
    async with db() as session:
        sql = text("SELECT id, type, user_id, occurred_at, data FROM outbox_events WHERE tenant_id = :t ORDER BY id")
        return list((await session.execute(sql, {"t": tenant_id})).all())


def expected_on(channel: str, events: list[Any], tenant_id: uuid.UUID) -> list[tuple[str, str, dict[str, Any]]]:
    """(message id, name, data) of every event that belongs on ``channel``, in id order."""
    return [
        (
            str(e.id),
            e.type,
            {
                "id": str(e.id),
                "type": e.type,
                "occurredAt": e.occurred_at.isoformat(),
                "tenantId": str(tenant_id),
                "userId": str(e.user_id) if e.user_id else None,
                "data": e.data,
            },
        )
        for e in events
        if channel == f"admin:{tenant_id}" or (e.user_id is not None and channel == f"user:{tenant_id}:{e.user_id}")
    ]


def delivered(ably: AblyServer, channel: str) -> list[tuple[str | None, str | None, Any]]:
    return [(m.id, m.name, m.data) for m in ably.messages(channel)]


async def eventually(check: Callable[[], bool]) -> None:
    """Wait (at most 10 s) until ``check()`` holds."""
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def start_and_complete(admin: GraphQLClient, user: GraphQLClient, events: int = 2) -> None:
    """Catalogue authoring (admin-only events), then a user's progress (user events)."""
    journey = await published_journey(admin, events=events, xpReward=10)
    started = await mutate(user, START_JOURNEY, {"journeyId": journey["id"]})
    assert started["errors"] == []
    for event in journey["events"]:
        variables = {"instanceId": started["instance"]["id"], "eventId": event["id"]}
        assert (await mutate(user, COMPLETE_EVENT, variables))["errors"] == []


# ---------------------------------------------------------------- token requests


def test_the_mirror_timings_must_be_positive_seconds(tmp_path: Path) -> None:
    base = {"JOURNEYS_DATA_DIR": str(tmp_path), "ABLY_API_KEY": f"{KEY_NAME}:{KEY_SECRET}"}
    settings = load_settings(base)
    assert (settings.ably_poll_interval, settings.ably_retry_max) == (0.5, 30.0)
    for name in ("ABLY_POLL_INTERVAL", "ABLY_RETRY_MAX"):
        for bad in ("0", "-1", "soon"):
            with pytest.raises(ConfigError, match=name):
                load_settings({**base, name: bad})


async def test_a_users_token_request_is_signed_for_their_channel_only(ably_actors: Actors, ably: AblyServer) -> None:
    tenant = await ably_actors.tenant()
    alice = ably_actors.user(tenant, "alice")
    before = int(time.time() * 1000)

    payload = await token_request(alice)

    after = int(time.time() * 1000)
    alice_id = await user_id(ably_actors.db, tenant.id, "alice")
    channel = f"user:{tenant.id}:{alice_id}"
    assert payload["errors"] == []
    assert payload["channelName"] == channel == (await alice.data(VIEWER))["viewer"]["channelName"]
    request = payload["tokenRequest"]
    assert request["keyName"] == KEY_NAME
    assert request["clientId"] == str(alice_id)
    assert json.loads(request["capability"]) == {channel: ["subscribe"]}
    assert request["ttl"] == HOUR_MS
    assert isinstance(request["timestamp"], int) and before <= request["timestamp"] <= after
    assert len(request["nonce"]) >= 16
    assert request["mac"] == documented_mac(KEY_SECRET, request)
    # a second request is a fresh one
    assert (await token_request(alice))["tokenRequest"]["nonce"] != request["nonce"]

    # The ably SDK takes it from an authCallback as it is, and Ably issues a token for exactly that grant.
    token = await exchange(ably, request)
    assert token.client_id == str(alice_id)
    assert token.capability.to_dict() == {channel: ["subscribe"]}
    # The server checks the signature: a request widened after signing is refused.
    with pytest.raises(AblyException) as refused:
        await exchange(ably, {**request, "capability": json.dumps({"*": ["subscribe"]})})
    assert refused.value.code == 40101


async def test_an_admin_token_request_is_for_the_admin_channel_only(ably_actors: Actors, ably: AblyServer) -> None:
    tenant = await ably_actors.tenant()
    admin = ably_actors.admin(tenant, "ada")

    payload = await token_request(admin, "ADMIN")

    ada_id = await user_id(ably_actors.db, tenant.id, "ada")
    channel = f"admin:{tenant.id}"
    assert payload["errors"] == []
    assert payload["channelName"] == channel
    request = payload["tokenRequest"]
    assert json.loads(request["capability"]) == {channel: ["subscribe"]}
    assert request["clientId"] == str(ada_id)
    assert request["ttl"] == HOUR_MS
    assert request["mac"] == documented_mac(KEY_SECRET, request)
    assert (await exchange(ably, request)).capability.to_dict() == {channel: ["subscribe"]}
    # An admin asking for the default scope gets their own user channel.
    own = await token_request(admin)
    assert json.loads(own["tokenRequest"]["capability"]) == {f"user:{tenant.id}:{ada_id}": ["subscribe"]}


async def test_a_user_may_not_ask_for_the_admin_channel(ably_actors: Actors) -> None:
    tenant = await ably_actors.tenant()
    codes = await ably_actors.user(tenant, "alice").error_codes(TOKEN_REQUEST, {"scope": "ADMIN"})
    assert codes == ["FORBIDDEN"]
    assert await ably_actors.anonymous().error_codes(TOKEN_REQUEST) == ["UNAUTHENTICATED"]


async def test_without_an_ably_key_token_requests_are_not_configured(actors: Actors, server: LiveServer) -> None:
    assert server.runtime.settings.ably_api_key is None
    tenant = await actors.tenant()

    payload = await token_request(actors.user(tenant, "alice"))

    assert [e["code"] for e in payload["errors"]] == ["NOT_CONFIGURED"]
    assert payload["tokenRequest"] is None and payload["channelName"] is None


# ---------------------------------------------------------------- the mirror


async def test_the_mirror_publishes_each_event_once_in_order_on_its_channels(
    ably_actors: Actors, ably: AblyServer
) -> None:
    tenant = await ably_actors.tenant()
    admin, alice, bob = (
        ably_actors.admin(tenant),
        ably_actors.user(tenant, "alice"),
        ably_actors.user(tenant, "bob"),
    )

    await start_and_complete(admin, alice)
    await start_and_complete(admin, bob, events=1)

    events = await stored_events(ably_actors.db, tenant.id)
    alice_id = await user_id(ably_actors.db, tenant.id, "alice")
    bob_id = await user_id(ably_actors.db, tenant.id, "bob")
    channels = [f"admin:{tenant.id}", f"user:{tenant.id}:{alice_id}", f"user:{tenant.id}:{bob_id}"]
    expected = {channel: expected_on(channel, events, tenant.id) for channel in channels}
    assert {e.type for e in events} >= {"journey.created", "journey.started", "event.completed", "xp.awarded"}
    assert any(e.user_id is None for e in events)  # catalogue authoring: the admin channel only
    await eventually(lambda: all(len(delivered(ably, c)) >= len(expected[c]) for c in channels))
    for channel in channels:
        assert delivered(ably, channel) == expected[channel], channel
    # Each message was sent once (not merely de-duplicated by Ably), and nothing went anywhere else.
    sent = [(m.channel, m.id) for m in ably.received() if str(tenant.id) in m.channel]
    assert sorted(sent) == sorted((c, i) for c in channels for i, _, _ in expected[c])


async def test_while_ably_fails_mutations_go_on_and_events_follow_in_order_when_it_recovers(
    ably_actors: Actors, ably: AblyServer
) -> None:
    tenant = await ably_actors.tenant()
    admin, alice = ably_actors.admin(tenant), ably_actors.user(tenant, "alice")
    admin_channel = f"admin:{tenant.id}"
    # given events already out (so the mirror holds a token from before the outage)
    await start_and_complete(admin, alice, events=1)
    first = expected_on(admin_channel, await stored_events(ably_actors.db, tenant.id), tenant.id)
    await eventually(lambda: len(delivered(ably, admin_channel)) >= len(first))
    tokens_before = ably.tokens_issued

    # when Ably answers 500, then drops connections, while users keep changing things
    outage_started = time.monotonic()
    ably.fail("status")
    slowest = 0.0
    for step in range(4):
        if step == 2:
            ably.fail("drop")
        started = time.monotonic()
        await start_and_complete(admin, alice, events=1)
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(0.4)
    outage = time.monotonic() - outage_started
    failed_during_outage = ably.failed_requests
    ably.recover()

    # then every mutation was quick, the mirror retried with backoff (not every poll) ...
    assert slowest < 2.0
    assert 2 <= failed_during_outage <= outage / 0.2
    # ... and after recovery every event arrives, once, in order, on a renewed token
    events = await stored_events(ably_actors.db, tenant.id)
    alice_id = await user_id(ably_actors.db, tenant.id, "alice")
    channels = [admin_channel, f"user:{tenant.id}:{alice_id}"]
    expected = {channel: expected_on(channel, events, tenant.id) for channel in channels}
    await eventually(lambda: all(len(delivered(ably, c)) >= len(expected[c]) for c in channels))
    for channel in channels:
        assert delivered(ably, channel) == expected[channel], channel
    assert ably.tokens_issued > tokens_before


async def test_a_tenant_met_for_the_first_time_starts_with_its_recent_events(
    ably_actors: Actors, ably_app: LiveServer, ably: AblyServer
) -> None:
    # given a tenant the mirror has never seen, with an event from before the mirror ran
    async with ably_actors.db() as session:
        tenant = await create_tenant(session, slug=f"t-{uuid.uuid4().hex[:10]}", name="Old tenant")
        await session.execute(
            text(
                "INSERT INTO outbox_events (tenant_id, type, data, occurred_at) "
                "VALUES (:t, 'journey.created', '{}', now() - interval '1 hour')"
            ),
            {"t": tenant.id},
        )
    # when a new event follows
    async with transaction(ably_app.runtime.sessions) as session:
        record_event(session, tenant_id=tenant.id, user_id=None, type=EventType.JOURNEY_PUBLISHED, data={"n": 1})

    # then only the new one goes out (ids are in order, so the old one can no longer follow it)
    channel = f"admin:{tenant.id}"
    old_event, new_event = await stored_events(ably_actors.db, tenant.id)
    assert old_event.type == "journey.created"
    await eventually(lambda: len(delivered(ably, channel)) >= 1)
    assert [(m.id, m.name) for m in ably.messages(channel)] == [(str(new_event.id), "journey.published")]


async def test_concurrent_mirrors_never_publish_a_tenants_batch_twice(
    ably_actors: Actors, ably_app: LiveServer, ably_settings: Settings, ably: AblyServer
) -> None:
    tenants = [await ably_actors.tenant() for _ in range(3)]
    sessions = ably_app.runtime.sessions
    # given two more mirrors beside the server's own, all polling fast
    mirrors = [
        AblyMirror(sessions=sessions, client=create_client(ably_settings), poll_interval=0.02, retry_max=0.5)
        for _ in range(2)
    ]
    for mirror in mirrors:
        mirror.start()
    try:
        # when many small transactions record events for the three tenants at once
        async def write(tenant_index: int, n: int) -> None:
            async with transaction(sessions) as session:
                for i in range(3):
                    record_event(
                        session,
                        tenant_id=tenants[tenant_index].id,
                        user_id=None,
                        type=EventType.XP_AWARDED,
                        data={"n": n, "i": i},
                    )

        for wave in range(5):
            await asyncio.gather(*(write(t, wave * 10 + n) for t in range(3) for n in range(6)))
            await asyncio.sleep(0.03)

        # then each event reaches its channel exactly once, in id order
        for tenant in tenants:
            channel = f"admin:{tenant.id}"
            expected = expected_on(channel, await stored_events(ably_actors.db, tenant.id), tenant.id)
            assert len(expected) == 5 * 6 * 3
            await eventually(lambda channel=channel, n=len(expected): len(delivered(ably, channel)) >= n)
            assert delivered(ably, channel) == expected
            assert [m.id for m in ably.received() if m.channel == channel] == [i for i, _, _ in expected]
    finally:
        for mirror in mirrors:
            await mirror.stop()
