"""Acting for users (SPEC §16) over the HTTP API: an API key runs a new external user's journey
and onboarding, the user sees exactly those runs with the key as the actor of every log entry
and receives every event; admins act on any run of their tenant, never another tenant's; a user
naming someone else is FORBIDDEN; racing completions by the user and an admin award XP once;
and migration 0008 makes the run's user the actor of entries logged before it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import create_engine, create_session_factory, ensure_database, transaction
from app.demo import load_demo
from app.graphql.relay import to_global_id
from app.migrate import alembic_config
from app.onboarding.lifecycle import start_onboarding
from app.tenancy.models import Tenant
from app.tenancy.service import create_api_key, get_or_create_user, get_tenant_by_slug
from tests.catalog_support import mutate
from tests.conftest import Actors, GraphQLClient, LiveServer
from tests.onboarding_support import make_onboarding, sample_form
from tests.progress_support import count, make_journey
from tests.subscription_support import USER_EVENTS, GraphQLSocket, graphql_socket

ERRORS = "errors { code field }"
ACTOR = "actor { kind apiKeyName user { id externalId } }"
START_JOURNEY = f"""
mutation StartJourney($journeyId: ID!, $userExternalId: String) {{
  startJourney(journeyId: $journeyId, userExternalId: $userExternalId) {{
    instance {{ id status user {{ externalId role lastSeenAt }} }} {ERRORS}
  }}
}}
"""
EVENT_CHANGE = """
mutation EventChange($instanceId: ID!, $journeyEventId: ID!) {
  %s(instanceId: $instanceId, journeyEventId: $journeyEventId) { %s errors { code field } }
}
"""
START_EVENT = EVENT_CHANGE % ("startEvent", "eventInstance { status }")
COMPLETE_EVENT = EVENT_CHANGE % ("completeEvent", "eventInstance { status } instance { status } xpAwarded")
JOURNEY_CHANGE = """
mutation JourneyChange($instanceId: ID!) { %s(instanceId: $instanceId) { instance { status } errors { code field } } }
"""
START_ONBOARDING = f"""
mutation StartOnboarding($onboardingId: ID!, $userExternalId: String) {{
  startOnboarding(onboardingId: $onboardingId, userExternalId: $userExternalId) {{
    onboardingJourney {{ id status currentStep user {{ externalId }} }} {ERRORS}
  }}
}}
"""
ONBOARDING_CHANGE = """
mutation OnboardingChange($journeyId: ID!) {
  %s(journeyId: $journeyId) { onboardingJourney { status currentStep } errors { code field } }
}
"""
LOG_ONBOARDING = """
mutation LogOnboarding($journeyId: ID!) {
  logOnboardingStep(journeyId: $journeyId, action: "tip_shown") { onboardingJourney { status } errors { code field } }
}
"""
COMPLETE_ONBOARDING = f"""
mutation CompleteOnboarding($onboardingId: ID!, $responses: [FormResponseInput!]!, $userExternalId: String) {{
  completeOnboarding(onboardingId: $onboardingId, responses: $responses, userExternalId: $userExternalId) {{
    classification {{ segment {{ key }} }} onboardingJourney {{ id status }} xpAwarded {ERRORS}
  }}
}}
"""
MY_RUNS = f"""
query MyRuns {{
  myJourneys {{ edges {{ node {{ id status logs(first: 50) {{ edges {{ node {{ action {ACTOR} }} }} }} }} }} }}
  myOnboardingJourneys {{ edges {{ node {{ id status logs {{ action stepOrder {ACTOR} }} }} }} }}
  myXp {{ balance }}
}}
"""
JOURNEY_LOGS = f"""
query JourneyLogs($id: ID!) {{
  journeyInstance(id: $id) {{ logs(first: 50) {{ edges {{ node {{ action {ACTOR} }} }} }} }}
}}
"""
ONBOARDING_LOGS = f"query OnboardingLogs($id: ID!) {{ onboardingJourney(id: $id) {{ logs {{ action {ACTOR} }} }} }}"
USER = "query User($externalId: String!) { user(externalId: $externalId) { id externalId role lastSeenAt } }"
VIEWER = "query { viewer { id channelName } }"
MY_XP = "query { myXp { balance } }"
ANSWERS = [{"questionKey": "goal", "values": ["learn"]}]


async def _api_key(actors: Actors, tenant: Tenant, name: str = "backend") -> GraphQLClient:
    async with actors.db() as session:
        _key, secret = await create_api_key(session, tenant_id=tenant.id, name=name)
    return actors.credential(secret)


def _ok(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == [], payload
    return payload


def _codes(payload: dict[str, Any]) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(e["code"], tuple(e["field"]) if e["field"] is not None else None) for e in payload["errors"]]


def _actors_of(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry["actor"] for entry in logs]


async def _subscribed(server: LiveServer, socket: GraphQLSocket, client: GraphQLClient, after: str) -> None:
    """Subscribe to the user's events after ``after``, and wait until live events reach it."""
    channel = (await client.data(VIEWER))["viewer"]["channelName"]
    hub = server.runtime.realtime.hubs.get(channel)
    joined = len(hub.inboxes) if hub is not None else 0
    await socket.subscribe("1", USER_EVENTS, {"after": after})
    for _ in range(1000):
        hub = server.runtime.realtime.hubs.get(channel)
        if hub is not None and len(hub.inboxes) > joined:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription did not join within 10 s")


