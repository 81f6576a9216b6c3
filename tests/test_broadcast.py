"""The broadcast backends chosen by BROADCAST_URL, against a real PostgreSQL and a real redis-server.

Each backend carries messages on `user:{uuid}:{uuid}` channels (longer than NOTIFY's 63-byte
channel names), between two Broadcast instances as two server processes would, with many
concurrent subscribes; the PostgreSQL and Redis backends come back after their listening
connection is killed or their server restarts, and say so with a RESYNC on every channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.engine import make_url

from app.realtime.broadcast import RESYNC, Broadcast, Event, Subscriber, create_broadcast
from app.realtime.pgbroadcast import (
    LISTEN_APPLICATION_NAME,
    MAX_PAYLOAD_BYTES,
    PUBLISH_APPLICATION_NAME,
    PostgresBroadcastBackend,
    connect_arguments,
)
from app.realtime.redisbroadcast import RedisBroadcastBackend
from tests.realtime_support import RedisServer, StallingProxy, running_redis

WAIT = 10.0
BACKENDS = ["memory", "postgres", "redis"]
SHARED_BACKENDS = ["postgres", "redis"]

OpenBroadcast = Callable[[str], Awaitable[Broadcast]]


def user_channel() -> str:
    channel = f"user:{uuid.uuid4()}:{uuid.uuid4()}"
    assert len(channel.encode()) == 78  # > 63: does not fit a NOTIFY channel name
    return channel


@pytest.fixture(scope="module")
async def redis_server() -> AsyncIterator[RedisServer]:
    async with running_redis() as server:
        yield server


@pytest.fixture
async def open_broadcast(migrated: str) -> AsyncIterator[OpenBroadcast]:
    """Opens connected broadcasts for a URL; all are disconnected after the test."""
    opened: list[Broadcast] = []

    async def open_(url: str) -> Broadcast:
        broadcast = create_broadcast(url, database_url=migrated)
        await broadcast.connect()
        opened.append(broadcast)
        return broadcast

    yield open_
    for broadcast in reversed(opened):
        await broadcast.disconnect()


@pytest.fixture
def broadcast_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The BROADCAST_URL of the test's backend; `postgres://` is the application's own database."""
    if backend == "memory":
        return "memory://"
    if backend == "postgres":
        return "postgres://"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


async def next_event(subscriber: Subscriber) -> Event:
    return await asyncio.wait_for(subscriber.get(), WAIT)


