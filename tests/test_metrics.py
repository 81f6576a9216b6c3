"""Metrics (app/metrics.py): one scrape of `journeys serve --workers 2` adds up every worker;
operations are counted by name and outcome, with bounded names; the websocket, subscription,
delivery-lag, Ably-backlog and pool metrics move as they should."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.metrics import MAX_OPERATION_NAME_LENGTH, REGISTRY, OperationNames
from app.realtime.ably import AblyMirror
from app.realtime.outbox import EventType, record_event
from app.tenancy.credentials import Role
from tests.catalog_support import create_journey
from tests.conftest import Actors, LiveServer
from tests.process_support import process_directory, process_environment, server_process
from tests.subscription_support import ADMIN_EVENTS, USER_EVENTS, graphql_socket

SERVE = ("-m", "app.cli", "serve", "--port", "{port}", "--workers", "2")
N = 40
PROBE = "query MetricsProbe { __typename }"
GRAPHQL_2XX = {"route": "/graphql", "status": "2xx"}
PROBE_OK = {"operation": "MetricsProbe", "type": "query", "outcome": "ok"}


def sample(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The value of one sample in an exposition (0 when it is absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == (labels or {}):
                return float(s.value)
    return 0.0


def local(name: str, labels: dict[str, str] | None = None) -> float:
    """The value of one sample in this process's registry (0 when it is absent)."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def eventually(check: Any, within: float = 10.0) -> None:
    """Wait until ``await check()`` is true."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- two worker processes


def _metrics_directory(parent: int) -> Path:
    """The PROMETHEUS_MULTIPROC_DIR that `journeys serve` (pid ``parent``) gave its workers."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for child in children:
        for entry in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return Path(entry.split(b"=", 1)[1].decode())
    raise AssertionError(f"no worker of {parent} has PROMETHEUS_MULTIPROC_DIR")


def _per_worker(directory: Path, kind: str, name: str, labels: dict[str, str]) -> dict[int, float]:
    """One sample's value in each worker's own file (``kind``: counter, gauge_livesum …)."""
    values = {}
    for path in directory.glob(f"{kind}_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        values[pid] = 0.0
        for metric in MultiProcessCollector.merge([str(path)]):
            for s in metric.samples:
                if s.name == name and {k: v for k, v in s.labels.items() if k != "pid"} == labels:
                    values[pid] += s.value
    return values


async def test_one_scrape_adds_up_every_worker(actors: Actors, migrated: str, settings: Settings) -> None:
    tenant = await actors.tenant()
    environment = process_environment(migrated, settings)
    directory = process_directory(settings, "metrics-")
    async with server_process(SERVE, environment, directory, "serve") as server:
        metrics_dir = _metrics_directory(server.process.pid)
        assert metrics_dir.is_dir()

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=server.url) as http:  # a fresh connection each time
                response = await http.post("/graphql", json={"query": PROBE})
                assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}

        # N requests, a few at a time on fresh connections, so both workers serve some
        for start in range(0, N, 4):
            await asyncio.gather(*(probe() for _ in range(start, min(N, start + 4))))
        served = _per_worker(metrics_dir, "counter", "journeys_http_requests_total", GRAPHQL_2XX)
        assert len(served) == 2 and all(count > 0 for count in served.values()), served

        async with httpx.AsyncClient(base_url=server.url) as http:

            async def scrape() -> str:
                response = await http.get("/metrics")
                assert response.status_code == 200
                return response.text

            # one scrape, whichever worker answers it, sees all N
            text = await scrape()
            assert sample(text, "journeys_http_requests_total", GRAPHQL_2XX) == N
            assert sample(text, "journeys_graphql_operations_total", PROBE_OK) == N
            assert (
                sample(text, "journeys_graphql_operation_seconds_count", {"operation": "MetricsProbe", "type": "query"})
                == N
            )
            assert sample(text, "journeys_websockets_open") == 0

            # an open websocket (on either worker) counts while it is open
            async with graphql_socket(http, actors.token(tenant)) as socket:
                await socket.subscribe("1", USER_EVENTS)
                assert await socket.quiet("1", 0.3) == []
                text = await scrape()
                assert sample(text, "journeys_websockets_open") == 1
                assert sample(text, "journeys_subscriptions_active") == 1
            await eventually(lambda: _gauges_are(scrape, 0))

            # a worker that dies leaves its counts but not its gauges (the supervisor marks it dead)
            async with graphql_socket(http, actors.token(tenant)):
                holders = _per_worker(metrics_dir, "gauge_livesum", "journeys_websockets_open", {})
                (holder,) = [pid for pid, value in holders.items() if value == 1]
                os.kill(holder, signal.SIGKILL)
                await eventually(lambda: _gauges_are(scrape, 0), within=20)
            text = await scrape()
            assert sample(text, "journeys_http_requests_total", GRAPHQL_2XX) == N
            assert sample(text, "journeys_graphql_operations_total", PROBE_OK) == N

        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), 20) == 0
    assert not metrics_dir.exists()  # `journeys serve` removes the directory it made


