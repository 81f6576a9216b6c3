"""Webhook delivery shared by real `journeys serve` processes on one database: each delivery sent
once in the normal case and in order per endpoint, and nothing lost when the delivering process
is killed with SIGKILL mid-batch (what was in flight is sent again after the restart).

The test's own in-process server keeps its worker stopped here, so only the serve processes deliver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.tenancy.credentials import Role
from tests.conftest import Actors, GraphQLClient, LiveServer
from tests.process_support import process_directory, process_environment, server_process
from tests.webhook_support import create_endpoint, receiver, record_events

SERVE = ("-m", "app.cli", "serve", "--port", "{port}")


@pytest.fixture
async def local_worker_stopped(server: LiveServer) -> AsyncIterator[None]:
    worker = server.runtime.webhooks
    assert worker is not None
    await worker.stop()
    try:
        yield
    finally:
        worker.start()


async def _succeeded_attempts(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    line = next(
        (x for x in text.splitlines() if x.startswith('journeys_webhook_attempts_total{outcome="succeeded"}')), None
    )
    return int(float(line.split()[-1])) if line else 0


def _environment(migrated: str, settings: Settings) -> dict[str, str]:
    return process_environment(migrated, settings, JOURNEYS_WEBHOOK_POLL_INTERVAL="0.1")


async def test_two_processes_deliver_each_event_once_in_order(
    actors: Actors, migrated: str, settings: Settings, local_worker_stopped: None
) -> None:
    environment = _environment(migrated, settings)
    directory = process_directory(settings, "webhooks-")
    tenant = await actors.tenant()
    async with (
        server_process(SERVE, environment, directory, "a") as first,
        server_process(SERVE, environment, directory, "b") as second,
        receiver() as one,
        receiver() as two,
        httpx.AsyncClient(base_url=first.url, timeout=30) as http,
    ):
        admin = GraphQLClient(http, actors.token(tenant, "admin", role=Role.ADMIN))
        await create_endpoint(admin, one)
        await create_endpoint(admin, two)
        events = await record_events(actors.db, tenant.id, 200)
        await one.wait_for(200, within=60)
        await two.wait_for(200, within=60)
        await asyncio.sleep(1.0)  # anything sent twice would arrive meanwhile
        # The senders' own count agrees: 400 successful attempts between the two processes.
        sent = [await _succeeded_attempts(process.url) for process in (first, second)]
        assert sum(sent) == 400, sent
    for hook in (one, two):
        assert len(hook.received) == 200
        assert [r.id for r in hook.received] == events
        assert all(r.verified_by for r in hook.received)


async def test_a_process_killed_mid_batch_loses_nothing(
    actors: Actors, migrated: str, settings: Settings, local_worker_stopped: None
) -> None:
    environment = _environment(migrated, settings)
    directory = process_directory(settings, "webhooks-kill-")
    tenant = await actors.tenant()
    # Each answer takes a while, so the kill lands while a delivery is in flight.
    async with receiver(answer=lambda _n: (200, 0.1)) as hook:
        async with server_process(SERVE, environment, directory, "doomed") as doomed:
            async with httpx.AsyncClient(base_url=doomed.url, timeout=30) as http:
                admin = GraphQLClient(http, actors.token(tenant, "admin", role=Role.ADMIN))
                await create_endpoint(admin, hook)
            events = await record_events(actors.db, tenant.id, 40)
            await hook.wait_for(10, within=30)
            doomed.process.kill()  # SIGKILL: no shutdown, no rollback but the server's own
            await doomed.process.wait()
        before_restart = len(hook.received)
        assert before_restart < 40
        async with server_process(SERVE, environment, directory, "restarted"):
            await hook.wait_until(lambda got: {r.id for r in got} == set(events), within=60)
            await asyncio.sleep(0.5)
    # Dedupe by webhook-id: first arrivals are every event, in order, with no gap.
    first_seen = list(dict.fromkeys(r.id for r in hook.received))
    assert first_seen == events
    assert all(r.verified_by for r in hook.received)
    # At least once: only what was in flight at the kill may come twice.
    assert len(hook.received) - len(events) <= 1
