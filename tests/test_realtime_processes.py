"""Realtime across real server processes on one database: a mutation served by one process
reaches a subscriber on another, through the PostgreSQL and the Redis broadcast, and nothing is
lost or duplicated when the broadcast's connection dies mid-stream.

The processes run with the periodic sweep effectively off, so every delivery here comes from
a broadcast wake-up or from the resync a backend sends after it reconnects: the safety net of
the sweep cannot hide a broken backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.graphql.relay import to_global_id
from app.realtime.pgbroadcast import LISTEN_APPLICATION_NAME
from app.tenancy.models import Tenant
from tests.catalog_support import mutate
from tests.conftest import Actors, GraphQLClient
from tests.process_support import ServerProcess, process_directory, process_environment, server_process
from tests.progress_support import make_journey
from tests.realtime_support import running_redis
from tests.subscription_support import USER_EVENTS, GraphQLSocket, graphql_socket

Outage = Callable[[], Awaitable[None]]
NO_SWEEP = 3600.0
# A server process: the real app under uvicorn, with the given sweep interval.
LAUNCH = """
import sys, uvicorn
from app.main import create_app
app = create_app()
app.state.runtime.realtime.sweep_interval = float(sys.argv[2])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", timeout_graceful_shutdown=5)
"""
LAUNCH_ARGUMENTS = ("-c", LAUNCH, "{port}", str(NO_SWEEP))
START_JOURNEY = "mutation S($j: ID!) { startJourney(journeyId: $j) { instance { id } errors { code } } }"


@asynccontextmanager
async def two_processes(
    migrated: str, settings: Settings, broadcast_url: str
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    environment = process_environment(migrated, settings, BROADCAST_URL=broadcast_url)
    directory = process_directory(settings, "processes-")
    async with (
        server_process(LAUNCH_ARGUMENTS, environment, directory, "a") as first,
        server_process(LAUNCH_ARGUMENTS, environment, directory, "b") as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
async def postgres_pair(migrated: str, settings: Settings) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    async with two_processes(migrated, settings, "postgres://") as pair:
        yield pair


@pytest.fixture(scope="module")
async def redis_pair(migrated: str, settings: Settings) -> AsyncIterator[Any]:
    async with running_redis() as redis, two_processes(migrated, settings, redis.url) as pair:
        yield redis, pair


# ---------------------------------------------------------------- helpers


async def _journeys(actors: Actors, tenant: Tenant, count: int) -> list[str]:
    return [to_global_id("Journey", (await make_journey(actors.db, tenant)).journey.id) for _ in range(count)]


async def _start(client: GraphQLClient, journey_id: str) -> None:
    payload = await mutate(client, START_JOURNEY, {"j": journey_id})
    assert payload["errors"] == [], payload


async def _alice_ids(actors: Actors, tenant: Tenant) -> list[str]:
    async with actors.db() as session:
        rows = await session.execute(
            text(
                "SELECT e.id FROM outbox_events e JOIN users u ON u.id = e.user_id "
                "WHERE e.tenant_id = :t AND u.external_id = 'alice' ORDER BY e.id"
            ),
            {"t": tenant.id},
        )
        return [str(i) for i in rows.scalars()]


async def _live(socket: GraphQLSocket, alice: GraphQLClient, journeys: list[str]) -> str:
    """Subscribe (live events only) and start journeys until one arrives: from then on the
    subscription is live on the other process. The id of the event that arrived."""
    await socket.subscribe("1", USER_EVENTS)
    for journey_id in journeys:
        await _start(alice, journey_id)
        received = await socket.quiet("1", 1.0)
        if received:
            assert received[0]["type"] == "next", received
            event_id: str = received[0]["payload"]["data"]["userEvents"]["id"]
            return event_id
    raise AssertionError("the subscription never went live")


async def _received_ids(socket: GraphQLSocket, expected: int) -> list[str]:
    return [e["id"] for e in await socket.events("1", expected, within=20)]


async def _cross_process_delivery(actors: Actors, writer: ServerProcess, reader: ServerProcess) -> None:
    tenant = await actors.tenant()
    journeys = await _journeys(actors, tenant, 15)
    async with (
        httpx.AsyncClient(base_url=writer.url, timeout=30) as http_a,
        httpx.AsyncClient(base_url=reader.url, timeout=30) as http_b,
    ):
        alice = GraphQLClient(http_a, actors.token(tenant, "alice"))
        async with graphql_socket(http_b, actors.token(tenant, "alice")) as socket:
            first = await _live(socket, alice, journeys[:10])
            used = len(await _alice_ids(actors, tenant))
            for journey_id in journeys[used : used + 5]:
                await _start(alice, journey_id)
            stored = await _alice_ids(actors, tenant)
            expected = stored[stored.index(first) + 1 :]
            assert len(expected) == 5
            assert await _received_ids(socket, len(expected)) == expected
            assert await socket.quiet("1", 0.3) == []


async def _nothing_lost_around(
    actors: Actors, writer: ServerProcess, reader: ServerProcess, *, cut: Outage, restore: Outage
) -> None:
    """30 mutations on ``writer``: 10 while the reader's subscription is live, 15 while its wake-ups are
    cut off, 5 after they are restored. The subscriber gets each once, in order."""
    tenant = await actors.tenant()
    journeys = await _journeys(actors, tenant, 40)
    async with (
        httpx.AsyncClient(base_url=writer.url, timeout=30) as http_a,
        httpx.AsyncClient(base_url=reader.url, timeout=30) as http_b,
    ):
        alice = GraphQLClient(http_a, actors.token(tenant, "alice"))
        async with graphql_socket(http_b, actors.token(tenant, "alice")) as socket:
            first = await _live(socket, alice, journeys[:10])
            used = len(await _alice_ids(actors, tenant))
            before, during, after = (
                journeys[used : used + 10],
                journeys[used + 10 : used + 25],
                journeys[used + 25 : used + 30],
            )
            for journey_id in before:
                await _start(alice, journey_id)
            received = await _received_ids(socket, 10)
            await cut()
            try:
                for journey_id in during:  # one at a time: no new database connections are needed meanwhile
                    await _start(alice, journey_id)
                # Their wake-ups are gone (and the sweep is off): nothing arrives until the broadcast is back.
                assert await socket.quiet("1", 0.5) == []
            finally:
                await restore()
            received += await _received_ids(socket, 15)
            for journey_id in after:
                await _start(alice, journey_id)
            received += await _received_ids(socket, 5)
            stored = await _alice_ids(actors, tenant)
            assert received == stored[stored.index(first) + 1 :]
            assert len(received) == len(set(received)) == 30
            assert await socket.quiet("1", 0.5) == []


# ---------------------------------------------------------------- PostgreSQL broadcast


async def test_postgres_a_mutation_on_one_process_reaches_a_subscriber_on_the_other(
    actors: Actors, postgres_pair: tuple[ServerProcess, ServerProcess]
) -> None:
    first, second = postgres_pair
    await _cross_process_delivery(actors, first, second)
    await _cross_process_delivery(actors, second, first)


async def test_postgres_listener_killed_mid_stream_loses_and_duplicates_nothing(
    actors: Actors, migrated: str, postgres_pair: tuple[ServerProcess, ServerProcess]
) -> None:
    url = make_url(migrated)
    # From the maintenance database: PostgreSQL will not close the database one is connected to.
    admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres").render_as_string(False))
    allow = f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS'

    async def kill_listeners() -> None:
        # Kill both processes' listening connections, and keep them from reconnecting for a while.
        await admin.execute(f"{allow} false")
        killed = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            LISTEN_APPLICATION_NAME,
        )
        assert len(killed) >= 2  # (at least) one listener per process

    async def allow_connections() -> None:
        await admin.execute(f"{allow} true")

    try:
        await _nothing_lost_around(actors, *postgres_pair, cut=kill_listeners, restore=allow_connections)
    finally:
        await allow_connections()
        await admin.close()


# ---------------------------------------------------------------- Redis broadcast


async def test_redis_a_mutation_on_one_process_reaches_a_subscriber_on_the_other(
    actors: Actors, redis_pair: Any
) -> None:
    _redis, (first, second) = redis_pair
    await _cross_process_delivery(actors, first, second)
    await _cross_process_delivery(actors, second, first)


async def test_redis_restarted_mid_stream_loses_and_duplicates_nothing(actors: Actors, redis_pair: Any) -> None:
    redis, pair = redis_pair
    await _nothing_lost_around(actors, *pair, cut=redis.stop, restore=redis.start)