async def _gauges_are(scrape: Any, value: float) -> bool:
    text = await scrape()
    return sample(text, "journeys_websockets_open") == value and sample(text, "journeys_subscriptions_active") == value


# ---------------------------------------------------------------- in one process


async def test_operations_are_counted_by_name_and_outcome(actors: Actors, client: httpx.AsyncClient) -> None:
    tenant = await actors.tenant()
    refused = {"operation": "WhoAmI", "type": "query", "outcome": "UNAUTHENTICATED"}
    ok = {**refused, "outcome": "ok"}
    broken = {"operation": "anonymous", "type": "unknown", "outcome": "BAD_USER_INPUT"}
    before = {
        name: local("journeys_graphql_operations_total", labels)
        for name, labels in [("refused", refused), ("ok", ok), ("broken", broken)]
    }
    timed = local("journeys_graphql_operation_seconds_count", {"operation": "WhoAmI", "type": "query"})

    assert await actors.anonymous().error_codes("query WhoAmI { viewer { id } }") == ["UNAUTHENTICATED"]
    await actors.user(tenant).data("query WhoAmI { viewer { id } }")
    assert await actors.user(tenant).error_codes("query {") == ["BAD_USER_INPUT"]

    assert local("journeys_graphql_operations_total", refused) == before["refused"] + 1
    assert local("journeys_graphql_operations_total", ok) == before["ok"] + 1
    assert local("journeys_graphql_operations_total", broken) == before["broken"] + 1
    assert local("journeys_graphql_operation_seconds_count", {"operation": "WhoAmI", "type": "query"}) == timed + 2
    text = (await client.get("/metrics")).text
    assert sample(text, "journeys_graphql_operations_total", refused) == before["refused"] + 1


def test_operation_names_are_bounded() -> None:
    names = OperationNames(limit=2)
    assert [names.label(n) for n in ["A", "B", "C", "A", None, ""]] == [
        "A",
        "B",
        "other",
        "A",
        "anonymous",
        "anonymous",
    ]
    assert names.label("not a name!") == "invalid"
    long = OperationNames().label("X" * 500)
    assert long == "X" * MAX_OPERATION_NAME_LENGTH


async def test_delivery_lag_is_observed_per_delivered_event(actors: Actors, client: httpx.AsyncClient) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    delivered = local("journeys_realtime_delivery_lag_seconds_count")
    async with graphql_socket(client, actors.token(tenant, "admin", role=Role.ADMIN)) as socket:
        await socket.subscribe("1", ADMIN_EVENTS)
        assert await socket.quiet("1", 0.3) == []
        active = local("journeys_subscriptions_active")
        assert active >= 1
        await create_journey(admin)
        (event,) = await socket.events("1", 1)
        assert event["type"] == "journey.created"

        async def observed() -> bool:
            return local("journeys_realtime_delivery_lag_seconds_count") == delivered + 1

        await eventually(observed, within=5)
        assert local("journeys_realtime_delivery_lag_seconds_bucket", {"le": "5.0"}) >= 1
        await socket.complete("1")

        async def ended() -> bool:
            return local("journeys_subscriptions_active") == active - 1

        await eventually(ended, within=5)


async def test_the_pool_gauge_counts_checked_out_connections(server: LiveServer) -> None:
    before = local("journeys_db_pool_connections_in_use")
    async with server.runtime.engine.connect(), server.runtime.engine.connect():
        assert local("journeys_db_pool_connections_in_use") == before + 2
    assert local("journeys_db_pool_connections_in_use") == before


class _Channel:
    def __init__(self, client: _AblyStub, name: str) -> None:
        self.client, self.name = client, name

    async def publish(self, messages: list[Any]) -> None:
        if self.client.down:
            raise ConnectionError("Ably is unreachable")
        self.client.published += len(messages)


class _AblyStub:
    """Just enough of the Ably REST client for the mirror."""

    def __init__(self) -> None:
        self.down = True
        self.published = 0
        self.channels = self

    def get(self, name: str) -> _Channel:
        return _Channel(self, name)


async def test_the_ably_backlog_is_what_the_mirror_has_not_published(
    actors: Actors, server: LiveServer, db: Any
) -> None:
    tenant = await actors.tenant()
    async with db() as session:
        for n in range(3):
            record_event(
                session, tenant_id=tenant.id, user_id=uuid.uuid4(), type=EventType.JOURNEY_STARTED, data={"n": n}
            )
    ably = _AblyStub()
    mirror = AblyMirror(sessions=server.runtime.sessions, client=ably, poll_interval=0.01, retry_max=0.01)
    published = local("journeys_ably_published_events_total")

    assert await mirror.publish_pending() == 0  # Ably is down: nothing goes out
    assert await mirror.measure_backlog() == 3
    assert local("journeys_ably_backlog_events") == 3

    ably.down = False
    await asyncio.sleep(0.05)  # past the backoff
    assert await mirror.publish_pending() == 3
    assert await mirror.measure_backlog() == 0
    assert local("journeys_ably_backlog_events") == 0
    assert local("journeys_ably_published_events_total") == published + 3
