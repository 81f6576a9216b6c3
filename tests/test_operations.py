"""Operations: health, readiness, metrics, production settings, the demo tenant, and the
websocket handshake."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from app.catalog import reads as catalog_reads
from app.catalog.models import JourneyStatus, Visibility
from app.config import load_settings
from app.db import create_engine, ensure_database
from app.demo import load_demo
from app.demo_content import (
    DEMO_USER,
    DEMO_USER_COMPLETED,
    DEMO_USER_JOURNEY,
    JOURNEYS,
    ONBOARDING_SLUG,
    ONBOARDING_STEPS,
)
from app.main import create_app
from app.migrate import current_revision, head_revision
from app.onboarding.classification import Response, classify
from app.onboarding.forms import QuestionKind
from app.onboarding.models import Onboarding, OnboardingStatus
from app.onboarding.reads import steps_of_onboardings
from app.progress.clock import local_date
from app.progress.models import InstanceStatus
from app.progress.reads import my_instances, progress
from app.progress.today import today_events
from app.rewards.models import Reward
from app.rewards.reads import user_rewards, xp_summary
from app.tenancy.credentials import Role, mint_user_token
from app.tenancy.models import Tenant, User
from app.tenancy.service import create_api_key, get_tenant_by_slug
from tests.conftest import TEST_SECRET, Actors, GraphQLClient, LiveServer

PRODUCTION_SECRET = "production-secret-" + "p" * 40
INTROSPECTION = "query { __schema { queryType { name } types { name } } }"
TYPE_INTROSPECTION = 'query { __type(name: "Journey") { fields { name } } }'
VIEWER = "query { viewer { externalId role } }"
CATALOGUE = """
query Catalogue {
  journeys(first: 100) {
    edges { node { id slug category visibility status events { position dayOffset } } }
  }
}
"""
ADMIN_CATALOGUE = """
query AdminCatalogue($status: JourneyStatus, $visibility: JourneyVisibility) {
  adminJourneys(first: 100, status: $status, visibility: $visibility) {
    edges { node { slug status visibility } }
  }
}
"""


# ---------------------------------------------------------------- health, readiness, metrics


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_reports_the_database_at_the_newest_migration(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["revision"] == head_revision()
    assert body["revision"] is not None
    assert body["database"] is True


async def test_readyz_is_unavailable_while_migrations_are_pending(
    client: httpx.AsyncClient, server: LiveServer
) -> None:
    # given a database that is behind the code's newest migration
    async with server.runtime.engine.begin() as conn:
        current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        await conn.execute(text("UPDATE alembic_version SET version_num = 'an-older-revision'"))
    try:
        response = await client.get("/readyz")
    finally:
        async with server.runtime.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    # then it is not ready
    assert response.status_code == 503
    assert response.json()["revision"] == "an-older-revision"
    # and once it is at head, it is ready again
    assert (await client.get("/readyz")).status_code == 200


async def test_a_database_before_its_first_migration_is_at_no_revision(migrated: str) -> None:
    url = make_url(migrated).set(database=f"journeys_unmigrated_{uuid.uuid4().hex[:8]}")
    await ensure_database(url.render_as_string(hide_password=False))
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        assert await current_revision(engine) is None
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        assert await current_revision(engine) is None
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO alembic_version VALUES ('0001')"))
        assert await current_revision(engine) == "0001"
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(
            url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        )
        try:
            await admin.execute(f'DROP DATABASE "{url.database}"')
        finally:
            await admin.close()


def _requests_total(metrics: str, route: str, status: str) -> int:
    pattern = re.compile(
        rf'^journeys_http_requests_total\{{route="{re.escape(route)}",status="{status}"\}} (\d+)(?:\.0)?$', re.M
    )
    match = pattern.search(metrics)
    return int(match.group(1)) if match else 0


async def test_metrics_count_requests_in_prometheus_format(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    # when the service answers a few requests
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/no-such-page")).status_code == 404
    response = await client.get("/metrics")
    # then /metrics exposes them as Prometheus counters
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    metrics = response.text
    assert "# TYPE journeys_http_requests_total counter" in metrics
    assert _requests_total(metrics, "/healthz", "2xx") == _requests_total(before, "/healthz", "2xx") + 3
    assert _requests_total(metrics, "other", "4xx") == _requests_total(before, "other", "4xx") + 1
    assert 'journeys_http_request_seconds_count{route="/healthz"}' in metrics


# ---------------------------------------------------------------- production settings


@pytest.fixture
async def production(migrated: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app built with production settings on the test database, over ASGI."""
    settings = load_settings(
        {"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": PRODUCTION_SECRET, "JOURNEYS_DATA_DIR": str(tmp_path)}
    )
    app = create_app(settings, migrated)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://prod") as http:
            yield http
    finally:
        await app.state.runtime.close()


