"""Outbound webhooks (SPEC §17) through the real app: endpoints over GraphQL, the live server's
delivery worker, and a local receiver that verifies every request with `standardwebhooks`.

The worker's clock is driven (tests/webhook_support.py): retries are made due by moving it,
never by sleeping through a backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.graphql.relay import local_id
from app.realtime.outbox import EventType
from app.tenancy.credentials import Role
from app.webhooks.urls import UrlPolicy, check_url, public
from app.webhooks.worker import WebhookWorker
from tests.catalog_support import create_journey, mutate
from tests.conftest import Actors, LiveServer
from tests.progress_support import make_journey
from tests.webhook_support import (
    CREATE_ENDPOINT,
    DELETE_ENDPOINT,
    ENDPOINT,
    ENDPOINTS,
    REDELIVER,
    ROTATE_SECRET,
    SEND_TEST,
    UPDATE_ENDPOINT,
    Clock,
    create_endpoint,
    deliveries,
    eventually,
    receiver,
    record_events,
)

START_JOURNEY = "mutation S($j: ID!) { startJourney(journeyId: $j) { instance { id } errors { code } } }"


@pytest.fixture
async def worker(server: LiveServer) -> AsyncIterator[WebhookWorker]:
    """The live server's worker, polling often, on a driven clock."""
    found = server.runtime.webhooks
    assert found is not None
    saved = (found.clock, found.poll_interval, found.timeout, found.policy)
    found.clock = Clock()
    found.poll_interval = 0.05
    try:
        yield found
    finally:
        await found.settle()
        found.clock, found.poll_interval, found.timeout = saved[:3]
        await found.use_policy(saved[3])


def _clock(worker: WebhookWorker) -> Clock:
    assert isinstance(worker.clock, Clock)
    return worker.clock


async def _quiet(hook: Any, count: int, seconds: float = 0.4) -> None:
    """Nothing beyond ``count`` requests arrives for a while."""
    await _sleep(seconds)
    assert len(hook.received) == count, [r.id for r in hook.received]


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


# ---------------------------------------------------------------- delivery and signatures