async def admin_connection(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(**connect_arguments("postgres://", database_url=database_url))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_round_trip_on_a_long_user_channel(open_broadcast: OpenBroadcast, broadcast_url: str) -> None:
    broadcast = await open_broadcast(broadcast_url)
    channel, other = user_channel(), user_channel()

    async with broadcast.subscribe(channel) as subscriber:
        await broadcast.publish(other, "1")
        await broadcast.publish(channel, "2")
        await broadcast.publish(channel, "3")

        assert await next_event(subscriber) == Event(channel, "2")
        assert await next_event(subscriber) == Event(channel, "3")


@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_a_publish_on_one_instance_reaches_a_subscriber_on_another(
    backend: str, open_broadcast: OpenBroadcast, broadcast_url: str, migrated: str
) -> None:
    if backend == "postgres":
        # One instance on the application's database, the other given a full URL to it.
        explicit = make_url(migrated).set(drivername="postgresql").render_as_string(hide_password=False)
        first, second = await open_broadcast("postgres://"), await open_broadcast(explicit)
    else:
        first, second = await open_broadcast(broadcast_url), await open_broadcast(broadcast_url)
    channel = user_channel()

    async with second.subscribe(channel) as remote, first.subscribe(channel) as local:
        await first.publish(channel, "17")

        assert await next_event(remote) == Event(channel, "17")
        assert await next_event(local) == Event(channel, "17")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_fifty_concurrent_subscribes_all_receive_their_messages(
    open_broadcast: OpenBroadcast, broadcast_url: str
) -> None:
    broadcast = await open_broadcast(broadcast_url)
    channels = [user_channel() for _ in range(50)]

    async with AsyncExitStack() as stack:
        subscribers = await asyncio.gather(*(stack.enter_async_context(broadcast.subscribe(c)) for c in channels))
        await asyncio.gather(*(broadcast.publish(c, str(i)) for i, c in enumerate(channels)))

        received = await asyncio.gather(*(next_event(s) for s in subscribers))
        assert received == [Event(c, str(i)) for i, c in enumerate(channels)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_concurrent_subscribers_of_one_channel_all_receive(
    open_broadcast: OpenBroadcast, broadcast_url: str
) -> None:
    broadcast = await open_broadcast(broadcast_url)
    channel = user_channel()

    async with AsyncExitStack() as stack:
        subscribers = await asyncio.gather(
            *(stack.enter_async_context(broadcast.subscribe(channel)) for _ in range(20))
        )
        await broadcast.publish(channel, "5")

        assert await asyncio.gather(*(next_event(s) for s in subscribers)) == [Event(channel, "5")] * 20

    # The last subscriber gone, a new one still gets what is published from then on.
    async with broadcast.subscribe(channel) as again:
        await broadcast.publish(channel, "6")
        assert await next_event(again) == Event(channel, "6")


async def test_postgres_refuses_a_payload_over_the_notify_limit(open_broadcast: OpenBroadcast) -> None:
    broadcast = await open_broadcast("postgres://")
    channel = user_channel()
    overhead = len(json.dumps({"c": channel, "m": ""}, separators=(",", ":")).encode())
    largest = "x" * (MAX_PAYLOAD_BYTES - overhead)

    async with broadcast.subscribe(channel) as subscriber:
        with pytest.raises(ValueError, match="too large for PostgreSQL NOTIFY"):
            await broadcast.publish(channel, largest + "x")
        await broadcast.publish(channel, largest)  # exactly at the limit: PostgreSQL takes it

        assert await next_event(subscriber) == Event(channel, largest)


async def test_postgres_listener_killed_reconnects_and_resyncs(
    open_broadcast: OpenBroadcast, migrated: str, caplog: pytest.LogCaptureFixture
) -> None:
    broadcast = await open_broadcast("postgres://")
    publisher = await open_broadcast("postgres://")
    channels = [user_channel(), user_channel()]
    admin = await admin_connection(migrated)
    try:
        async with AsyncExitStack() as stack:
            subscribers = [await stack.enter_async_context(broadcast.subscribe(c)) for c in channels]
            listening = await admin.fetch(
                "SELECT pid, query FROM pg_stat_activity WHERE application_name = $1", LISTEN_APPLICATION_NAME
            )
            # Ours (and the publisher's) are fresh: their last statement is still the LISTEN.
            assert sum(row["query"].upper().startswith("LISTEN") for row in listening) >= 2

            with caplog.at_level(logging.WARNING, logger="app.realtime"):
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                    LISTEN_APPLICATION_NAME,
                )
                assert killed >= 2

                assert [await next_event(s) for s in subscribers] == [Event(c, RESYNC) for c in channels]
            assert any("reconnected" in record.getMessage() for record in caplog.records)

            # Both instances listen again: a later publish from the other one is delivered.
            await publisher.publish(channels[0], "41")
            await publisher.publish(channels[1], "42")
            assert await next_event(subscribers[0]) == Event(channels[0], "41")
            assert await next_event(subscribers[1]) == Event(channels[1], "42")
    finally:
        await admin.close()


async def test_postgres_publisher_connection_killed_is_reopened(open_broadcast: OpenBroadcast, migrated: str) -> None:
    broadcast = await open_broadcast("postgres://")
    channel = user_channel()
    admin = await admin_connection(migrated)
    try:
        async with broadcast.subscribe(channel) as subscriber:
            await broadcast.publish(channel, "1")
            assert await next_event(subscriber) == Event(channel, "1")

            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                PUBLISH_APPLICATION_NAME,
            )
            await broadcast.publish(channel, "2")

            assert await next_event(subscriber) == Event(channel, "2")
    finally:
        await admin.close()