async def _stored_events(actors: Actors, tenant: Tenant, external_id: str) -> list[tuple[str, str]]:
    """(id, type) of the events stored for the user, oldest first."""
    async with actors.db() as session:
        rows = await session.execute(
            text(
                "SELECT e.id, e.type FROM outbox_events e JOIN users u ON u.id = e.user_id "
                "WHERE e.tenant_id = :t AND u.external_id = :u ORDER BY e.id"
            ),
            {"t": tenant.id, "u": external_id},
        )
        return [(str(row.id), row.type) for row in rows]


# --- an API key runs a user's journey and onboarding -----------------------------------------


async def test_an_api_key_runs_a_new_users_journey_and_onboarding_and_the_user_sees_it_all(
    actors: Actors, server: LiveServer
) -> None:
    # given a journey of two 10-XP events worth 50 XP, a two-step onboarding with a form worth
    # 20 XP, and the tenant's backend with an API key
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 1], event_xp=10, xp_reward=50)
    onboarding = await make_onboarding(actors.db, tenant, steps=2, xp_reward=20, form=sample_form())
    backend = await _api_key(actors, tenant)
    event_ids = [to_global_id("JourneyEvent", e.id) for e in journey.events]
    journey_id = to_global_id("Journey", journey.journey.id)
    onboarding_id = to_global_id("Onboarding", onboarding.id)

    # when the key starts the journey for an external id never seen: the user is created for it
    started = _ok(await mutate(backend, START_JOURNEY, {"journeyId": journey_id, "userExternalId": "crm-42"}))
    instance = started["instance"]
    assert instance["user"] == {"externalId": "crm-42", "role": "USER", "lastSeenAt": None}
    assert (await backend.data(USER, {"externalId": "crm-42"}))["user"]["lastSeenAt"] is None

    # and the user, with a token for that id, subscribes to their events from the start
    user = actors.user(tenant, "crm-42")
    async with graphql_socket(actors.http, actors.token(tenant, "crm-42")) as socket:
        await _subscribed(server, socket, user, after="0")

        # and the key progresses the journey to its end and runs the onboarding
        run_id = instance["id"]
        _ok(await mutate(backend, START_EVENT, {"instanceId": run_id, "journeyEventId": event_ids[0]}))
        first = _ok(await mutate(backend, COMPLETE_EVENT, {"instanceId": run_id, "journeyEventId": event_ids[0]}))
        last = _ok(await mutate(backend, COMPLETE_EVENT, {"instanceId": run_id, "journeyEventId": event_ids[1]}))
        assert (first["xpAwarded"], last["xpAwarded"], last["instance"]["status"]) == (10, 60, "COMPLETED")
        onboarding_run = _ok(
            await mutate(backend, START_ONBOARDING, {"onboardingId": onboarding_id, "userExternalId": "crm-42"})
        )["onboardingJourney"]
        assert onboarding_run["user"] == {"externalId": "crm-42"}
        progressed = _ok(
            await mutate(backend, ONBOARDING_CHANGE % "progressOnboarding", {"journeyId": onboarding_run["id"]})
        )
        assert progressed["onboardingJourney"] == {"status": "ACTIVE", "currentStep": 2}
        completed = _ok(
            await mutate(
                backend,
                COMPLETE_ONBOARDING,
                {"onboardingId": onboarding_id, "responses": ANSWERS, "userExternalId": "crm-42"},
            )
        )
        assert completed["onboardingJourney"] == {"id": onboarding_run["id"], "status": "COMPLETED"}
        assert (completed["classification"]["segment"]["key"], completed["xpAwarded"]) == ("beginner", 20)

        # then the user's subscription received every event stored for them, in order
        stored = await _stored_events(actors, tenant, "crm-42")
        received = await socket.events("1", len(stored))
        assert [(e["id"], e["type"]) for e in received] == stored
        assert {"journey.started", "event.completed", "journey.completed", "xp.awarded"} <= {t for _, t in stored}
        assert {"onboarding.started", "onboarding.progressed", "onboarding.completed"} <= {t for _, t in stored}
        assert "classification.completed" in {t for _, t in stored}
        assert await socket.quiet("1") == []

    # and the user sees exactly those runs, the XP on their balance, the key as every actor
    mine = await user.data(MY_RUNS)
    (journey_edge,) = mine["myJourneys"]["edges"]
    (onboarding_edge,) = mine["myOnboardingJourneys"]["edges"]
    assert (journey_edge["node"]["id"], journey_edge["node"]["status"]) == (run_id, "COMPLETED")
    assert (onboarding_edge["node"]["id"], onboarding_edge["node"]["status"]) == (onboarding_run["id"], "COMPLETED")
    assert mine["myXp"]["balance"] == 10 + 10 + 50 + 20
    key_actor = {"kind": "API_KEY", "apiKeyName": "backend", "user": None}
    journey_logs = [e["node"] for e in journey_edge["node"]["logs"]["edges"]]
    assert [e["action"] for e in journey_logs] == [
        "started",
        "event_started",
        "event_completed",
        "event_completed",
        "completed",
    ]
    assert _actors_of(journey_logs) == [key_actor] * 5
    onboarding_logs = onboarding_edge["node"]["logs"]
    assert [(e["action"], e["stepOrder"]) for e in onboarding_logs] == [
        ("started", 1),
        ("completed", 1),
        ("started", 2),
        ("completed", 2),
    ]
    assert _actors_of(onboarding_logs) == [key_actor] * 4
    # the key itself has no XP: the awards went to the run's user
    assert (await backend.data(MY_XP))["myXp"]["balance"] == 0