async def test_production_refuses_introspection(actors: Actors, production: httpx.AsyncClient) -> None:
    tenant = await actors.tenant()
    token = mint_user_token(
        load_settings({"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": PRODUCTION_SECRET}),
        tenant_slug=tenant.slug,
        subject="alice",
    )
    client = GraphQLClient(production, token)
    # when anyone asks for the schema, then it is refused with a coded error
    for query in (INTROSPECTION, TYPE_INTROSPECTION):
        for who in (client, GraphQLClient(production, None)):
            body = await who.post(query)
            assert body.get("data") is None, body
            codes = [e["extensions"]["code"] for e in body["errors"]]
            assert codes and set(codes) == {"BAD_USER_INPUT"}, body
    # while ordinary operations, and __typename, still work
    assert await client.data(VIEWER) == {"viewer": {"externalId": "alice", "role": "USER"}}
    assert await client.data("{ __typename }") == {"__typename": "Query"}
    # and tokens signed with another secret (the test server's) are not accepted
    test_signed = GraphQLClient(production, actors.token(tenant))
    assert await test_signed.error_codes(VIEWER) == ["UNAUTHENTICATED"]


async def test_production_serves_no_graphiql_page(production: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    # given a browser asking for the endpoint
    headers = {"Accept": "text/html,application/xhtml+xml"}
    # then development serves GraphiQL there
    development = await client.get("/graphql", headers=headers)
    assert development.status_code == 200
    assert "graphiql" in development.text.lower()
    # and production does not
    response = await production.get("/graphql", headers=headers)
    assert "graphiql" not in response.text.lower()
    assert not response.headers.get("content-type", "").startswith("text/html")


# ---------------------------------------------------------------- demo tenant


async def _row_counts(db: Any) -> dict[str, int]:
    async with db() as session:
        tables = (
            await session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
        ).scalars()
        counts = {}
        for table in sorted(tables):
            counts[table] = int((await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one())
    return counts


async def test_the_demo_loader_is_idempotent(db: Any) -> None:
    # when the demo is loaded into an empty database
    async with db() as session:
        first = await load_demo(session)
    after_first = await _row_counts(db)
    # then it created its content
    assert len(first.created) >= 7 and first.existing == []
    assert after_first["tenants"] == 1 and after_first["journeys"] == len(first.created)

    # with rewards, and the demo user's run with XP for the events they completed
    assert first.rewards_created and first.user_progress_created
    assert after_first["rewards"] == len(first.rewards_created) >= 4
    assert after_first["journey_instances"] == 1
    assert after_first["xp_entries"] == len(DEMO_USER_COMPLETED)
    assert after_first["reward_unlocks"] >= 1

    # and its onboarding with its steps
    assert first.onboarding_created
    assert after_first["onboardings"] == 1
    assert after_first["onboarding_steps"] == len(ONBOARDING_STEPS) == 4

    # when it is loaded again
    async with db() as session:
        second = await load_demo(session)
    # then it creates nothing and no table changes
    assert second.created == [] and second.rewards_created == [] and not second.user_progress_created
    assert not second.onboarding_created
    assert sorted(second.existing) == sorted(first.created)
    assert await _row_counts(db) == after_first


async def test_the_demo_has_rewards_and_a_user_part_way_through_a_journey(db: Any) -> None:
    # given the demo tenant
    async with db() as session:
        await load_demo(session)

    async with db() as session:
        tenant = await get_tenant_by_slug(session, slug="demo")
        assert tenant is not None
        # then its level thresholds are set
        assert tenant.level_thresholds == [0, 100, 250, 500, 1000, 2000, 4000, 8000]

        # and it has rewards at levels 1 to 4, one of them for the XP of a demo journey only
        rewards = (await session.execute(select(Reward).where(col(Reward.tenant_id) == tenant.id))).scalars().all()
        assert {1, 2, 3, 4} <= {r.required_level for r in rewards}
        assert all(r.active for r in rewards)
        journeys = await catalog_reads.journeys_by_slugs(session, tenant_id=tenant.id, slugs=[j.slug for j in JOURNEYS])
        scoped = [r for r in rewards if r.resource_type is not None]
        assert len(scoped) == 1
        assert scoped[0].resource_type == "journey"
        assert scoped[0].resource_id in {str(j.id) for j in journeys.values()}

        # and the demo user has one ACTIVE run of a published journey, with some but not all events done
        user = (
            await session.execute(
                select(User).where(col(User.tenant_id) == tenant.id, col(User.external_id) == DEMO_USER)
            )
        ).scalar_one()
        runs = (await my_instances(session, tenant_id=tenant.id, user_id=user.id, first=10, after=None)).items
        assert [r.status for r in runs] == [InstanceStatus.ACTIVE]
        run = runs[0]
        assert run.journey_id == journeys[DEMO_USER_JOURNEY].id
        assert journeys[DEMO_USER_JOURNEY].status == JourneyStatus.PUBLISHED
        done = (await progress(session, tenant_id=tenant.id, instance_ids=[run.id]))[run.id]
        assert 0 < done.completed_events < done.total_events

        # with a positive XP balance and at least one reward unlocked
        xp = await xp_summary(session, tenant=tenant, user_id=user.id)
        assert xp.balance > 0 and xp.level >= 1
        seen = await user_rewards(session, tenant=tenant, user_id=user.id, rewards=rewards)
        assert any(r.unlocked and r.unlocked_at is not None for r in seen)
        # but not the journey's own reward, which takes finishing it
        assert not next(r for r in seen if r.reward.id == scoped[0].id).unlocked

        # and something to do today
        today = await today_events(session, tenant_id=tenant.id, user_id=user.id, local_date=local_date(run.timezone))
        assert [g.instance.id for g in today] == [run.id]
        assert today[0].events


async def _demo_onboarding(session: Any) -> tuple[Tenant, Onboarding]:
    tenant = await get_tenant_by_slug(session, slug="demo")
    assert tenant is not None
    onboarding = (
        await session.execute(
            select(Onboarding).where(col(Onboarding.tenant_id) == tenant.id, col(Onboarding.slug) == ONBOARDING_SLUG)
        )
    ).scalar_one()
    return tenant, onboarding


async def test_the_demo_has_a_published_onboarding_with_a_classification_form(db: Any) -> None:
    # given the demo tenant
    async with db() as session:
        await load_demo(session)

    async with db() as session:
        tenant, onboarding = await _demo_onboarding(session)
        # then its onboarding is published, with XP and four steps in order
        assert onboarding.status is OnboardingStatus.PUBLISHED
        assert onboarding.xp_reward > 0
        steps = (await steps_of_onboardings(session, tenant_id=tenant.id, onboarding_ids=[onboarding.id]))[
            onboarding.id
        ]
        assert [s.position for s in steps] == [1, 2, 3, 4]
        assert [s.name for s in steps] == [s.name for s in ONBOARDING_STEPS]

        # and a form with at least four questions, of every kind
        form = onboarding.form
        assert form is not None
        assert len(form["questions"]) >= 4
        assert {q["kind"] for q in form["questions"]} == {k.value for k in QuestionKind}
        scale = next(q for q in form["questions"] if q["kind"] == QuestionKind.SCALE.value)
        assert scale["min"] < scale["max"] and scale["weights"]

        # and three segments, each recommending at least one published, public demo journey
        assert len(form["segments"]) == 3
        journeys = await catalog_reads.journeys_by_slugs(session, tenant_id=tenant.id, slugs=[j.slug for j in JOURNEYS])
        startable = {
            str(j.id)
            for j in journeys.values()
            if j.status == JourneyStatus.PUBLISHED and j.visibility == Visibility.PUBLIC
        }
        for segment in form["segments"]:
            assert segment["recommendedJourneys"], segment["key"]
            assert set(segment["recommendedJourneys"]) <= startable, segment["key"]


# Answers to the demo form meant for each segment (the README's examples).
DEMO_ANSWERS: dict[str, list[Response]] = {
    "calm": [
        Response("goal", ("less_stress",)),
        Response("interests", ("meditation", "sleep")),
        Response("activity", ("1",)),
    ],
    "active": [
        Response("goal", ("get_fit",)),
        Response("interests", ("running", "strength")),
        Response("activity", ("4",)),
        Response("notes", ("I have a knee that complains on stairs.",)),
    ],
    "balanced": [
        Response("goal", ("eat_better",)),
        Response("interests", ("nutrition", "sleep")),
        Response("activity", ("2",)),
    ],
}


async def test_the_demo_form_classifies_answers_into_each_segment(db: Any) -> None:
    # given the demo onboarding's form
    async with db() as session:
        await load_demo(session)
    async with db() as session:
        _, onboarding = await _demo_onboarding(session)
    form = onboarding.form
    assert form is not None
    segments = {s["key"]: s for s in form["segments"]}
    assert set(DEMO_ANSWERS) == set(segments)

    for key, responses in DEMO_ANSWERS.items():
        # when answers meant for a segment are classified
        outcome = classify(form, responses)
        # then they land in it, with its insight and journeys, explained by the answers
        assert outcome.segment.key == key
        assert outcome.insight == segments[key]["insight"]
        assert [str(j) for j in outcome.recommended_journey_ids] == segments[key]["recommendedJourneys"]
        assert {r.segment_key for r in outcome.reasons if r.points > 0} >= {key}
        # and it wins outright, not by a tie-break
        scores = dict(outcome.scores)
        assert all(scores[key] > score for other, score in scores.items() if other != key)

    # and the SCALE answer counts value x weight
    scale = classify(form, DEMO_ANSWERS["active"])
    assert any(r.question_key == "activity" and r.value == "4" and r.points == 4 for r in scale.reasons)


async def test_the_demo_tenant_has_a_varied_catalogue(actors: Actors, db: Any) -> None:
    # given the demo tenant
    async with db() as session:
        await load_demo(session)
    user = GraphQLClient(actors.http, mint_user_token(actors.settings, tenant_slug="demo", subject="visitor"))
    admin = GraphQLClient(
        actors.http, mint_user_token(actors.settings, tenant_slug="demo", subject="owner", role=Role.ADMIN)
    )

    # when a user browses the catalogue
    journeys = [edge["node"] for edge in (await user.data(CATALOGUE))["journeys"]["edges"]]
    # then there are at least five published, public journeys in at least two categories
    assert len(journeys) >= 5
    assert {j["status"] for j in journeys} == {"PUBLISHED"}
    assert {j["visibility"] for j in journeys} == {"PUBLIC"}
    assert len({j["category"] for j in journeys}) >= 2
    # with scheduled events on the first three days and unscheduled ones
    offsets = {e["dayOffset"] for j in journeys for e in j["events"]}
    assert {0, 1, 2, None} <= offsets
    # and one category pages, as the README's example shows (first: 2, then after its endCursor)
    page_query = (
        'query P($after: String) { journeys(first: 2, after: $after, category: "wellness") '
        "{ edges { node { slug } } pageInfo { hasNextPage endCursor } } }"
    )
    slugs: list[str] = []
    after = None
    for _ in range(5):
        page = (await user.data(page_query, {"after": after}))["journeys"]
        slugs += [edge["node"]["slug"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert len(slugs) >= 5 and len(set(slugs)) == len(slugs)
    assert any(
        {0, 1, 2} <= {e["dayOffset"] for e in j["events"]} and None in {e["dayOffset"] for e in j["events"]}
        for j in journeys
    ), "no single journey mixes scheduled days 0, 1, 2 with unscheduled events"
    for journey in journeys:
        assert [e["position"] for e in journey["events"]] == list(range(1, len(journey["events"]) + 1))

    # and an admin also sees a draft and a private journey, which users do not
    drafts = (await admin.data(ADMIN_CATALOGUE, {"status": "DRAFT"}))["adminJourneys"]["edges"]
    private = (await admin.data(ADMIN_CATALOGUE, {"visibility": "PRIVATE"}))["adminJourneys"]["edges"]
    assert drafts and private
    listed = {j["slug"] for j in journeys}
    assert not listed & {e["node"]["slug"] for e in drafts + private}


# ---------------------------------------------------------------- websocket handshake


async def _handshake(http: httpx.AsyncClient, payload: dict[str, Any] | None) -> dict[str, Any] | int:
    """Open a graphql-transport-ws socket, send connection_init; the reply or the close code."""
    async with aconnect_ws("/graphql", http, subprotocols=["graphql-transport-ws"]) as ws:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await ws.send_json(message)
        try:
            reply: dict[str, Any] = await ws.receive_json(timeout=10)
        except WebSocketDisconnect as closed:
            return closed.code
        return reply


async def test_websocket_without_a_good_credential_is_closed_with_4403(actors: Actors) -> None:
    tenant = await actors.tenant()
    now = int(time.time())
    expired = jwt.encode({"sub": "alice", "tenant": tenant.slug, "exp": now - 10}, TEST_SECRET, algorithm="HS256")
    unknown_tenant = jwt.encode({"sub": "alice", "tenant": "nowhere", "exp": now + 60}, TEST_SECRET, algorithm="HS256")
    payloads: dict[str, dict[str, Any] | None] = {
        "no payload": None,
        "empty payload": {},
        "another key": {"token": actors.token(tenant)},
        "garbage token": {"Authorization": "Bearer not-a-token"},
        "expired token": {"Authorization": f"Bearer {expired}"},
        "unknown tenant": {"Authorization": f"Bearer {unknown_tenant}"},
        "not bearer": {"Authorization": f"Basic {actors.token(tenant)}"},
        "not a string": {"Authorization": 42},
        "bad api key": {"Authorization": "Bearer sk_0000000000000000_nope"},
    }
    for name, payload in payloads.items():
        assert await _handshake(actors.http, payload) == 4403, name


async def test_websocket_with_a_good_credential_is_acknowledged(actors: Actors) -> None:
    tenant = await actors.tenant()
    async with actors.db() as session:
        _key, api_key = await create_api_key(session, tenant_id=tenant.id, name="ws")
    for payload in (
        {"Authorization": f"Bearer {actors.token(tenant)}"},
        {"authorization": f"Bearer {actors.token(tenant)}"},  # the key is case-insensitive
        {"AUTHORIZATION": f"Bearer {api_key}"},
    ):
        reply = await _handshake(actors.http, payload)
        assert isinstance(reply, dict) and reply["type"] == "connection_ack", (payload, reply)


async def test_websocket_operations_run_as_the_connection_s_viewer(actors: Actors) -> None:
    tenant = await actors.tenant()
    async with aconnect_ws("/graphql", actors.http, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {actors.token(tenant, 'ws-user')}"}}
        )
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=10))["type"] == "pong"
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}})
        reply = await ws.receive_json(timeout=10)
        assert reply == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"viewer": {"externalId": "ws-user", "role": "USER"}}},
        }
        assert await ws.receive_json(timeout=10) == {"id": "1", "type": "complete"}


async def test_websocket_protocol_violations_use_the_protocol_s_close_codes(actors: Actors) -> None:
    tenant = await actors.tenant()
    # a subscribe before connection_init is 4401 Unauthorized
    async with aconnect_ws("/graphql", actors.http, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": VIEWER}})
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=10)
        assert closed.value.code == 4401
    # a second connection_init is 4429 Too many initialisation requests
    async with aconnect_ws("/graphql", actors.http, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {actors.token(tenant)}"}}
        await ws.send_json(init)
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        await ws.send_json(init)
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=10)
        assert closed.value.code == 4429
    # a message that is not valid for the protocol is 4400
    async with aconnect_ws("/graphql", actors.http, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=10)
        assert closed.value.code == 4400