async def test_every_event_arrives_signed_with_the_event_as_its_body(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    async with receiver() as hook:
        endpoint_id, secret = await create_endpoint(admin, hook, description="CRM sync")
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
        journey = await create_journey(admin)  # journey.created, a tenant-wide event
        published = await make_journey(actors.db, tenant)
        started = await mutate(actors.user(tenant, "alice"), START_JOURNEY, {"j": published_id(published)})
        assert started["errors"] == []
        async with actors.db() as session:
            stored = (
                await session.execute(
                    text("SELECT id, type, user_id, data FROM outbox_events WHERE tenant_id = :t ORDER BY id"),
                    {"t": tenant.id},
                )
            ).all()
        got = await hook.wait_for(len(stored))
        await _quiet(hook, len(stored))

    assert [r.id for r in got] == [str(row.id) for row in stored]
    for request, row in zip(got, stored, strict=True):
        assert request.verified_by == [secret]
        event = request.event
        assert event["id"] == request.id == str(row.id)
        assert event["type"] == row.type
        assert event["data"] == row.data
        assert event["tenantId"] == str(tenant.id)
        assert event["userId"] == (str(row.user_id) if row.user_id else None)
        assert event["userExternalId"] == ("alice" if row.user_id else None)
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        # The signature, computed independently of the library: HMAC-SHA256 of id.timestamp.body.
        signed = f"{request.id}.{request.headers['webhook-timestamp']}.".encode() + request.body
        mac = hmac.new(base64.b64decode(secret[6:]), signed, hashlib.sha256).digest()
        assert request.headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    assert {"journey.created", "journey.started"} <= {r.event["type"] for r in got}
    assert journey["id"]

    data = await admin.data(ENDPOINT, {"id": endpoint_id, "first": 100})
    listed = data["webhookEndpoint"]["deliveries"]["nodes"]
    assert [d["eventId"] for d in listed] == [str(row.id) for row in reversed(stored)]  # newest first
    for delivery in listed:
        assert delivery["status"] == "SUCCEEDED"
        assert delivery["attempts"] == 1
        assert delivery["lastResponseStatus"] == 200
        assert delivery["lastError"] is None and delivery["nextAttemptAt"] is None
        assert delivery["deliveredAt"] is not None
        assert delivery["lastResponseBody"].startswith("answer 200")
        assert len(delivery["lastResponseBody"].encode()) == 1024


def published_id(published: Any) -> str:
    from app.graphql.relay import to_global_id

    return to_global_id("Journey", published.journey.id)


async def test_the_secret_is_stored_encrypted(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    async with receiver() as hook:
        endpoint_id, secret = await create_endpoint(actors.admin(tenant), hook)
    raw = base64.b64decode(secret[6:])
    async with actors.db() as session:
        sealed = (
            await session.execute(
                text("SELECT secret FROM webhook_endpoints WHERE id = :id"),
                {"id": local_id(endpoint_id, "WebhookEndpoint")},
            )
        ).scalar_one()
    assert raw not in sealed and secret.encode() not in sealed and base64.b64encode(raw) not in sealed
    # The endpoints list never shows it again.
    listed = await actors.admin(tenant).data(ENDPOINTS, {})
    assert "secret" not in str(listed)


async def test_type_filters_and_disabled_endpoints(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    async with receiver() as all_types, receiver() as only_published, receiver() as disabled:
        await create_endpoint(admin, all_types)
        await create_endpoint(admin, only_published, types=["journey.published"])
        disabled_id, _ = await create_endpoint(admin, disabled, enabled=False)
        updated = await record_events(actors.db, tenant.id, 2, type=EventType.JOURNEY_UPDATED)
        publishedd = await record_events(actors.db, tenant.id, 2, type=EventType.JOURNEY_PUBLISHED)
        await all_types.wait_for(4)
        await only_published.wait_for(2)
        await _quiet(only_published, 2)
        assert [r.id for r in all_types.received] == updated + publishedd
        assert [r.id for r in only_published.received] == publishedd
        assert disabled.received == []

        # Re-enabled, it receives what happens from then on, not what it missed.
        payload = await mutate(admin, UPDATE_ENDPOINT, {"id": disabled_id, "input": {"enabled": True}})
        assert payload["errors"] == [] and payload["endpoint"]["enabled"] is True
        later = await record_events(actors.db, tenant.id, 1)
        await disabled.wait_for(1)
        await _quiet(disabled, 1)
        assert [r.id for r in disabled.received] == later

        # Disabled again: nothing more.
        await mutate(admin, UPDATE_ENDPOINT, {"id": disabled_id, "input": {"enabled": False}})
        await record_events(actors.db, tenant.id, 1)
        await all_types.wait_for(6)
        await _quiet(disabled, 1)


async def test_bad_endpoint_input_changes_nothing(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    cases = [
        ({"url": "ftp://example.com/hook"}, ["input", "url"]),
        ({"url": "not a url"}, ["input", "url"]),
        ({"url": "http://user:pw@example.com/"}, ["input", "url"]),
        ({"url": "https://example.com/" + "x" * 2100}, ["input", "url"]),
        ({"url": "https://example.com/", "types": ["no.such_type"]}, ["input", "types"]),
        ({"url": "https://example.com/", "description": "d" * 1001}, ["input", "description"]),
    ]
    for given, field in cases:
        payload = await mutate(admin, CREATE_ENDPOINT, {"input": given})
        assert payload["endpoint"] is None and payload["secret"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("BAD_USER_INPUT", field)], given
    assert (await admin.data(ENDPOINTS, {}))["webhookEndpoints"]["edges"] == []


# ---------------------------------------------------------------- rotation


async def test_rotation_signs_with_both_secrets_for_24_hours(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    async with receiver() as hook:
        endpoint_id, old = await create_endpoint(admin, hook)
        rotated = await mutate(admin, ROTATE_SECRET, {"id": endpoint_id})
        assert rotated["errors"] == []
        new = rotated["secret"]
        assert new.startswith("whsec_") and new != old
        hook.secrets.append(new)
        during = await record_events(actors.db, tenant.id, 1)
        (first,) = await hook.wait_for(1)
        assert first.id == during[0]
        assert sorted(first.verified_by) == sorted([old, new])
        assert len(first.headers["webhook-signature"].split(" ")) == 2

        _clock(worker).advance(hours=24, minutes=1)
        after = await record_events(actors.db, tenant.id, 1)
        second = (await hook.wait_for(2))[1]
        assert second.id == after[0]
        assert second.verified_by == [new]
        assert len(second.headers["webhook-signature"].split(" ")) == 1


# ---------------------------------------------------------------- failures and retries


async def test_a_failing_endpoint_is_retried_in_order_and_holds_back_only_itself(
    actors: Actors, worker: WebhookWorker
) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    clock = _clock(worker)
    # 500 for the first three requests, then 200.
    async with receiver(answer=lambda n: (500 if n < 3 else 200, 0.0)) as failing, receiver() as healthy:
        failing_id, _ = await create_endpoint(admin, failing)
        await create_endpoint(admin, healthy)
        events = await record_events(actors.db, tenant.id, 3)
        # The healthy endpoint gets everything at once; the failing one tries its first event only.
        await healthy.wait_for(3)
        await failing.wait_for(1)
        await _quiet(failing, 1)
        for attempt, delay in ((2, 5), (3, 30)):
            row = await eventually(lambda n=attempt - 1: _recorded(actors, tenant.id, failing_id, n))
            waited = row["next_attempt_at"] - row["last_attempt_at"]
            assert waited == timedelta(seconds=delay), (attempt, waited)
            # not due 3 s before its time (a margin for the real seconds a loaded machine spends meanwhile)
            clock.advance_to(row["next_attempt_at"] - timedelta(seconds=3))
            await _quiet(failing, attempt - 1, 0.3)
            clock.advance_to(row["next_attempt_at"])
            await failing.wait_for(attempt)
        await eventually(lambda: _recorded(actors, tenant.id, failing_id, 3))
        clock.advance(seconds=120)
        await failing.wait_for(6)
        await _quiet(failing, 6)

    assert [r.id for r in failing.received] == [events[0]] * 4 + events[1:]
    assert [r.status for r in failing.received] == [500, 500, 500, 200, 200, 200]
    assert all(r.verified_by for r in failing.received)
    assert [r.id for r in healthy.received] == events
    listed = (await admin.data(ENDPOINT, {"id": failing_id}))["webhookEndpoint"]["deliveries"]["nodes"]
    assert [(d["eventId"], d["attempts"], d["status"]) for d in reversed(listed)] == [
        (events[0], 4, "SUCCEEDED"),
        (events[1], 1, "SUCCEEDED"),
        (events[2], 1, "SUCCEEDED"),
    ]


async def test_a_timeout_counts_as_a_failed_attempt(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    worker.timeout = 0.3
    async with receiver(answer=lambda n: (200, 1.0 if n == 0 else 0.0)) as hook:
        endpoint_id, _ = await create_endpoint(admin, hook)
        events = await record_events(actors.db, tenant.id, 1)
        await hook.wait_for(1)

        async def failed_once() -> Any:
            rows = await deliveries(actors.db, tenant.id)
            return rows if rows and rows[0]["attempts"] == 1 else None

        (row,) = await eventually(failed_once)
        assert row["status"] == "PENDING"
        assert row["last_response_status"] is None
        assert "no answer within 0.3 s" in row["last_error"]
        _clock(worker).advance(seconds=5)
        await hook.wait_for(2)
    listed = (await admin.data(ENDPOINT, {"id": endpoint_id}))["webhookEndpoint"]["deliveries"]["nodes"]
    assert [(d["eventId"], d["attempts"], d["status"]) for d in listed] == [(events[0], 2, "SUCCEEDED")]


async def test_an_endpoint_failing_for_24_hours_ends_failed(actors: Actors, worker: WebhookWorker, client: Any) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    clock = _clock(worker)
    async with receiver(answer=lambda _n: (503, 0.0)) as hook:
        endpoint_id, _ = await create_endpoint(admin, hook)
        events = await record_events(actors.db, tenant.id, 2)
        await hook.wait_for(1)
        attempts_at: list[datetime] = []
        while True:
            row = await eventually(lambda: _settled_head(actors, tenant.id, len(attempts_at) + 1))
            attempts_at.append(row["last_attempt_at"])
            if row["status"] != "PENDING":
                break
            clock.advance_to(row["next_attempt_at"])
        # The second event waited behind the first; now it is tried in its turn.
        await hook.wait_for(len(attempts_at) + 1)

    first = attempts_at[0]
    offsets = [(at - first).total_seconds() for at in attempts_at]
    # 5 s, 30 s, 2 min, 10 min, 1 h, 6 h, then every 6 h, the last at 24 h (the clock runs on meanwhile).
    expected = [0, 5, 35, 155, 755, 4355, 25955, 47555, 69155, 86400]
    assert len(offsets) == len(expected)
    assert all(0 <= got - want < 3 for got, want in zip(offsets, expected, strict=True)), offsets
    assert {r.id for r in hook.received[: len(attempts_at)]} == {events[0]}
    assert hook.received[len(attempts_at)].id == events[1]
    listed = (await admin.data(ENDPOINT, {"id": endpoint_id, "status": "FAILED"}))["webhookEndpoint"]
    (failed,) = listed["deliveries"]["nodes"]
    assert failed["eventId"] == events[0] and failed["attempts"] == 10
    assert failed["lastResponseStatus"] == 503 and failed["nextAttemptAt"] is None
    assert failed["lastError"] == "the endpoint answered HTTP 503"
    metrics = (await client.get("/metrics")).text
    assert "journeys_webhook_failed_deliveries_total" in metrics
    assert 'journeys_webhook_attempts_total{outcome="failed"}' in metrics


async def _recorded(actors: Actors, tenant_id: uuid.UUID, endpoint_id: str, attempts: int) -> dict[str, Any] | None:
    rows = await deliveries(actors.db, tenant_id, endpoint_id)
    return rows[0] if rows and rows[0]["attempts"] >= attempts else None


async def _settled_head(actors: Actors, tenant_id: uuid.UUID, attempts: int) -> dict[str, Any] | None:
    rows = await deliveries(actors.db, tenant_id)
    head = rows[0] if rows else None
    return head if head is not None and head["attempts"] >= attempts else None


# ---------------------------------------------------------------- redelivery, tests, deletion


async def test_redeliver_and_send_a_test_webhook(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    async with receiver() as hook:
        endpoint_id, _ = await create_endpoint(admin, hook)
        (event,) = await record_events(actors.db, tenant.id, 1)
        await hook.wait_for(1)
        again = await mutate(admin, REDELIVER, {"endpointId": endpoint_id, "eventId": event})
        assert again["errors"] == [] and again["delivery"]["eventId"] == event
        assert again["delivery"]["status"] == "PENDING" and again["delivery"]["attempts"] == 0
        second = (await hook.wait_for(2))[1]
        assert second.id == event and second.verified_by and second.body == hook.received[0].body

        test = await mutate(admin, SEND_TEST, {"endpointId": endpoint_id})
        assert test["errors"] == [] and test["delivery"]["eventType"] == "webhook.test"
        third = (await hook.wait_for(3))[2]
        assert third.verified_by
        assert third.id == test["delivery"]["eventId"] == third.event["id"]
        assert third.event["type"] == "webhook.test" and third.event["tenantId"] == str(tenant.id)

        unknown = await mutate(admin, REDELIVER, {"endpointId": endpoint_id, "eventId": "999999999"})
        assert [(e["code"], e["field"]) for e in unknown["errors"]] == [("NOT_FOUND", ["eventId"])]
        not_a_number = await mutate(admin, REDELIVER, {"endpointId": endpoint_id, "eventId": "abc"})
        assert [e["code"] for e in not_a_number["errors"]] == ["NOT_FOUND"]
        await _quiet(hook, 3)
    listed = (await admin.data(ENDPOINT, {"id": endpoint_id}))["webhookEndpoint"]["deliveries"]["nodes"]
    assert [(d["eventType"], d["status"]) for d in listed] == [
        ("webhook.test", "SUCCEEDED"),
        ("journey.updated", "SUCCEEDED"),
        ("journey.updated", "SUCCEEDED"),
    ]


async def test_update_list_and_delete_endpoints(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    async with receiver() as hook:
        first, _ = await create_endpoint(admin, hook, description="one")
        second, _ = await create_endpoint(admin, hook, types=["xp.awarded"])
        page = (await admin.data(ENDPOINTS, {"first": 1}))["webhookEndpoints"]
        assert [e["node"]["id"] for e in page["edges"]] == [first] and page["pageInfo"]["hasNextPage"]
        rest = (await admin.data(ENDPOINTS, {"first": 1, "after": page["pageInfo"]["endCursor"]}))["webhookEndpoints"]
        assert [e["node"]["id"] for e in rest["edges"]] == [second] and not rest["pageInfo"]["hasNextPage"]

        changed = await mutate(
            admin, UPDATE_ENDPOINT, {"id": second, "input": {"types": [], "description": "all of them"}}
        )
        assert changed["errors"] == []
        assert changed["endpoint"]["types"] == [] and changed["endpoint"]["description"] == "all of them"
        await record_events(actors.db, tenant.id, 1)
        await hook.wait_for(2)

        deleted = await mutate(admin, DELETE_ENDPOINT, {"id": first})
        assert deleted == {"deletedId": first, "errors": []}
        assert (await admin.data(ENDPOINT, {"id": first}))["webhookEndpoint"] is None
        again = await mutate(admin, DELETE_ENDPOINT, {"id": first})
        assert [e["code"] for e in again["errors"]] == ["NOT_FOUND"]
        await record_events(actors.db, tenant.id, 1)
        await hook.wait_for(3)
        await _quiet(hook, 3)
    rows = await deliveries(actors.db, tenant.id)
    assert {r["endpoint_id"] for r in rows} == {local_id(second, "WebhookEndpoint")}


async def test_only_admins_of_the_tenant_manage_webhooks(actors: Actors, worker: WebhookWorker) -> None:
    tenant = await actors.tenant()
    other = await actors.tenant()
    async with receiver() as hook:
        endpoint_id, _ = await create_endpoint(actors.admin(tenant), hook)
    user = actors.user(tenant, "alice")
    assert await user.error_codes(ENDPOINTS, {}) == ["FORBIDDEN"]
    assert await user.error_codes(ENDPOINT, {"id": endpoint_id}) == ["FORBIDDEN"]
    assert await user.error_codes(CREATE_ENDPOINT, {"input": {"url": "https://example.com/"}}) == ["FORBIDDEN"]
    assert await user.error_codes(ROTATE_SECRET, {"id": endpoint_id}) == ["FORBIDDEN"]
    assert await user.error_codes(SEND_TEST, {"endpointId": endpoint_id}) == ["FORBIDDEN"]
    assert await user.error_codes(REDELIVER, {"endpointId": endpoint_id, "eventId": "1"}) == ["FORBIDDEN"]
    assert await user.error_codes(DELETE_ENDPOINT, {"id": endpoint_id}) == ["FORBIDDEN"]
    node = await user.data("query N($id: ID!) { node(id: $id) { id } }", {"id": endpoint_id})
    assert node == {"node": None}
    assert await actors.anonymous().error_codes(ENDPOINTS, {}) == ["UNAUTHENTICATED"]

    stranger = actors.admin(other)
    assert (await stranger.data(ENDPOINT, {"id": endpoint_id}))["webhookEndpoint"] is None
    assert (await stranger.data("query N($id: ID!) { node(id: $id) { id } }", {"id": endpoint_id})) == {"node": None}
    for document, variables in (
        (UPDATE_ENDPOINT, {"id": endpoint_id, "input": {"enabled": False}}),
        (ROTATE_SECRET, {"id": endpoint_id}),
        (DELETE_ENDPOINT, {"id": endpoint_id}),
        (SEND_TEST, {"endpointId": endpoint_id}),
    ):
        payload = await mutate(stranger, document, variables)
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"], document
    found = await actors.admin(tenant).data(
        "query N($id: ID!) { node(id: $id) { ... on WebhookEndpoint { enabled } } }", {"id": endpoint_id}
    )
    assert found == {"node": {"enabled": True}}


# ---------------------------------------------------------------- URL safety


async def test_production_url_rules() -> None:
    production = UrlPolicy(https_only=True, refuse_private=True)
    for refused in (
        "http://93.184.215.14/hook",  # https only
        "https://localhost/hook",  # a host name resolving to 127.0.0.1
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://224.0.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
    ):
        with pytest.raises(Exception) as caught:
            await check_url(refused, production)
        assert getattr(caught.value, "code", None) is not None and caught.value.code.value == "BAD_USER_INPUT", refused
        assert caught.value.field == ("input", "url")
    assert await check_url(" https://93.184.215.14/hook ", production) == "https://93.184.215.14/hook"
    allowed_private = UrlPolicy(https_only=True, refuse_private=False)
    assert await check_url("https://localhost/hook", allowed_private) == "https://localhost/hook"
    development = UrlPolicy(https_only=False, refuse_private=False)
    assert await check_url("http://localhost:9/hook", development) == "http://localhost:9/hook"
    assert not public("127.0.0.1") and not public("fe80::1") and not public("100.64.0.1") and public("1.1.1.1")


async def test_the_address_is_checked_again_at_connect_time(actors: Actors, worker: WebhookWorker) -> None:
    """An endpoint saved while its host looked public (here: created outside production) must not be
    reached once it resolves inward: in production the worker refuses to connect."""
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    async with receiver() as hook:
        localhost_url = hook.url.replace("127.0.0.1", "localhost")
        payload = await mutate(admin, CREATE_ENDPOINT, {"input": {"url": localhost_url}})
        assert payload["errors"] == []
        await worker.use_policy(UrlPolicy(https_only=True, refuse_private=True))
        await record_events(actors.db, tenant.id, 1)

        async def refused() -> Any:
            rows = await deliveries(actors.db, tenant.id)
            return rows if rows and rows[0]["attempts"] == 1 else None

        (row,) = await eventually(refused)
        assert row["last_error"].startswith("refused: localhost resolves to a non-public address")
        assert row["last_response_status"] is None
        assert hook.received == []


# ---------------------------------------------------------------- operations


async def test_backlog_in_metrics_and_old_deliveries_pruned(actors: Actors, worker: WebhookWorker, client: Any) -> None:
    tenant = await actors.tenant()
    async with receiver(answer=lambda _n: (500, 0.0)) as hook:
        await create_endpoint(actors.admin(tenant), hook)
        await record_events(actors.db, tenant.id, 3)
        await hook.wait_for(1)
        await eventually(lambda: _settled_head(actors, tenant.id, 1))
        assert await worker.measure_backlog() == 3
        assert "journeys_webhook_backlog_deliveries 3.0" in (await client.get("/metrics")).text

        _clock(worker).advance(days=6)
        assert await worker.prune() == 0
        _clock(worker).advance(days=1, minutes=1)
        assert await worker.prune() == 3
    assert await deliveries(actors.db, tenant.id) == []


# ---------------------------------------------------------------- configuration


def test_secrets_need_a_key_in_production() -> None:
    from app.config import ConfigError, load_settings
    from app.errors import DomainError
    from app.webhooks.secrets import SecretBox, new_secret
    from tests.conftest import TEST_SECRET

    production = {"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": TEST_SECRET}
    with pytest.raises(DomainError) as caught:
        SecretBox.from_settings(load_settings(production))
    assert caught.value.code.value == "NOT_CONFIGURED"
    with pytest.raises(ConfigError, match="JOURNEYS_SECRET_KEY"):
        load_settings({**production, "JOURNEYS_SECRET_KEY": "short"})

    box = SecretBox.from_settings(load_settings({**production, "JOURNEYS_SECRET_KEY": "k" * 40}))
    secret, endpoint, other = new_secret(), uuid.uuid4(), uuid.uuid4()
    sealed = box.seal(secret, endpoint_id=endpoint)
    assert box.open(sealed, endpoint_id=endpoint) == secret
    with pytest.raises(ValueError):
        box.open(sealed, endpoint_id=other)  # sealed for another endpoint
    with pytest.raises(ValueError):
        SecretBox(b"another key").open(sealed, endpoint_id=endpoint)
    # Outside production a key derived from the JWT secret serves.
    assert load_settings({"JOURNEYS_ENV": "test", "JOURNEYS_JWT_SECRET": TEST_SECRET}).webhook_key_material


async def test_production_url_rules_through_the_api(actors: Actors, migrated: str, settings: Any) -> None:
    import httpx

    from app.config import load_settings
    from app.main import create_app
    from tests.conftest import TEST_SECRET

    tenant = await actors.tenant()
    token = actors.token(tenant, "admin", role=Role.ADMIN)
    base = {
        "JOURNEYS_ENV": "production",
        "JOURNEYS_JWT_SECRET": TEST_SECRET,
        "JOURNEYS_DATA_DIR": str(settings.data_dir),
    }

    async def create(environ: dict[str, str], url: str) -> dict[str, Any]:
        app = create_app(load_settings({**base, **environ}), migrated)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                response = await http.post(
                    "/graphql",
                    json={"query": CREATE_ENDPOINT, "variables": {"input": {"url": url}}},
                    headers={"Authorization": f"Bearer {token}"},
                )
            payload: dict[str, Any] = response.json()["data"]["createWebhookEndpoint"]
            return payload
        finally:
            await app.state.runtime.close()

    keyed = {"JOURNEYS_SECRET_KEY": "k" * 40}
    for url in ("http://93.184.215.14/hook", "https://localhost/hook", "https://127.0.0.1:8443/hook"):
        refused = await create(keyed, url)
        assert refused["endpoint"] is None and refused["secret"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("BAD_USER_INPUT", ["input", "url"])], url
    unkeyed = await create({}, "https://93.184.215.14/hook")
    assert [e["code"] for e in unkeyed["errors"]] == ["NOT_CONFIGURED"]
    assert (await actors.admin(tenant).data(ENDPOINTS, {}))["webhookEndpoints"]["edges"] == []

    private = await create({**keyed, "JOURNEYS_WEBHOOK_ALLOW_PRIVATE": "1"}, "https://localhost/hook")
    assert private["errors"] == [] and private["secret"].startswith("whsec_")
    listed = (await actors.admin(tenant).data(ENDPOINTS, {}))["webhookEndpoints"]["edges"]
    assert [e["node"]["url"] for e in listed] == ["https://localhost/hook"]