async def test_admins_and_users_appear_as_themselves_and_users_see_no_other_user(actors: Actors) -> None:
    # given alice's onboarding run, started by herself
    tenant = await actors.tenant()
    onboarding = await make_onboarding(actors.db, tenant, steps=3)
    alice, admin = actors.user(tenant, "alice"), actors.admin(tenant, "ops")
    run = _ok(await mutate(alice, START_ONBOARDING, {"onboardingId": to_global_id("Onboarding", onboarding.id)}))
    run_id = run["onboardingJourney"]["id"]

    # when an admin suspends it, and alice resumes it
    _ok(await mutate(admin, ONBOARDING_CHANGE % "suspendOnboarding", {"journeyId": run_id}))
    _ok(await mutate(alice, ONBOARDING_CHANGE % "resumeOnboarding", {"journeyId": run_id}))

    # then admins see who each was; alice sees herself, and that an admin acted (not which)
    alice_node = (await admin.data(USER, {"externalId": "alice"}))["user"]
    ops_node = (await admin.data(USER, {"externalId": "ops"}))["user"]
    as_admin = (await admin.data(ONBOARDING_LOGS, {"id": run_id}))["onboardingJourney"]["logs"]
    as_alice = (await alice.data(ONBOARDING_LOGS, {"id": run_id}))["onboardingJourney"]["logs"]
    assert [e["action"] for e in as_admin] == ["started", "suspended", "resumed"]
    alice_actor = {"kind": "USER", "apiKeyName": None, "user": {"id": alice_node["id"], "externalId": "alice"}}
    ops_actor = {"kind": "ADMIN", "apiKeyName": None, "user": {"id": ops_node["id"], "externalId": "ops"}}
    assert _actors_of(as_admin) == [alice_actor, ops_actor, alice_actor]
    assert _actors_of(as_alice) == [alice_actor, {**ops_actor, "user": None}, alice_actor]


