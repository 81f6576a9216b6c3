"""Realtime delivery over graphql-transport-ws against the live server: every committed event
reaches its user's and its tenant's admin subscribers, in order, once; nothing for a rollback."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from httpx_ws import aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from app.db import transaction
from app.graphql.limits import MAX_BODY_BYTES
from app.graphql.relay import to_global_id
from app.graphql.schema import create_schema
from app.graphql.view import JourneysGraphQL
from app.realtime.broadcast import create_broadcast
from app.realtime.delivery import Realtime
from app.realtime.outbox import CommittedEvent, EventType, record_event, take_committed
from app.realtime.store import StoredEvent
from app.runtime import Runtime
from app.tenancy.credentials import Role
from app.tenancy.models import Tenant
from app.tenancy.service import create_api_key, revoke_api_key
from tests.catalog_support import mutate
from tests.conftest import Actors, GraphQLClient, LiveServer
from tests.progress_support import make_journey, make_user
from tests.realtime_support import free_port
from tests.subscription_support import (
    ADMIN_EVENTS,
    PROTOCOL,
    USER_EVENTS,
    GraphQLSocket,
    close_code,
    closed,
    graphql_socket,
)
from tests.test_conformance import CONFORMANCE, INSTALL_HINT

START_JOURNEY = """
mutation Start($journeyId: ID!) {
  startJourney(journeyId: $journeyId) { instance { id } errors { code } }
}
"""
TRANSITION = """
mutation Transition($instanceId: ID!) {
  %s(instanceId: $instanceId) { instance { id status } errors { code } }
}
"""
SUSPEND, RESUME, ABANDON = (TRANSITION % name for name in ("suspendJourney", "resumeJourney", "abandonJourney"))
COMPLETE_EVENT = """
mutation Complete($instanceId: ID!, $journeyEventId: ID!) {
  completeEvent(instanceId: $instanceId, journeyEventId: $journeyEventId) { xpAwarded errors { code } }
}
"""
VIEWER = "query { viewer { id channelName } }"


async def _journey_id(actors: Actors, tenant: Tenant, **kwargs: Any) -> tuple[str, list[str]]:
    journey = await make_journey(actors.db, tenant, **kwargs)
    return to_global_id("Journey", journey.journey.id), [to_global_id("JourneyEvent", e.id) for e in journey.events]


async def _start(client: GraphQLClient, journey_id: str) -> str:
    payload = await mutate(client, START_JOURNEY, {"journeyId": journey_id})
    assert payload["errors"] == [], payload
    instance_id: str = payload["instance"]["id"]
    return instance_id


async def _transition(client: GraphQLClient, document: str, instance_id: str) -> None:
    payload = await mutate(client, document, {"instanceId": instance_id})
    assert payload["errors"] == [], payload


async def _stored(actors: Actors, tenant: Tenant, user: str | None = None) -> list[tuple[str, str]]:
    """(id, type) of the tenant's stored events (of one user, by external id), oldest first."""
    sql = "SELECT e.id, e.type FROM outbox_events e LEFT JOIN users u ON u.id = e.user_id WHERE e.tenant_id = :t"
    params: dict[str, Any] = {"t": tenant.id}
    if user is not None:
        sql += " AND u.external_id = :u"
        params["u"] = user
    async with actors.db() as session:
        rows = (await session.execute(text(sql + " ORDER BY e.id"), params)).all()
    return [(str(row.id), row.type) for row in rows]


def _pairs(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["id"], e["type"]) for e in events]


async def _channel(client: GraphQLClient) -> str:
    channel: str = (await client.data(VIEWER))["viewer"]["channelName"]
    return channel


async def _joined(delivery: Realtime, channel: str, subscribers: int) -> None:
    """Wait until ``subscribers`` subscriptions of this process receive the channel's live events."""
    for _ in range(1000):
        hub = delivery.hubs.get(channel)
        if hub is not None and len(hub.inboxes) >= subscribers:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{subscribers} subscription(s) of {channel} did not join within 10 s")