async def test_redis_restart_reconnects_and_resyncs() -> None:
    async with running_redis() as server:
        broadcast = create_broadcast(server.url, database_url="unused")
        await broadcast.connect()
        try:
            channel, joined_while_down = user_channel(), user_channel()
            async with AsyncExitStack() as stack:
                subscriber = await stack.enter_async_context(broadcast.subscribe(channel))

                await server.stop()
                with pytest.raises(RedisConnectionError):
                    await broadcast.publish(channel, "lost")
                late = await asyncio.wait_for(stack.enter_async_context(broadcast.subscribe(joined_while_down)), WAIT)
                await server.start()

                assert await next_event(subscriber) == Event(channel, RESYNC)
                assert await next_event(late) == Event(joined_while_down, RESYNC)

                await broadcast.publish(channel, "7")
                await broadcast.publish(joined_while_down, "8")
                assert await next_event(subscriber) == Event(channel, "7")
                assert await next_event(late) == Event(joined_while_down, "8")
        finally:
            await broadcast.disconnect()


async def test_a_silent_postgres_listener_is_found_by_the_health_check(
    open_broadcast: OpenBroadcast, migrated: str
) -> None:
    own = connect_arguments("postgres://", database_url=migrated)
    proxy = StallingProxy(unix_path=f"{own['host']}/.s.PGSQL.{own['port']}")
    await proxy.start()
    backend = PostgresBroadcastBackend(
        {**own, "host": "127.0.0.1", "port": proxy.port}, health_interval=0.2, health_timeout=0.2
    )
    broadcast = Broadcast(backend=backend)
    await broadcast.connect()
    publisher = await open_broadcast("postgres://")
    channel = user_channel()
    try:
        async with broadcast.subscribe(channel) as subscriber:
            proxy.stall()  # the connection stays open but nothing gets through any more

            assert await next_event(subscriber) == Event(channel, RESYNC)
            await publisher.publish(channel, "9")
            assert await next_event(subscriber) == Event(channel, "9")
    finally:
        await broadcast.disconnect()
        await proxy.close()


async def test_a_silent_redis_listener_is_found_by_the_health_check(
    open_broadcast: OpenBroadcast, redis_server: RedisServer
) -> None:
    proxy = StallingProxy(port=redis_server.port)
    await proxy.start()
    broadcast = Broadcast(backend=RedisBroadcastBackend(f"redis://127.0.0.1:{proxy.port}/0", health_interval=0.2))
    await broadcast.connect()
    publisher = await open_broadcast(redis_server.url)
    channel = user_channel()
    try:
        async with broadcast.subscribe(channel) as subscriber:
            proxy.stall()

            assert await next_event(subscriber) == Event(channel, RESYNC)
            await publisher.publish(channel, "9")
            assert await next_event(subscriber) == Event(channel, "9")
    finally:
        await broadcast.disconnect()
        await proxy.close()


def test_postgres_urls_become_connection_arguments() -> None:
    app_url = "postgresql+asyncpg://postgres@/journeys?host=%2Ftmp%2Fpg&port=5433"
    own = {"host": "/tmp/pg", "port": 5433, "user": "postgres", "database": "journeys"}

    assert connect_arguments("postgres://", database_url=app_url) == own
    assert connect_arguments("postgresql://", database_url=app_url) == own
    assert connect_arguments("postgresql+asyncpg://u:p@db.internal:6000/events", database_url=app_url) == {
        "host": "db.internal",
        "port": 6000,
        "user": "u",
        "password": "p",
        "database": "events",
    }
    assert connect_arguments("postgres://u@db.internal/events", database_url=app_url) == {
        "dsn": "postgres://u@db.internal/events"
    }


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="BROADCAST_URL"):
        create_broadcast("kafka://localhost", database_url="unused")
