"""Realtime delivery across a database outage (SPEC: "the service recovers by itself when the
database returns, and open subscriptions then deliver every event committed since, in order,
none lost"; "delivery that catches up from the store after any outage of the database").

Every test runs on an embedded PostgreSQL of this module's own (tests/outage_support.py), which
it stops with a fast shutdown and starts again. The first test does it under a real `journeys
serve` process with the PostgreSQL broadcast, whose LISTEN connection dies with the database;
the others pin down, on one delivery in this process with the periodic sweep off, each way
delivery could otherwise stall: a hub whose read failed, a sweep whose look-back window the
outage outlasted, a subscription replaying the store, a wake-up that could not be published,
and a read on a connection that never answers.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from broadcaster._backends.memory import MemoryBackend
from sqlalchemy import text

from app.config import Settings
from app.db import SessionFactory, create_engine, create_session_factory, ensure_database, transaction
from app.graphql.relay import to_global_id
from app.migrate import upgrade_to_head_async
from app.realtime.broadcast import Broadcast
from app.realtime.delivery import Realtime
from app.realtime.hub import READ_BATCH
from app.realtime.outbox import CommittedEvent
from app.realtime.store import StoredEvent, user_channel
from app.tenancy.credentials import Role, mint_user_token
from app.tenancy.models import Tenant, User
from app.tenancy.service import create_tenant, get_or_create_user
from tests.outage_support import (
    EmbeddedDatabase,
    collecting,
    commit_events,
    stored_ids,
    until_delivered,
    user_id_of,
)
from tests.process_support import ServerProcess, process_directory, process_environment, server_process
from tests.progress_support import make_journey
from tests.subscription_support import ADMIN_EVENTS, USER_EVENTS, graphql_socket

SERVE = ("-m", "app.cli", "serve", "--port", "{port}")
START_JOURNEY = "mutation S($j: ID!) { startJourney(journeyId: $j) { instance { id } errors { code } } }"
VIEWER = "query V { viewer { id } }"
OUTAGE_SECONDS = 4.0  # longer than the sweep interval (2 s): sweeps fail during it too
DELIVERY_TIMEOUT = 30.0
NO_SWEEP = 3600.0


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[EmbeddedDatabase]:
    directory = Path(tempfile.mkdtemp(prefix="journeys-outage-"))
    try:
        own = EmbeddedDatabase(directory)
        try:
            await ensure_database(own.url)
            await upgrade_to_head_async(own.url)
            yield own
        finally:
            own.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def sessions(database: EmbeddedDatabase) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database.url, pool_size=4, max_overflow=4)
    try:
        yield create_session_factory(engine)
    finally:
        if not database.running:  # a failed test must not leave the next one without a database
            await database.start()
        await engine.dispose()


@pytest.fixture
def memory_broadcast() -> Iterator[Broadcast]:
    yield Broadcast(backend=MemoryBackend("memory://"))


async def _tenant_and_user(sessions: SessionFactory) -> tuple[Tenant, User]:
    async with transaction(sessions) as session:
        tenant = await create_tenant(session, slug=f"t-{uuid.uuid4().hex[:10]}", name="Outage", timezone="UTC")
        user = await get_or_create_user(session, tenant_id=tenant.id, external_id="alice")
    return tenant, user


async def _joined(realtime: Realtime, channel: str) -> None:
    for _ in range(1000):
        hub = realtime.hubs.get(channel)
        if hub is not None and hub.inboxes:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no subscription of {channel} joined within 10 s")


async def _close(stream: AsyncIterator[StoredEvent]) -> None:
    await cast(AsyncGenerator[StoredEvent, None], stream).aclose()


async def _next(stream: AsyncIterator[StoredEvent], within: float = 15) -> int:
    return (await asyncio.wait_for(anext(stream), within)).id


# ---------------------------------------------------------------- a real server process


async def _post(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


@asynccontextmanager
async def _showing_log(process: ServerProcess) -> AsyncIterator[None]:
    """A failed assertion shows the end of the server's log too."""
    try:
        yield
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n--- server log ---\n{process.output()}") from failure