# --- who may name which user -----------------------------------------------------------------


async def test_a_user_naming_another_user_is_forbidden_and_changes_nothing(actors: Actors) -> None:
    # given a published journey and an onboarding with a form
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, form=sample_form())
    alice = actors.user(tenant, "alice")
    journey_id, onboarding_id = to_global_id("Journey", journey.journey.id), to_global_id("Onboarding", onboarding.id)

    # when alice acts for bob, then the three starts are FORBIDDEN
    for document, variables in (
        (START_JOURNEY, {"journeyId": journey_id}),
        (START_ONBOARDING, {"onboardingId": onboarding_id}),
        (COMPLETE_ONBOARDING, {"onboardingId": onboarding_id, "responses": ANSWERS}),
    ):
        assert await alice.error_codes(document, {**variables, "userExternalId": "bob"}) == ["FORBIDDEN"]

    # and nothing was written, nor bob created
    for table in ("journey_instances", "onboarding_journeys", "classifications", "journey_logs", "xp_entries"):
        assert await count(actors.db, f"SELECT count(*) FROM {table}") == 0, table
    assert await count(actors.db, "SELECT count(*) FROM users WHERE external_id = 'bob'") == 0

    # but naming herself is acting as herself
    mine = _ok(await mutate(alice, START_JOURNEY, {"journeyId": journey_id, "userExternalId": "alice"}))
    assert mine["instance"]["user"]["externalId"] == "alice"
    (log,) = (await alice.data(JOURNEY_LOGS, {"id": mine["instance"]["id"]}))["journeyInstance"]["logs"]["edges"]
    assert log["node"]["actor"]["kind"] == "USER"


async def test_an_api_key_must_name_the_user_and_an_admin_without_one_acts_for_themselves(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, form=sample_form())
    backend, admin = await _api_key(actors, tenant), actors.admin(tenant, "ops")
    journey_id, onboarding_id = to_global_id("Journey", journey.journey.id), to_global_id("Onboarding", onboarding.id)
    required = [("BAD_USER_INPUT", ("userExternalId",))]

    # an API key without userExternalId (or with an unusable one) starts nothing
    for variables in ({}, {"userExternalId": ""}, {"userExternalId": "x" * 201}):
        assert _codes(await mutate(backend, START_JOURNEY, {"journeyId": journey_id, **variables})) == required
    assert _codes(await mutate(backend, START_ONBOARDING, {"onboardingId": onboarding_id})) == required
    no_user = {"onboardingId": onboarding_id, "responses": ANSWERS}
    assert _codes(await mutate(backend, COMPLETE_ONBOARDING, no_user)) == required
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 0

    # an admin's token is a user's too: without userExternalId the run is the admin's own
    own = _ok(await mutate(admin, START_JOURNEY, {"journeyId": journey_id}))
    assert own["instance"]["user"]["externalId"] == "ops"
    (log,) = (await admin.data(JOURNEY_LOGS, {"id": own["instance"]["id"]}))["journeyInstance"]["logs"]["edges"]
    assert (log["node"]["actor"]["kind"], log["node"]["actor"]["user"]["externalId"]) == ("ADMIN", "ops")


# --- every run mutation, by a tenant's admin and by another tenant's -------------------------


@dataclass(frozen=True)
class RunMutation:
    document: str
    onboarding: bool  # on the onboarding run (journeyId), else on the journey run (instanceId)
    suspended_first: bool = False
    with_event: bool = False


