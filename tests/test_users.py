"""Users (SPEC §16) through the live server: the `User` node with its XP and classification,
`user(externalId)` and `users(search)` for admins only, `user` on runs, onboarding runs, avatar
sessions and realtime events (one user statement per page), `lastSeenAt` written at most once a
minute, and the `userExternalId` filters of the admin lists."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from app.avatars.models import AvatarMode, AvatarSession, AvatarSessionStatus
from app.graphql.relay import to_global_id
from app.modelbase import utcnow
from app.tenancy.credentials import Role
from app.tenancy.last_seen import LastSeen
from app.tenancy.models import Tenant, User
from tests.avatars_support import make_avatar
from tests.catalog_support import mutate
from tests.conftest import Actors, GraphQLClient, LiveServer
from tests.onboarding_support import make_onboarding, sample_form
from tests.progress_support import make_journey, make_user
from tests.subscription_support import graphql_socket

USER_FIELDS = (
    "id externalId role timezone createdAt lastSeenAt classification { segment { key } } "
    "xp { balance level currentLevelXp nextLevelXp history { edges { node { amount reason } } } }"
)
USER = f"query User($externalId: String!) {{ user(externalId: $externalId) {{ {USER_FIELDS} }} }}"
NODE = f"query Node($id: ID!) {{ node(id: $id) {{ __typename ... on User {{ {USER_FIELDS} }} }} }}"
USERS = """
query Users($first: Int, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) {
    edges { cursor node { id externalId } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
VIEWER = "query { viewer { id externalId } }"
START_JOURNEY = """
mutation Start($journeyId: ID!) { startJourney(journeyId: $journeyId) { instance { id } errors { code } } }
"""
COMPLETE_EVENT = """
mutation Complete($instanceId: ID!, $journeyEventId: ID!) {
  completeEvent(instanceId: $instanceId, journeyEventId: $journeyEventId) { xpAwarded errors { code } }
}
"""
START_ONBOARDING = """
mutation Start($onboardingId: ID!) {
  startOnboarding(onboardingId: $onboardingId) { onboardingJourney { id } errors { code } }
}
"""
COMPLETE_ONBOARDING = """
mutation Complete($onboardingId: ID!, $responses: [FormResponseInput!]!) {
  completeOnboarding(onboardingId: $onboardingId, responses: $responses, startRecommended: false) {
    classification { id } errors { code }
  }
}
"""
INSTANCES = """
query Instances($userId: ID, $userExternalId: String) {
  journeyInstances(first: 20, userId: $userId, userExternalId: $userExternalId) {
    edges { node { id userId user { id externalId role } } }
  }
}
"""
RUNS = """
query Runs($userId: ID, $userExternalId: String) {
  onboardingJourneys(first: 20, userId: $userId, userExternalId: $userExternalId) {
    edges { node { id userId user { id externalId } } }
  }
}
"""
SESSIONS = (
    "query Sessions($ids: [ID!]!) { nodes(ids: $ids) { ... on AvatarSession { userId user { id externalId } } } }"
)
MY_JOURNEYS = "query { myJourneys { edges { node { user { externalId } } } } }"
ADMIN_EVENTS = """
subscription AdminEvents($after: String, $userId: ID, $userExternalId: String) {
  adminEvents(after: $after, userId: $userId, userExternalId: $userExternalId) {
    id type userId user { id externalId }
  }
}
"""
CREATE_JOURNEY = 'mutation { createJourney(input: {slug: "fresh", title: "Fresh"}) { errors { code } } }'
_FROM_USERS = re.compile(r"\bFROM users\b", re.IGNORECASE)
_UPDATE_USERS = re.compile(r"^\s*UPDATE users\b", re.IGNORECASE)


@asynccontextmanager
async def statements_matching(server: LiveServer, pattern: re.Pattern[str]) -> AsyncIterator[list[str]]:
    """The server's SQL statements matching ``pattern`` while the block runs."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if pattern.search(statement):
            seen.append(statement)

    engine = server.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


async def _last_seen(actors: Actors, tenant: Tenant, external_id: str) -> datetime | None:
    async with actors.db() as session:
        found = await session.execute(
            text("SELECT last_seen_at FROM users WHERE tenant_id = :t AND external_id = :e"),
            {"t": tenant.id, "e": external_id},
        )
        value: datetime | None = found.scalar_one()
        return value


async def _set_last_seen(actors: Actors, user_id: uuid.UUID, at: datetime | None) -> None:
    async with actors.db() as session:
        await session.execute(text("UPDATE users SET last_seen_at = :at WHERE id = :id"), {"at": at, "id": user_id})


async def _payload(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    payload = await mutate(client, document, variables)
    assert payload["errors"] == [], payload
    return payload


# ---------------------------------------------------------------- the User node


async def test_a_user_node_has_its_xp_classification_and_sighting(actors: Actors) -> None:
    # given alice, who earned 50 XP in a journey and was classified by an onboarding's form
    tenant = await actors.tenant(timezone="Europe/Paris")
    made = await make_journey(actors.db, tenant, offsets=[0], event_xp=30, xp_reward=20)
    onboarding = await make_onboarding(actors.db, tenant, form=sample_form())
    alice = actors.user(tenant, "alice", timezone="America/New_York")
    journey_id = to_global_id("Journey", made.journey.id)
    instance = (await _payload(alice, START_JOURNEY, {"journeyId": journey_id}))["instance"]
    event_id = to_global_id("JourneyEvent", made.events[0].id)
    done = await _payload(alice, COMPLETE_EVENT, {"instanceId": instance["id"], "journeyEventId": event_id})
    assert done["xpAwarded"] == 50
    onboarding_id = to_global_id("Onboarding", onboarding.id)
    await _payload(alice, START_ONBOARDING, {"onboardingId": onboarding_id})
    answers = [{"questionKey": "goal", "values": ["learn"]}]
    await _payload(alice, COMPLETE_ONBOARDING, {"onboardingId": onboarding_id, "responses": answers})
    alice_id = (await alice.data(VIEWER))["viewer"]["id"]
    admin = actors.admin(tenant, "ada")

    # when an admin reads her by external id and by global id
    found = (await admin.data(USER, {"externalId": "alice"}))["user"]
    by_node = (await admin.data(NODE, {"id": alice_id}))["node"]

    # then both show her, her own XP (not the admin's) and her classification
    assert by_node == {"__typename": "User", **found}
    assert found["id"] == alice_id and found["externalId"] == "alice" and found["role"] == "USER"
    assert found["timezone"] == "America/New_York"  # hers (from her first token), not the tenant's
    assert found["classification"] == {"segment": {"key": "beginner"}}
    assert found["xp"]["balance"] == 50 and found["xp"]["level"] == 1 and found["xp"]["nextLevelXp"] == 100
    assert sorted(e["node"]["amount"] for e in found["xp"]["history"]["edges"]) == [20, 30]
    last_seen = datetime.fromisoformat(found["lastSeenAt"])
    assert abs(utcnow() - last_seen) < timedelta(minutes=1)
    assert datetime.fromisoformat(found["createdAt"]) <= last_seen
    # the admin is a user too, seen with the admin role; without a timezone of their own, the tenant's
    ada = (await admin.data(USER, {"externalId": "ada"}))["user"]
    assert ada["role"] == "ADMIN" and ada["timezone"] == "Europe/Paris" and ada["xp"]["balance"] == 0
    assert ada["classification"] is None and ada["xp"]["history"]["edges"] == []
    assert (await admin.data(USER, {"externalId": "nobody"}))["user"] is None


async def test_users_see_themselves_only_and_tenants_see_their_own(actors: Actors) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    alice, bob = actors.user(tenant, "alice"), actors.user(tenant, "bob")
    alice_id = (await alice.data(VIEWER))["viewer"]["id"]
    await bob.data(VIEWER)
    foreign = actors.user(other, "alice")
    foreign_id = (await foreign.data(VIEWER))["viewer"]["id"]

    assert (await alice.data(NODE, {"id": alice_id}))["node"]["externalId"] == "alice"
    assert (await bob.data(NODE, {"id": alice_id}))["node"] is None
    admin = actors.admin(tenant)
    assert (await admin.data(NODE, {"id": foreign_id}))["node"] is None
    # the other tenant's alice is not this tenant's alice, nor found by a search
    assert (await admin.data(USER, {"externalId": "alice"}))["user"]["id"] == alice_id
    listed = (await admin.data(USERS, {"search": "alice"}))["users"]["edges"]
    assert [e["node"]["id"] for e in listed] == [alice_id]


async def test_user_and_users_are_for_admins_only(actors: Actors) -> None:
    tenant = await actors.tenant()
    alice = actors.user(tenant, "alice")
    assert await alice.error_codes(USER, {"externalId": "alice"}) == ["FORBIDDEN"]
    assert await alice.error_codes(USERS) == ["FORBIDDEN"]
    created = await mutate(
        actors.admin(tenant), 'mutation { createApiKey(name: "backend") { secret errors { code } } }', {}
    )
    key = actors.credential(created["secret"])
    assert (await key.data(USER, {"externalId": "alice"}))["user"]["externalId"] == "alice"


async def test_users_page_newest_first_and_search_by_a_literal_prefix(actors: Actors, db: Any) -> None:
    # given users made in this order (the admin is seen first)
    tenant, other = await actors.tenant(), await actors.tenant()
    admin = actors.admin(tenant, "root")
    await admin.data(VIEWER)
    names = ["ann", "anna", "an_x", "an%y", "anxy", "bob", "a\\b", "an\\z"]
    for name in names:
        await make_user(db, tenant, name)
    await make_user(db, other, "annabel")

    # when an admin pages through all of them two at a time
    seen: list[str] = []
    after = None
    while True:
        page = (await admin.data(USERS, {"first": 2, "after": after}))["users"]
        seen += [e["node"]["externalId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # then each user came once, newest first, and only this tenant's
    assert seen == [*reversed(names), "root"]

    async def search(prefix: str) -> list[str]:
        edges = (await admin.data(USERS, {"search": prefix}))["users"]["edges"]
        return [e["node"]["externalId"] for e in edges]

    assert await search("an") == ["an\\z", "anxy", "an%y", "an_x", "anna", "ann"]
    assert await search("an_") == ["an_x"]  # `_` is a character, not a wildcard
    assert await search("an%") == ["an%y"]
    assert await search("a\\") == ["a\\b"]
    assert await search("an\\") == ["an\\z"]
    assert await search("annab") == []  # another tenant's
    assert await search("") == seen
    # a cursor belongs to its search
    first = (await admin.data(USERS, {"first": 1, "search": "an"}))["users"]["pageInfo"]["endCursor"]
    assert await admin.error_codes(USERS, {"after": first, "search": "b"}) == ["BAD_USER_INPUT"]


async def test_the_prefix_search_is_served_by_an_index(actors: Actors, db: Any) -> None:
    # given a tenant with 5,000 users
    tenant = await actors.tenant()
    async with db() as session:
        await session.execute(
            text(
                "INSERT INTO users (id, tenant_id, external_id) SELECT gen_random_uuid(), :t, 'user-' || n "
                "FROM generate_series(1, 5000) AS n"
            ),
            {"t": tenant.id},
        )
        await session.execute(text("ANALYZE users"))
    # when the planner plans a search for a prefix (with an escaped wildcard, as users(search:) sends it)
    async with db() as session:
        plan = await session.execute(
            text("EXPLAIN SELECT id FROM users WHERE tenant_id = :t AND external_id LIKE 'user-42\\_%' ESCAPE '\\'"),
            {"t": tenant.id},
        )
        lines = "\n".join(plan.scalars())
    # then the prefix bounds a range of the prefix index
    assert "ix_users_tenant_external_prefix" in lines, lines
    assert "~>=~" in lines and "~<~" in lines, lines


# ---------------------------------------------------------------- `user` on runs, sessions and events


async def test_user_on_runs_and_sessions_costs_one_statement_per_page(
    actors: Actors, server: LiveServer, db: Any
) -> None:
    # given 20 users, each with a journey run, an onboarding run and an avatar session
    tenant = await actors.tenant()
    made = await make_journey(actors.db, tenant, offsets=[0])
    onboarding = await make_onboarding(actors.db, tenant, steps=2)
    avatar = await make_avatar(db, tenant)
    names = [f"user-{n:02}" for n in range(20)]
    for name in names:
        client = actors.user(tenant, name)
        await _payload(client, START_JOURNEY, {"journeyId": to_global_id("Journey", made.journey.id)})
        await _payload(client, START_ONBOARDING, {"onboardingId": to_global_id("Onboarding", onboarding.id)})
    async with db() as session:
        users = (await session.execute(text("SELECT id FROM users WHERE tenant_id = :t"), {"t": tenant.id})).scalars()
        rows = [
            AvatarSession(
                tenant_id=tenant.id,
                user_id=user_id,
                avatar_id=avatar.id,
                livekit_room_name=f"room-{uuid.uuid4().hex}",
                mode=AvatarMode.VOICE,
                status=AvatarSessionStatus.ENDED,
            )
            for user_id in users
        ]
        session.add_all(rows)
    session_ids = [to_global_id("AvatarSession", row.id) for row in rows]
    admin = actors.admin(tenant)
    await admin.data(VIEWER)  # the admin's viewer is cached from now on

    # when an admin reads each page with its users
    async with statements_matching(server, _FROM_USERS) as reads:
        instances = (await admin.data(INSTANCES))["journeyInstances"]["edges"]
    instance_reads = len(reads)
    async with statements_matching(server, _FROM_USERS) as reads:
        runs = (await admin.data(RUNS))["onboardingJourneys"]["edges"]
    run_reads = len(reads)
    async with statements_matching(server, _FROM_USERS) as reads:
        sessions = (await admin.data(SESSIONS, {"ids": session_ids}))["nodes"]
    session_reads = len(reads)

    # then each page read its 20 users in one statement, each node with its own user
    assert (instance_reads, run_reads, session_reads) == (1, 1, 1)
    for nodes in ([e["node"] for e in instances], [e["node"] for e in runs], sessions):
        assert len(nodes) == 20
        assert all(n["user"]["id"] == n["userId"] for n in nodes)
        assert sorted(n["user"]["externalId"] for n in nodes) == names
    assert {n["node"]["user"]["role"] for n in instances} == {"USER"}
    # and a user sees themselves on their own runs
    mine = (await actors.user(tenant, "user-03").data(MY_JOURNEYS))["myJourneys"]["edges"]
    assert [e["node"]["user"]["externalId"] for e in mine] == ["user-03"]


async def test_realtime_events_carry_their_user_and_admin_events_filter_by_either_id(
    actors: Actors, server: LiveServer
) -> None:
    # given a tenant-wide event and a journey started by alice and by bob
    tenant = await actors.tenant()
    made = await make_journey(actors.db, tenant, offsets=[0])
    admin = actors.admin(tenant, "ada")
    assert (await mutate(admin, CREATE_JOURNEY, {}))["errors"] == []
    journey_id = to_global_id("Journey", made.journey.id)
    alice, bob = actors.user(tenant, "alice"), actors.user(tenant, "bob")
    await _payload(alice, START_JOURNEY, {"journeyId": journey_id})
    await _payload(bob, START_JOURNEY, {"journeyId": journey_id})
    alice_id = (await alice.data(VIEWER))["viewer"]["id"]
    async with actors.db() as session:
        stored = (
            await session.execute(text("SELECT count(*) FROM outbox_events WHERE tenant_id = :t"), {"t": tenant.id})
        ).scalar_one()

    async with graphql_socket(actors.http, actors.token(tenant, "ada", role=Role.ADMIN)) as socket:
        # when an admin replays the tenant's events
        async with statements_matching(server, _FROM_USERS) as reads:
            await socket.subscribe("all", ADMIN_EVENTS, {"after": "0"})
            everything = await socket.events("all", stored)
        # (each event is resolved on its own: one user statement for each user's event, none for the tenant's)
        assert len(reads) == sum(1 for e in everything if e["userId"] is not None)

        # then tenant-wide events have no user, and a user's event names them (UUID and node alike)
        assert any(e["userId"] is None and e["user"] is None for e in everything)
        started = [e for e in everything if e["type"] == "journey.started"]
        assert sorted(e["user"]["externalId"] for e in started) == ["alice", "bob"]
        (alice_event,) = [e for e in started if e["user"]["externalId"] == "alice"]
        assert alice_event["user"]["id"] == alice_id
        assert alice_event["userId"] == str(uuid.UUID(alice_event["userId"]))  # the UUID of channel names
        alice_events = [e for e in everything if e["user"] and e["user"]["externalId"] == "alice"]

        # and filtering by the event's own userId, the global id or the external id gives alice's events
        for n, variables in enumerate(
            (
                {"userId": alice_event["userId"]},
                {"userId": alice_id},
                {"userExternalId": "alice"},
                {"userId": alice_id, "userExternalId": "alice"},
            )
        ):
            await socket.subscribe(f"alice-{n}", ADMIN_EVENTS, {"after": "0", **variables})
            assert await socket.events(f"alice-{n}", len(alice_events)) == alice_events, variables
            assert await socket.quiet(f"alice-{n}", 0.2) == []
        # an unknown external id matches nothing; two ids of different users are refused
        await socket.subscribe("nobody", ADMIN_EVENTS, {"after": "0", "userExternalId": "nobody"})
        assert await socket.quiet("nobody", 0.3) == []
        await socket.subscribe("both", ADMIN_EVENTS, {"userId": alice_id, "userExternalId": "bob"})
        message = await socket.message("both")
        assert message["type"] == "next"
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- filters by external id


async def test_admin_lists_filter_by_external_id(actors: Actors) -> None:
    tenant = await actors.tenant()
    made = await make_journey(actors.db, tenant, offsets=[0])
    onboarding = await make_onboarding(actors.db, tenant, steps=2)
    ids = {}
    for name in ("alice", "bob"):
        client = actors.user(tenant, name)
        await _payload(client, START_JOURNEY, {"journeyId": to_global_id("Journey", made.journey.id)})
        await _payload(client, START_ONBOARDING, {"onboardingId": to_global_id("Onboarding", onboarding.id)})
        ids[name] = (await client.data(VIEWER))["viewer"]["id"]
    admin = actors.admin(tenant)

    for document, name in ((INSTANCES, "journeyInstances"), (RUNS, "onboardingJourneys")):

        async def owners(variables: dict[str, Any], document: str = document, name: str = name) -> list[str]:
            edges = (await admin.data(document, variables))[name]["edges"]
            return [e["node"]["user"]["externalId"] for e in edges]

        assert sorted(await owners({})) == ["alice", "bob"]
        assert await owners({"userExternalId": "alice"}) == ["alice"]
        assert await owners({"userExternalId": "alice", "userId": ids["alice"]}) == ["alice"]
        assert await owners({"userExternalId": "nobody"}) == []
        assert await admin.error_codes(document, {"userExternalId": "alice", "userId": ids["bob"]}) == [
            "BAD_USER_INPUT"
        ]
        assert await admin.error_codes(document, {"userExternalId": "nobody", "userId": ids["bob"]}) == [
            "BAD_USER_INPUT"
        ]
        assert await actors.user(tenant, "alice").error_codes(document, {"userExternalId": "alice"}) == ["FORBIDDEN"]


# ---------------------------------------------------------------- lastSeenAt


async def test_last_seen_is_written_once_a_minute_however_many_requests(
    actors: Actors, server: LiveServer, db: Any
) -> None:
    # given carol, known to the tenant but never seen (created by someone acting for her)
    tenant = await actors.tenant()
    await make_user(db, tenant, "carol")
    assert await _last_seen(actors, tenant, "carol") is None
    carol = actors.user(tenant, "carol", role=Role.ADMIN)

    # when she sends 20 requests at once (written by the time they are all answered) ...
    async with statements_matching(server, _UPDATE_USERS) as writes:
        await asyncio.gather(*(carol.data(VIEWER) for _ in range(20)))
    first = await _last_seen(actors, tenant, "carol")
    # ... and 20 more one after the other
    async with statements_matching(server, _UPDATE_USERS) as more_writes:
        for _ in range(20):
            await carol.data(VIEWER)

    # then her sighting and role were written once, by the first of them
    assert len(writes) == 1 and more_writes == [], (writes, more_writes)
    assert first is not None and abs(utcnow() - first) < timedelta(minutes=1)
    assert await _last_seen(actors, tenant, "carol") == first
    found = (await actors.admin(tenant).data(USER, {"externalId": "carol"}))["user"]
    assert found["role"] == "ADMIN" and datetime.fromisoformat(found["lastSeenAt"]) == first


async def test_a_first_seen_user_is_created_seen_without_another_write(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    async with statements_matching(server, _UPDATE_USERS) as writes:
        for _ in range(5):
            await actors.user(tenant, "dave").data(VIEWER)
    assert writes == []
    seen = await _last_seen(actors, tenant, "dave")
    assert seen is not None and abs(utcnow() - seen) < timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def _row(db: Any, user_id: uuid.UUID) -> User:
    async with db() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


async def test_a_sighting_is_written_again_after_a_minute(actors: Actors, server: LiveServer, db: Any) -> None:
    # given erin, last seen two minutes ago, and a process's memory of sightings on a clock we drive
    tenant = await actors.tenant()
    erin = await make_user(db, tenant, "erin")
    await _set_last_seen(actors, erin.id, utcnow() - timedelta(minutes=2))
    clock = Clock()
    seen = LastSeen(clock=clock)
    sessions = server.runtime.sessions

    # when she is seen: written
    assert seen.due(await _row(db, erin.id)) is True
    await seen.write(sessions, user_id=erin.id, role=Role.USER)
    written = await _last_seen(actors, tenant, "erin")
    assert written is not None and utcnow() - written < timedelta(seconds=30)
    # within the minute: not again
    clock.now += timedelta(seconds=59)
    assert seen.due(await _row(db, erin.id)) is False
    # after it: again, and the row changes only if no process wrote it within the minute
    clock.now += timedelta(seconds=2)
    assert seen.due(await _row(db, erin.id)) is True
    await seen.write(sessions, user_id=erin.id, role=Role.ADMIN)
    assert await _last_seen(actors, tenant, "erin") == written  # another process's recent write stands
    await _set_last_seen(actors, erin.id, utcnow() - timedelta(seconds=61))
    clock.now += timedelta(seconds=61)
    assert seen.due(await _row(db, erin.id)) is True
    await seen.write(sessions, user_id=erin.id, role=Role.ADMIN)
    rewritten = await _last_seen(actors, tenant, "erin")
    assert rewritten is not None and rewritten > written
    assert (await _row(db, erin.id)).role == "admin"


async def test_a_sighting_loaded_with_the_row_counts_as_written(actors: Actors, db: Any) -> None:
    tenant = await actors.tenant()
    frank = await make_user(db, tenant, "frank")
    await _set_last_seen(actors, frank.id, utcnow() - timedelta(seconds=30))
    clock = Clock()
    seen = LastSeen(clock=clock)
    assert seen.due(await _row(db, frank.id)) is False  # another process saw him 30 s ago
    clock.now += timedelta(seconds=31)
    assert seen.due(await _row(db, frank.id)) is True


async def test_a_websocket_connection_is_a_sighting(actors: Actors, db: Any) -> None:
    tenant = await actors.tenant()
    await make_user(db, tenant, "gina")
    async with graphql_socket(actors.http, actors.token(tenant, "gina")):
        seen = await _last_seen(actors, tenant, "gina")
    assert seen is not None and abs(utcnow() - seen) < timedelta(minutes=1)


async def test_a_page_of_users_reads_their_xp_and_classifications_in_one_statement_each(
    actors: Actors, server: LiveServer, db: Any
) -> None:
    tenant = await actors.tenant()
    made = await make_journey(actors.db, tenant, offsets=[0], event_xp=10)
    for n in range(15):
        client = actors.user(tenant, f"user-{n:02}")
        instance = (await _payload(client, START_JOURNEY, {"journeyId": to_global_id("Journey", made.journey.id)}))[
            "instance"
        ]
        if n % 3 == 0:
            event_id = to_global_id("JourneyEvent", made.events[0].id)
            await _payload(client, COMPLETE_EVENT, {"instanceId": instance["id"], "journeyEventId": event_id})
    admin = actors.admin(tenant, "root")
    await admin.data(VIEWER)
    deep = "query { users(first: 20) { nodes { externalId xp { balance level } classification { id } } } }"
    async with (
        statements_matching(server, re.compile(r"\bFROM xp_entries\b")) as xp_reads,
        statements_matching(server, re.compile(r"\bFROM classifications\b")) as classification_reads,
    ):
        nodes = (await admin.data(deep))["users"]["nodes"]
    assert (len(xp_reads), len(classification_reads)) == (1, 1)
    balances = {n["externalId"]: n["xp"]["balance"] for n in nodes}
    assert balances == {"root": 0, **{f"user-{n:02}": 10 if n % 3 == 0 else 0 for n in range(15)}}
    assert all(n["classification"] is None and n["xp"]["level"] == 1 for n in nodes)