async def _start_journey(http: httpx.AsyncClient, token: str, journey_id: str) -> None:
    response = await _post(http, token, START_JOURNEY, {"j": journey_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body and body["data"]["startJourney"]["errors"] == [], body


async def test_open_subscriptions_of_a_server_deliver_every_event_across_a_database_restart(
    database: EmbeddedDatabase, sessions: SessionFactory, settings: Settings
) -> None:
    db = lambda: transaction(sessions)  # noqa: E731 - the factories take a session scope
    async with transaction(sessions) as session:
        tenant = await create_tenant(session, slug=f"t-{uuid.uuid4().hex[:10]}", name="Outage", timezone="UTC")
    journeys = [to_global_id("Journey", (await make_journey(db, tenant)).journey.id) for _ in range(12)]
    alice = mint_user_token(settings, tenant_slug=tenant.slug, subject="alice", role=Role.USER)
    admin = mint_user_token(settings, tenant_slug=tenant.slug, subject="admin", role=Role.ADMIN)
    environment = process_environment(database.url, settings, BROADCAST_URL="postgres://")
    directory = process_directory(settings, "outage-")
    during: list[httpx.Response] = []
    async with (
        server_process(SERVE, environment, directory, "serve") as process,
        _showing_log(process),
        httpx.AsyncClient(base_url=process.url, timeout=30) as http,
        graphql_socket(http, alice) as user_socket,
        graphql_socket(http, admin) as admin_socket,
    ):
        await _start_journey(http, alice, journeys[0])  # alice exists, and has events
        alice_id = await user_id_of(sessions, tenant.id, "alice")
        # From the first event on, so the store's ids are exactly what each must deliver.
        await user_socket.subscribe("1", USER_EVENTS, {"after": "0"})
        await admin_socket.subscribe("1", ADMIN_EVENTS, {"after": "0"})
        async with collecting(user_socket) as user_events, collecting(admin_socket) as admin_events:

            async def all_delivered() -> None:
                await until_delivered(
                    [
                        (user_events, await stored_ids(sessions, tenant.id, alice_id)),
                        (admin_events, await stored_ids(sessions, tenant.id, None)),
                    ],
                    DELIVERY_TIMEOUT,
                )

            for journey_id in journeys[1:4]:
                await _start_journey(http, alice, journey_id)
            await all_delivered()

            # The database stops while mutations keep coming (some commit just before it goes).
            stopping = asyncio.create_task(database.stop())
            for journey_id in journeys[4:8]:
                with suppress(httpx.TransportError):
                    await _post(http, alice, START_JOURNEY, {"j": journey_id})
            await stopping
            loop = asyncio.get_running_loop()
            back_at = loop.time() + OUTAGE_SECONDS
            while loop.time() < back_at:
                during.append(await _post(http, alice, VIEWER, {}))
                during.append(await _post(http, alice, START_JOURNEY, {"j": journeys[8]}))
                await asyncio.sleep(0.2)
            await database.start()

            # Right after recovery: the first mutation that goes through commits events.
            deadline = loop.time() + DELIVERY_TIMEOUT
            while True:
                response = await _post(http, alice, START_JOURNEY, {"j": journeys[9]})
                if response.status_code == 200 and "errors" not in response.json():
                    break
                assert loop.time() < deadline, f"no recovery: {response.text}\n{process.output()}"
                await asyncio.sleep(0.1)
            for journey_id in journeys[10:12]:
                await _start_journey(http, alice, journey_id)
            await all_delivered()
            await asyncio.sleep(0.5)  # and nothing more arrives: no duplicate
        user_expected = await stored_ids(sessions, tenant.id, alice_id)
        admin_expected = await stored_ids(sessions, tenant.id, None)
        assert user_events.ids() == user_expected
        assert admin_events.ids() == admin_expected
        assert len(user_expected) >= 7 and set(user_expected) < set(admin_expected)
        viewer = await _post(http, alice, VIEWER, {})
        assert viewer.status_code == 200 and "errors" not in viewer.json(), viewer.text
        assert process.process.returncode is None

    # While the database was down, requests were answered 503 TEMPORARILY_UNAVAILABLE with Retry-After.
    assert during
    for response in during:
        assert response.status_code == 503, (response.status_code, response.text)
        assert response.json()["errors"][0]["extensions"]["code"] == "TEMPORARILY_UNAVAILABLE", response.text
        assert response.headers.get("Retry-After"), response.headers


# ---------------------------------------------------------------- the delivery machinery itself


async def test_a_hub_whose_read_failed_reads_again_by_itself_once_the_database_is_back(
    database: EmbeddedDatabase, sessions: SessionFactory, memory_broadcast: Broadcast
) -> None:
    realtime = Realtime(sessions=sessions, broadcast=memory_broadcast, sweep_interval=NO_SWEEP)
    await realtime.start()
    try:
        tenant, user = await _tenant_and_user(sessions)
        channel = user_channel(tenant.id, user.id).name
        stream = realtime.subscribe(channel, after=None)
        first = asyncio.ensure_future(anext(stream))
        await _joined(realtime, channel)
        before = await commit_events(sessions, tenant.id, user.id)
        realtime.announce(before)
        assert (await asyncio.wait_for(first, 10)).id == before[0].id
        # Committed just before the outage; its wake-up is handled while the database is down.
        owed = await commit_events(sessions, tenant.id, user.id)
        await database.stop()
        realtime.announce(owed)
        await asyncio.sleep(0.5)  # the hub's read fails meanwhile
        await database.start()
        # No sweep, no further wake-up: the hub alone must read again.
        assert await _next(stream) == owed[0].id
        await _close(stream)
    finally:
        await realtime.stop()


async def test_the_sweep_after_an_outage_looks_back_to_the_last_sweep_that_succeeded(
    database: EmbeddedDatabase, sessions: SessionFactory, memory_broadcast: Broadcast
) -> None:
    window = timedelta(seconds=1)
    realtime = Realtime(sessions=sessions, broadcast=memory_broadcast, sweep_interval=NO_SWEEP, sweep_window=window)
    await realtime.start()
    try:
        tenant, user = await _tenant_and_user(sessions)
        channel = user_channel(tenant.id, user.id).name
        stream = realtime.subscribe(channel, after=None)
        first = asyncio.ensure_future(anext(stream))
        await _joined(realtime, channel)
        await realtime.sweep()
        # Committed, but its wake-up never sent (its process died, or never learnt it committed).
        lost = await commit_events(sessions, tenant.id, user.id)
        await database.stop()
        with suppress(Exception):
            await realtime.sweep()
        await asyncio.sleep(window.total_seconds() * 1.5)  # the outage outlasts the sweep's window
        await database.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while not first.done() and loop.time() < deadline:
            with suppress(Exception):  # (the pool's first connection after the restart may fail)
                await realtime.sweep()
            await asyncio.sleep(0.2)
        assert (await asyncio.wait_for(first, 1)).id == lost[0].id
        await _close(stream)
    finally:
        await realtime.stop()


async def test_a_subscription_replaying_the_store_outlives_an_outage(
    database: EmbeddedDatabase, sessions: SessionFactory, memory_broadcast: Broadcast
) -> None:
    realtime = Realtime(sessions=sessions, broadcast=memory_broadcast, sweep_interval=NO_SWEEP)
    await realtime.start()
    try:
        tenant, user = await _tenant_and_user(sessions)
        committed = await commit_events(sessions, tenant.id, user.id, count=READ_BATCH + 20)
        stream = realtime.subscribe(user_channel(tenant.id, user.id).name, after=0)
        received = [await _next(stream)]  # the replay's first batch is read
        await database.stop()

        async def restart() -> None:
            await asyncio.sleep(1.0)
            await database.start()

        restarting = asyncio.create_task(restart())
        # The rest of the batch, then the next read while the database is down: retried, not raised.
        received += [await _next(stream, 30) for _ in committed[1:]]
        await restarting
        assert received == [c.id for c in committed]
        # And it is live on the hub afterwards.
        later = await commit_events(sessions, tenant.id, user.id)
        realtime.announce(later)
        assert await _next(stream) == later[0].id
        await _close(stream)
    finally:
        await realtime.stop()


class FlakyBroadcast(Broadcast):
    """A memory broadcast whose first ``failures`` publishes fail, as they do while its server is down."""

    def __init__(self, failures: int) -> None:
        super().__init__(backend=MemoryBackend("memory://"))
        self.failures = failures

    async def publish(self, channel: str, message: Any) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("the broadcast server is down")
        await super().publish(channel, message)


async def test_a_wake_up_that_could_not_be_published_is_sent_again(sessions: SessionFactory) -> None:
    broadcast = FlakyBroadcast(failures=3)
    realtime = Realtime(sessions=sessions, broadcast=broadcast, sweep_interval=NO_SWEEP)
    await realtime.start()
    try:
        tenant_id = uuid.uuid4()
        async with broadcast.subscribe(f"admin:{tenant_id}") as subscriber:
            realtime.announce([CommittedEvent(id=7, tenant_id=tenant_id, user_id=None, type="journey.created")])
            event = await asyncio.wait_for(subscriber.get(), 15)
        assert event.message == "7"
        assert broadcast.failures == 0
    finally:
        await realtime.stop()


async def test_a_read_that_gets_no_answer_gives_up_in_time(
    sessions: SessionFactory, memory_broadcast: Broadcast
) -> None:
    realtime = Realtime(sessions=sessions, broadcast=memory_broadcast, sweep_interval=NO_SWEEP)
    realtime.read_timeout = 0.5
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TimeoutError):
        async with realtime.read() as session:
            await session.execute(text("SELECT pg_sleep(3)"))
    assert loop.time() - began < 2.5