RUN_MUTATIONS = {
    "suspendJourney": RunMutation(JOURNEY_CHANGE % "suspendJourney", onboarding=False),
    "resumeJourney": RunMutation(JOURNEY_CHANGE % "resumeJourney", onboarding=False, suspended_first=True),
    "abandonJourney": RunMutation(JOURNEY_CHANGE % "abandonJourney", onboarding=False),
    "startEvent": RunMutation(START_EVENT, onboarding=False, with_event=True),
    "completeEvent": RunMutation(COMPLETE_EVENT, onboarding=False, with_event=True),
    "progressOnboarding": RunMutation(ONBOARDING_CHANGE % "progressOnboarding", onboarding=True),
    "logOnboardingStep": RunMutation(LOG_ONBOARDING, onboarding=True),
    "suspendOnboarding": RunMutation(ONBOARDING_CHANGE % "suspendOnboarding", onboarding=True),
    "resumeOnboarding": RunMutation(ONBOARDING_CHANGE % "resumeOnboarding", onboarding=True, suspended_first=True),
    "abandonOnboarding": RunMutation(ONBOARDING_CHANGE % "abandonOnboarding", onboarding=True),
}


@pytest.mark.parametrize("name", list(RUN_MUTATIONS))
async def test_every_run_mutation_is_not_found_for_another_tenant_and_done_by_the_tenants_admin(
    actors: Actors, name: str
) -> None:
    # given alice's journey and onboarding runs (suspended, for a resume), and the admin and API
    # key of another tenant
    mutation = RUN_MUTATIONS[name]
    tenant, other = await actors.tenant(), await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 0], event_xp=5)
    onboarding = await make_onboarding(actors.db, tenant, steps=2)
    alice = actors.user(tenant, "alice")
    instance_id = _ok(await mutate(alice, START_JOURNEY, {"journeyId": to_global_id("Journey", journey.journey.id)}))[
        "instance"
    ]["id"]
    onboarding_run = _ok(
        await mutate(alice, START_ONBOARDING, {"onboardingId": to_global_id("Onboarding", onboarding.id)})
    )
    run_id = onboarding_run["onboardingJourney"]["id"]
    if mutation.suspended_first:
        suspend = ONBOARDING_CHANGE % "suspendOnboarding" if mutation.onboarding else JOURNEY_CHANGE % "suspendJourney"
        _ok(await mutate(alice, suspend, {"journeyId": run_id} if mutation.onboarding else {"instanceId": instance_id}))
    variables: dict[str, Any] = {"journeyId": run_id} if mutation.onboarding else {"instanceId": instance_id}
    if mutation.with_event:
        variables["journeyEventId"] = to_global_id("JourneyEvent", journey.events[0].id)
    logs = "onboarding_logs" if mutation.onboarding else "journey_logs"
    logged = await count(actors.db, f"SELECT count(*) FROM {logs}")
    field = ("journeyId",) if mutation.onboarding else ("instanceId",)

    # when another tenant's admin or API key tries it, then the run is NOT_FOUND and unchanged
    for stranger in (actors.admin(other, "ops"), await _api_key(actors, other)):
        assert _codes(await mutate(stranger, mutation.document, variables)) == [("NOT_FOUND", field)]
    assert await count(actors.db, f"SELECT count(*) FROM {logs}") == logged
    assert await count(actors.db, "SELECT count(*) FROM event_instances") == 0

    # and when the tenant's admin does it, it is done, logged as theirs
    _ok(await mutate(actors.admin(tenant, "ops"), mutation.document, variables))
    async with actors.db() as session:
        kind, actor_user = (
            await session.execute(
                text(
                    f"SELECT l.actor_kind, u.external_id FROM {logs} l LEFT JOIN users u ON u.id = l.actor_user_id "
                    "ORDER BY l.id DESC LIMIT 1"
                )
            )
        ).one()
    assert (kind, actor_user) == ("admin", "ops")
    assert await count(actors.db, f"SELECT count(*) FROM {logs}") > logged


# --- races -----------------------------------------------------------------------------------