async def _subscribed(
    server: LiveServer, socket: GraphQLSocket, operation_id: str, query: str, channel: str, **variables: Any
) -> None:
    """Subscribe, and wait until the subscription receives live events."""
    hub = server.runtime.realtime.hubs.get(channel)
    joined = len(hub.inboxes) if hub is not None else 0
    await socket.subscribe(operation_id, query, variables)
    await _joined(server.runtime.realtime, channel, joined + 1)


# ---------------------------------------------------------------- delivery


async def test_a_user_receives_their_events_live_in_order(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    journey_id, (event_id,) = await _journey_id(actors, tenant, event_xp=10, xp_reward=50)
    alice = actors.user(tenant, "alice")
    channel = await _channel(alice)
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        await _subscribed(server, socket, "1", USER_EVENTS, channel)
        instance_id = await _start(alice, journey_id)
        (started,) = await socket.events("1", 1)
        assert started["type"] == "journey.started"
        assert started["data"]["status"] == "ACTIVE"

        payload = await mutate(alice, COMPLETE_EVENT, {"instanceId": instance_id, "journeyEventId": event_id})
        assert payload["errors"] == []
        stored = await _stored(actors, tenant, "alice")
        later = await socket.events("1", len(stored) - 1)
        assert _pairs([started, *later]) == stored
        assert [t for _, t in stored][:3] == ["journey.started", "event.completed", "xp.awarded"]
        assert "journey.completed" in [t for _, t in stored]

        assert {f"user:{e['tenantId']}:{e['userId']}" for e in [started, *later]} == {channel}
        assert await socket.quiet("1") == []
    # Between events, and after, an open subscription holds no database connection.
    for _ in range(100):
        if server.runtime.engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("database connections stay checked out after delivery")


async def test_a_rolled_back_mutation_announces_nothing(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    journey_id, _ = await _journey_id(actors, tenant)
    alice = actors.user(tenant, "alice")
    channel = await _channel(alice)
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        await _subscribed(server, socket, "1", USER_EVENTS, channel)
        instance_id = await _start(alice, journey_id)
        # A second start fails (ALREADY_ACTIVE): its transaction rolls back, its events never exist.
        again = await mutate(alice, START_JOURNEY, {"journeyId": journey_id})
        assert [e["code"] for e in again["errors"]] == ["ALREADY_ACTIVE"]
        await _transition(alice, SUSPEND, instance_id)
        received = await socket.events("1", 2)
        assert [e["type"] for e in received] == ["journey.started", "journey.suspended"]
        assert _pairs(received) == await _stored(actors, tenant, "alice")
        assert await socket.quiet("1") == []


async def test_after_replays_exactly_the_missed_events_then_continues_live(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    journey_id, _ = await _journey_id(actors, tenant)
    alice = actors.user(tenant, "alice")
    instance_id = await _start(alice, journey_id)
    await _transition(alice, SUSPEND, instance_id)
    await _transition(alice, RESUME, instance_id)
    missed = await _stored(actors, tenant, "alice")
    assert [t for _, t in missed] == ["journey.started", "journey.suspended", "journey.resumed"]
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        await socket.subscribe("1", USER_EVENTS, {"after": missed[0][0]})
        assert _pairs(await socket.events("1", 2)) == missed[1:]
        await _transition(alice, ABANDON, instance_id)
        (live,) = await socket.events("1", 1)
        assert live["type"] == "journey.abandoned"
        assert await socket.quiet("1") == []
        # Resuming from the latest id replays nothing; from 0, everything.
        await socket.subscribe("2", USER_EVENTS, {"after": live["id"]})
        await socket.subscribe("3", USER_EVENTS, {"after": "0"})
        assert _pairs(await socket.events("3", 4)) == await _stored(actors, tenant, "alice")
        assert await socket.quiet("2") == []
        assert await socket.quiet("3") == []


async def test_replay_and_live_meet_with_no_gap_and_no_duplicate(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    journeys = [await _journey_id(actors, tenant) for _ in range(12)]
    alice = actors.user(tenant, "alice")
    first = await _start(alice, journeys[0][0])
    after = (await _stored(actors, tenant, "alice"))[-1][0]
    await _transition(alice, SUSPEND, first)
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        # Subscribing while the user keeps changing things: the seam falls somewhere in the middle.
        writes = asyncio.gather(*(_start(alice, journey_id) for journey_id, _ in journeys[1:]))
        await socket.subscribe("1", USER_EVENTS, {"after": after})
        await writes
        expected = [pair for pair in await _stored(actors, tenant, "alice") if int(pair[0]) > int(after)]
        assert len(expected) == 12
        assert _pairs(await socket.events("1", len(expected))) == expected
        assert await socket.quiet("1") == []


async def test_other_users_and_other_tenants_events_never_arrive(actors: Actors, server: LiveServer) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    journey_id, _ = await _journey_id(actors, tenant)
    other_journey_id, _ = await _journey_id(actors, other_tenant)
    channel = await _channel(actors.user(tenant, "alice"))
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        await _subscribed(server, socket, "1", USER_EVENTS, channel, after="0")
        # Same tenant, another user; another tenant, a user with the same external id.
        await _start(actors.user(tenant, "bob"), journey_id)
        await _start(actors.user(other_tenant, "alice"), other_journey_id)
        await _start(actors.user(tenant, "alice"), journey_id)
        (only,) = await socket.events("1", 1)
        assert _pairs([only]) == await _stored(actors, tenant, "alice")
        assert await socket.quiet("1") == []


# ---------------------------------------------------------------- admin events


async def test_admin_events_are_forbidden_to_users(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with graphql_socket(actors.http, actors.token(tenant, "alice")) as socket:
        await socket.subscribe("1", ADMIN_EVENTS)
        message = await socket.message("1")
        assert message["type"] == "next"
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["FORBIDDEN"]
        assert await socket.message("1") == {"id": "1", "type": "complete"}


async def test_admins_receive_the_tenant_s_events_filtered_by_user_and_type(actors: Actors, server: LiveServer) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    journey_id, _ = await _journey_id(actors, tenant)
    other_journey_id, _ = await _journey_id(actors, other_tenant)
    alice, bob = actors.user(tenant, "alice"), actors.user(tenant, "bob")
    viewer = (await alice.data(VIEWER))["viewer"]
    admin = actors.admin(tenant)
    admin_channel, nobody = f"admin:{tenant.id}", f"user:{tenant.id}:{uuid.UUID(int=0)}"
    async with graphql_socket(actors.http, actors.token(tenant, "ada", role=Role.ADMIN)) as socket:
        await _subscribed(server, socket, "all", ADMIN_EVENTS, admin_channel)
        # A user's events are their channel's: the filtered subscription listens there.
        await _subscribed(server, socket, "alice", ADMIN_EVENTS, viewer["channelName"], userId=viewer["id"])
        started = ["journey.started", "journey.created"]
        await _subscribed(server, socket, "started", ADMIN_EVENTS, admin_channel, types=started)
        await _subscribed(server, socket, "nobody", ADMIN_EVENTS, nobody, userId="not-an-id")
        instance_id = await _start(alice, journey_id)
        await _start(bob, journey_id)
        await _transition(alice, SUSPEND, instance_id)
        created = await mutate(
            admin, 'mutation { createJourney(input: {slug: "fresh", title: "Fresh"}) { errors { code } } }', {}
        )
        assert created["errors"] == []
        await _start(actors.user(other_tenant, "alice"), other_journey_id)

        stored = await _stored(actors, tenant)
        since_subscribed = stored[-4:]
        assert [t for _, t in since_subscribed] == [
            "journey.started",
            "journey.started",
            "journey.suspended",
            "journey.created",
        ]
        everything = await socket.events("all", 4)
        assert _pairs(everything) == since_subscribed
        assert everything[-1]["userId"] is None  # catalogue authoring is tenant-wide
        assert _pairs(await socket.events("alice", 2)) == await _stored(actors, tenant, "alice")
        assert [e["type"] for e in await socket.events("started", 3)] == [*started[:1], *started]
        for operation in ("all", "alice", "started", "nobody"):
            assert await socket.quiet(operation, 0.2) == [], operation


async def test_after_must_be_an_event_id(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with graphql_socket(actors.http, actors.token(tenant, "ada", role=Role.ADMIN)) as socket:
        for n, after in enumerate(["-1", "abc", "1.5", " 1", "", "١٢", "9" * 20]):
            for query in (USER_EVENTS, ADMIN_EVENTS):
                operation = f"{n}-{len(query)}"
                await socket.subscribe(operation, query, {"after": after})
                message = await socket.message(operation)
                assert message["type"] == "next", (after, message)
                errors = message["payload"]["errors"]
                assert [(e["extensions"]["code"], e["extensions"]["fields"][0]["field"]) for e in errors] == [
                    ("BAD_USER_INPUT", ["after"])
                ], after
                assert (await socket.message(operation))["type"] == "complete"


# ---------------------------------------------------------------- a client no one here wrote


async def test_the_graphql_ws_client_receives_journey_started(actors: Actors, server: LiveServer) -> None:
    node = shutil.which("node")
    assert node, f"Node.js is required for the graphql-ws client test: install node and npm, then {INSTALL_HINT}"
    for package in ("graphql-ws", "ws", "graphql"):
        assert (CONFORMANCE / "node_modules" / package / "package.json").is_file(), (
            f"the npm package {package} is missing from tests/conformance/node_modules: {INSTALL_HINT}"
        )
    event, channel = await node_subscriber_receives_journey_started(actors, server, node, "subscribe.mjs")
    assert event["type"] == "journey.started"
    assert f"user:{event['tenantId']}:{event['userId']}" == channel


async def node_subscriber_receives_journey_started(
    actors: Actors, server: LiveServer, node: str, script: str
) -> tuple[dict[str, Any], str]:
    """Run a Node.js subscriber script from tests/conformance as alice; start a journey once it is
    subscribed; return the event it printed (checked against the store) and alice's channel."""
    tenant = await actors.tenant()
    journey_id, _ = await _journey_id(actors, tenant)
    alice = actors.user(tenant, "alice")
    channel = await _channel(alice)
    process = await asyncio.create_subprocess_exec(
        node,
        str(CONFORMANCE / script),
        server.ws_url,
        actors.token(tenant, "alice"),
        cwd=CONFORMANCE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        connected = await asyncio.wait_for(process.stdout.readline(), 30)
        assert json.loads(connected or b"null") == {"connected": True}, connected
        await _joined(server.runtime.realtime, channel, 1)
        await _start(alice, journey_id)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, (out, err)
    event: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    assert (event["id"], event["type"]) == (await _stored(actors, tenant, "alice"))[0]
    return event, channel


# ---------------------------------------------------------------- the protocol's close codes


async def test_the_protocol_s_close_codes(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    # 4403: a bad credential in connection_init.
    async with aconnect_ws("/graphql", actors.http, subprotocols=[PROTOCOL]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        assert await close_code(ws) == 4403
    # 4409: a subscribe reusing the id of a subscription still running.
    channel = await _channel(actors.user(tenant))
    async with graphql_socket(actors.http, actors.token(tenant)) as socket:
        await _subscribed(server, socket, "1", USER_EVENTS, channel)
        await socket.subscribe("1", USER_EVENTS)
        assert await close_code(socket.ws) == 4409
    # 4400: a message the protocol does not know.
    async with graphql_socket(actors.http, actors.token(tenant)) as socket:
        await socket.ws.send_json({"type": "subscribe"})
        assert await close_code(socket.ws) == 4400
    # 4408: no connection_init in time (the same view, with a shorter wait, served in-process).
    view = JourneysGraphQL(create_schema(), server.runtime)
    view.connection_init_wait_timeout = timedelta(seconds=0.2)
    app = Starlette(routes=[WebSocketRoute("/graphql", view)])
    async with (
        ASGIWebSocketTransport(app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://in-process") as http,
        aconnect_ws("/graphql", http, subprotocols=[PROTOCOL]) as ws,
    ):
        assert await close_code(ws) == 4408


async def test_a_websocket_message_over_1_mib_closes_the_socket_with_1009(actors: Actors) -> None:
    tenant = await actors.tenant()
    async with graphql_socket(actors.http, actors.token(tenant)) as socket:
        padding = " " * (MAX_BODY_BYTES + 1)
        await socket.ws.send_text(f'{{"type": "ping"{padding}}}')
        assert await close_code(socket.ws) == 1009  # Message Too Big
    async with graphql_socket(actors.http, actors.token(tenant)) as socket:
        await socket.ws.send_text(f'{{"type": "ping"{" " * (MAX_BODY_BYTES - 100)}}}')  # just under: answered
        assert (await socket.ws.receive_json(timeout=10))["type"] == "pong"


async def test_an_unexpected_failure_in_connection_init_closes_with_4500(
    actors: Actors, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    # The same view on a runtime whose database is down (nothing listens on its port): the
    # viewer cannot be loaded, which is no fault of the client's credential.
    tenant = await actors.tenant()
    runtime = Runtime.create(server.runtime.settings, f"postgresql+asyncpg://journeys@127.0.0.1:{free_port()}/journeys")
    app = Starlette(routes=[WebSocketRoute("/graphql", JourneysGraphQL(create_schema(), runtime))])
    try:
        async with (
            ASGIWebSocketTransport(app) as transport,
            httpx.AsyncClient(transport=transport, base_url="http://in-process") as http,
            aconnect_ws("/graphql", http, subprotocols=[PROTOCOL]) as ws,
        ):
            credential = {"Authorization": f"Bearer {actors.token(tenant)}"}
            await ws.send_json({"type": "connection_init", "payload": credential})
            assert await close_code(ws) == 4500
    finally:
        await runtime.close()
    (record,) = [r for r in caplog.records if "websocket message" in r.getMessage()]
    assert "'connection_init'" in record.getMessage() and record.exc_info is not None


async def test_a_socket_closes_with_4403_when_its_token_expires(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    journey_id, _ = await _journey_id(actors, tenant)
    alice = actors.user(tenant, "alice")
    channel = await _channel(alice)
    token = actors.token(tenant, "alice", ttl_seconds=3)
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    async with graphql_socket(actors.http, token) as socket:
        # until it expires, the subscription works
        await _subscribed(server, socket, "1", USER_EVENTS, channel)
        await _start(alice, journey_id)
        (started,) = await socket.events("1", 1)
        assert started["type"] == "journey.started"
        # then the socket is closed, not left delivering on an expired credential
        code, reason = await closed(socket.ws)
        assert (code, reason) == (4403, "Credential expired")
        assert time.time() >= expires_at - 0.05


async def test_a_socket_closes_with_4403_when_its_api_key_is_revoked(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with actors.db() as session:
        _kept, kept_secret = await create_api_key(session, tenant_id=tenant.id, name="kept")
        revoked, revoked_secret = await create_api_key(session, tenant_id=tenant.id, name="revoked")
    # The same view, checking keys every 0.1 s (60 s by default), served in-process.
    view = JourneysGraphQL(create_schema(), server.runtime)
    view.credential_check_interval = 0.1
    app = Starlette(routes=[WebSocketRoute("/graphql", view)])
    async with (
        ASGIWebSocketTransport(app) as transport,
        httpx.AsyncClient(transport=transport, base_url="http://in-process") as http,
        graphql_socket(http, kept_secret) as kept_socket,
        graphql_socket(http, revoked_secret) as revoked_socket,
    ):
        for socket in (kept_socket, revoked_socket):
            await socket.subscribe("1", ADMIN_EVENTS)
        assert await revoked_socket.quiet("1", 0.5) == []  # several checks pass while the key is valid
        async with actors.db() as session:
            await revoke_api_key(session, tenant_id=tenant.id, key_id=revoked.id)
        assert await closed(revoked_socket.ws, within=5) == (4403, "Credential revoked")
        # the other key's socket stays open
        await kept_socket.ws.send_json({"type": "ping"})
        assert (await kept_socket.ws.receive_json(timeout=5))["type"] == "pong"


# ---------------------------------------------------------------- the delivery machinery itself


@pytest.fixture
async def realtime(server: LiveServer) -> AsyncIterator[Realtime]:
    """A second, separate delivery on the test database (wake-ups in memory, a quick sweep, small inboxes)."""
    broadcast = create_broadcast("memory://", database_url=str(server.runtime.engine.url))
    delivery = Realtime(sessions=server.runtime.sessions, broadcast=broadcast, sweep_interval=0.1, inbox_limit=5)
    await delivery.start()
    yield delivery
    await delivery.stop()


async def _commit(server: LiveServer, tenant: Tenant, user_id: uuid.UUID, count: int) -> list[CommittedEvent]:
    async with transaction(server.runtime.sessions) as session:
        for n in range(count):
            record_event(session, tenant_id=tenant.id, user_id=user_id, type=EventType.XP_AWARDED, data={"n": n})
    return take_committed(session)


async def _collect(stream: AsyncIterator[StoredEvent], count: int) -> list[int]:
    return [(await asyncio.wait_for(anext(stream), 10)).id for _ in range(count)]


async def test_a_subscriber_that_falls_behind_catches_up_from_the_store(
    actors: Actors, server: LiveServer, realtime: Realtime
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant, "alice")
    channel = f"user:{tenant.id}:{user.id}"
    slow, fast = realtime.subscribe(channel, after=None), realtime.subscribe(channel, after=None)
    first_slow, first_fast = asyncio.ensure_future(anext(slow)), asyncio.ensure_future(anext(fast))
    await _joined(realtime, channel, 2)
    committed = await _commit(server, tenant, user.id, 30)  # six times the inbox
    realtime.announce(committed)
    ids = [c.id for c in committed]
    assert [(await first_fast).id, *await _collect(fast, 29)] == ids
    assert [(await first_slow).id, *await _collect(slow, 29)] == ids
    # Both are live again afterwards, on the one hub.
    more = await _commit(server, tenant, user.id, 3)
    realtime.announce(more)
    assert await _collect(slow, 3) == await _collect(fast, 3) == [c.id for c in more]
    assert len(realtime.hubs[channel].inboxes) == 2
    await slow.aclose()
    await fast.aclose()
    assert channel not in realtime.hubs  # the hub goes with its last subscriber


async def test_the_sweep_delivers_events_nobody_announced(
    actors: Actors, server: LiveServer, realtime: Realtime
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant, "alice")
    mine, admin = (
        realtime.subscribe(f"user:{tenant.id}:{user.id}", after=None),
        realtime.subscribe(f"admin:{tenant.id}", after=None),
    )
    first_mine, first_admin = asyncio.ensure_future(anext(mine)), asyncio.ensure_future(anext(admin))
    await _joined(realtime, f"admin:{tenant.id}", 1)
    await _joined(realtime, f"user:{tenant.id}:{user.id}", 1)
    # Committed with no wake-up at all (a lost publish, or a process that died right after its commit).
    ids = [c.id for c in await _commit(server, tenant, user.id, 3)]
    assert [(await asyncio.wait_for(first_mine, 5)).id, *await _collect(mine, 2)] == ids
    assert [(await asyncio.wait_for(first_admin, 5)).id, *await _collect(admin, 2)] == ids
    await mine.aclose()
    await admin.aclose()


async def test_events_past_the_retention_are_pruned(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with actors.db() as session:
        for days in (8, 6, 0):
            await session.execute(
                text(
                    "INSERT INTO outbox_events (tenant_id, type, data, occurred_at) "
                    "VALUES (:t, 'journey.created', '{}', now() - make_interval(days => :d))"
                ),
                {"t": tenant.id, "d": days},
            )
    assert await server.runtime.realtime.prune() == 1
    async with actors.db() as session:
        ages = (
            await session.execute(
                text("SELECT extract(day FROM now() - occurred_at)::int FROM outbox_events ORDER BY id")
            )
        ).scalars()
        assert list(ages) == [6, 0]