async def test_twenty_completions_by_the_user_and_an_admin_award_xp_once_and_complete_once(actors: Actors) -> None:
    # given alice's run of a one-event journey: the event is worth 10 XP, the journey 100
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0], event_xp=10, xp_reward=100)
    alice, admin = actors.user(tenant, "alice"), actors.admin(tenant, "ops")
    started = _ok(await mutate(alice, START_JOURNEY, {"journeyId": to_global_id("Journey", journey.journey.id)}))
    variables = {
        "instanceId": started["instance"]["id"],
        "journeyEventId": to_global_id("JourneyEvent", journey.events[0].id),
    }

    # when ten requests by alice and ten by the admin complete its event at once
    payloads = await asyncio.gather(*(mutate(client, COMPLETE_EVENT, variables) for client in [alice, admin] * 10))

    # then all succeed, one of them awarded the event's and the journey's XP, to alice alone
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert sorted(p["xpAwarded"] for p in payloads) == [0] * 19 + [110]
    assert {p["instance"]["status"] for p in payloads} == {"COMPLETED"}
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 2
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'event_completed'") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'completed'") == 1
    assert await count(actors.db, "SELECT count(*) FROM outbox_events WHERE type = 'journey.completed'") == 1
    assert (await alice.data(MY_XP))["myXp"]["balance"] == 110
    assert (await admin.data(MY_XP))["myXp"]["balance"] == 0


# --- migration 0008 --------------------------------------------------------------------------


async def _migrate(url: str, direction: str, revision: str) -> None:
    step = command.upgrade if direction == "up" else command.downgrade
    await asyncio.to_thread(step, alembic_config(url), revision)


async def _columns(engine: AsyncEngine) -> list[tuple[str, ...]]:
    """Every column and foreign key of the log tables, as the database has them."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') "
                "FROM information_schema.columns WHERE table_name IN ('journey_logs', 'onboarding_logs') "
                "UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), '', '' "
                "FROM pg_constraint WHERE conrelid::regclass::text IN ('journey_logs', 'onboarding_logs') "
                "ORDER BY 1, 2"
            )
        )
        return [tuple(row) for row in rows]


async def test_entries_logged_before_0008_are_the_runs_users_and_the_downgrade_drops_the_actors(
    database_url: str,
) -> None:
    # given the demo tenant's runs with logs, on a database at 0007
    url = make_url(database_url).set(database=f"actors_{uuid.uuid4().hex[:10]}").render_as_string(False)
    await ensure_database(url)
    await _migrate(url, "up", "head")
    engine = create_engine(url, pool_size=2, max_overflow=0)
    try:
        factory = create_session_factory(engine)
        async with transaction(factory) as session:
            await load_demo(session)
        async with transaction(factory) as session:
            tenant = await get_tenant_by_slug(session, slug="demo")
            assert tenant is not None
            bob = await get_or_create_user(session, tenant_id=tenant.id, external_id="bob")
            (onboarding_id,) = (await session.execute(text("SELECT id FROM onboardings"))).scalars()
            await start_onboarding(session, tenant_id=tenant.id, user_id=bob.id, onboarding_id=onboarding_id)
        await _migrate(url, "down", "0007")
        at_0007 = await _columns(engine)
        assert not [c for c in at_0007 if c[1].startswith("actor_")]

        # when it is upgraded to 0008
        await _migrate(url, "up", "0008")

        # then every entry's actor is its run's user
        async with engine.connect() as conn:
            for logs, runs, run_id in (
                ("journey_logs", "journey_instances", "instance_id"),
                ("onboarding_logs", "onboarding_journeys", "journey_id"),
            ):
                total, theirs = (
                    await conn.execute(
                        text(
                            f"SELECT count(*), count(*) FILTER (WHERE l.actor_kind = 'user' "
                            f"AND l.actor_user_id = r.user_id AND l.actor_api_key_id IS NULL) "
                            f"FROM {logs} l JOIN {runs} r ON r.id = l.{run_id}"
                        )
                    )
                ).one()
                assert (logs, theirs) == (logs, total)
            for logs in ("journey_logs", "onboarding_logs"):
                assert (await conn.execute(text(f"SELECT count(*) FROM {logs}"))).scalar_one() > 0, logs

        # and downgrading again restores the columns and foreign keys of 0007 exactly
        await _migrate(url, "down", "0007")
        assert await _columns(engine) == at_0007
    finally:
        await engine.dispose()
