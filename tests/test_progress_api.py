"""Journey progress through the HTTP API: real concurrent requests, every error code the
progress operations give (as payload or top-level errors) and that they change nothing,
who may see an instance, paging of instances, events and logs, today's events in local
days, statement counts that do not grow with page sizes, and schedules shifted by suspensions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from app.graphql.relay import local_id, to_global_id
from app.progress.clock import local_date
from app.progress.events import start_event
from app.progress.service import start_journey
from app.tenancy.models import Tenant
from tests.catalog_support import (
    PUBLISH_JOURNEY,
    REORDER_EVENTS,
    UPDATE_EVENT,
    UPGRADE_INSTANCES,
    bulk_journeys,
    mutate,
)
from tests.conftest import Actors, GraphQLClient, StatementCounter
from tests.progress_support import PublishedJourney, count, make_journey, make_user, outbox_events, outbox_types

KIRITIMATI = "Pacific/Kiritimati"  # UTC+14
PAGO_PAGO = "Pacific/Pago_Pago"  # UTC-11: never the same local day as Kiritimati

USER_ERRORS = "errors { code message field }"
INSTANCE_FIELDS = (
    "id status userId startedOn timezone suspendedAt completedAt metadata journey { id } "
    "progress { completedEvents totalEvents percent }"
)
EVENT_INSTANCE_FIELDS = "id position status scheduledOn startedAt completedAt journeyEvent { id title }"

START_JOURNEY = f"""
mutation StartJourney($journeyId: ID!, $timezone: String, $metadata: JSON) {{
  startJourney(journeyId: $journeyId, timezone: $timezone, metadata: $metadata) {{
    instance {{ {INSTANCE_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
SUSPEND, RESUME, ABANDON = (
    f"""
mutation Transition($instanceId: ID!, $metadata: JSON) {{
  {name}(instanceId: $instanceId, metadata: $metadata) {{ instance {{ {INSTANCE_FIELDS} }} {USER_ERRORS} }}
}}
"""
    for name in ("suspendJourney", "resumeJourney", "abandonJourney")
)
START_EVENT = f"""
mutation StartEvent($instanceId: ID!, $journeyEventId: ID!) {{
  startEvent(instanceId: $instanceId, journeyEventId: $journeyEventId) {{
    eventInstance {{ {EVENT_INSTANCE_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
COMPLETE_EVENT = f"""
mutation CompleteEvent($instanceId: ID!, $journeyEventId: ID!, $metadata: JSON) {{
  completeEvent(instanceId: $instanceId, journeyEventId: $journeyEventId, metadata: $metadata) {{
    eventInstance {{ {EVENT_INSTANCE_FIELDS} }}
    instance {{ id status completedAt progress {{ completedEvents totalEvents percent }} }}
    xpAwarded levelBefore levelAfter rewardsUnlocked {{ id title }}
    {USER_ERRORS}
  }}
}}
"""
CREATE_REWARD = f"""
mutation CreateReward($input: RewardInput!) {{ createReward(input: $input) {{ reward {{ id }} {USER_ERRORS} }} }}
"""

INSTANCE = f"""
query Instance($id: ID!) {{
  journeyInstance(id: $id) {{
    {INSTANCE_FIELDS}
    events(first: 100) {{ edges {{ node {{ {EVENT_INSTANCE_FIELDS} }} }} }}
  }}
}}
"""
NODE = """
query Node($id: ID!) {
  node(id: $id) {
    id ... on JourneyInstance { instanceStatus: status } ... on EventInstance { eventStatus: status position }
  }
}
"""
EVENTS_PAGE = """
query Events($id: ID!, $first: Int!, $after: String, $status: EventInstanceStatus) {
  journeyInstance(id: $id) {
    events(first: $first, after: $after, status: $status) {
      edges { cursor node { id position status scheduledOn } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""
LOGS_PAGE = """
query Logs($id: ID!, $first: Int!, $after: String) {
  journeyInstance(id: $id) {
    logs(first: $first, after: $after) {
      edges { cursor node { action metadata loggedAt event { id position title } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
MY_JOURNEYS = """
query MyJourneys($first: Int!, $after: String, $status: JourneyInstanceStatus) {
  myJourneys(first: $first, after: $after, status: $status) {
    edges { cursor node { id status } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""
MY_JOURNEYS_DEEP = """
query MyJourneysDeep($first: Int!) {
  myJourneys(first: $first) {
    edges {
      node {
        id
        journey { title events { id } }
        progress { completedEvents totalEvents percent }
        events(first: 10) { edges { node { status journeyEvent { title } } } }
        logs(first: 5) { edges { node { action } } }
      }
    }
    pageInfo { hasNextPage }
  }
}
"""
ADMIN_INSTANCES = """
query AdminInstances($userId: ID) {
  journeyInstances(first: 100, userId: $userId) { edges { node { id userId status } } }
}
"""
TODAY = """
query Today($date: Date, $timezone: String) {
  todayEvents(date: $date, timezone: $timezone) {
    instance { id } journey { id } events { position status scheduledOn }
  }
}
"""
MY_XP = "query { myXp { balance level } }"


# --- helpers ----------------------------------------------------------------------------------


def _journey_id(journey: PublishedJourney) -> str:
    return to_global_id("Journey", journey.journey.id)


def _event_ids(journey: PublishedJourney) -> list[str]:
    return [to_global_id("JourneyEvent", e.id) for e in journey.events]


def _key(instance_id: str) -> uuid.UUID:
    key = local_id(instance_id, "JourneyInstance")
    assert key is not None
    return key


def _codes(payload: dict[str, Any]) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(e["code"], tuple(e["field"]) if e["field"] is not None else None) for e in payload["errors"]]


async def _start(client: GraphQLClient, journey: PublishedJourney, **variables: Any) -> dict[str, Any]:
    payload = await mutate(client, START_JOURNEY, {"journeyId": _journey_id(journey), **variables})
    assert payload["errors"] == [], payload
    instance: dict[str, Any] = payload["instance"]
    return instance


async def _transition(client: GraphQLClient, document: str, instance_id: str, **variables: Any) -> dict[str, Any]:
    return await mutate(client, document, {"instanceId": instance_id, **variables})


async def _start_event(client: GraphQLClient, instance_id: str, event_id: str) -> dict[str, Any]:
    return await mutate(client, START_EVENT, {"instanceId": instance_id, "journeyEventId": event_id})


async def _complete(client: GraphQLClient, instance_id: str, event_id: str, **variables: Any) -> dict[str, Any]:
    return await mutate(client, COMPLETE_EVENT, {"instanceId": instance_id, "journeyEventId": event_id, **variables})


async def _instance(client: GraphQLClient, instance_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await client.data(INSTANCE, {"id": instance_id}))["journeyInstance"]
    return found


async def _node(client: GraphQLClient, node_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await client.data(NODE, {"id": node_id}))["node"]
    return found


async def _events_page(client: GraphQLClient, instance_id: str, **variables: Any) -> dict[str, Any]:
    data = await client.data(EVENTS_PAGE, {"id": instance_id, **variables})
    page: dict[str, Any] = data["journeyInstance"]["events"]
    return page


async def _logs_page(client: GraphQLClient, instance_id: str, **variables: Any) -> dict[str, Any]:
    data = await client.data(LOGS_PAGE, {"id": instance_id, **variables})
    page: dict[str, Any] = data["journeyInstance"]["logs"]
    return page


async def _all_logs(client: GraphQLClient, instance_id: str) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (await _logs_page(client, instance_id, first=100))["edges"]]


async def _my_journeys(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await client.data(MY_JOURNEYS, {"first": 20, **variables}))["myJourneys"]
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


async def _today(client: GraphQLClient, **variables: Any) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = (await client.data(TODAY, variables))["todayEvents"]
    return groups


async def _move_start_back(db: Any, instance_id: str, days: int) -> None:
    """Pretend the instance started ``days`` earlier."""
    async with db() as session:
        await session.execute(
            text(
                "UPDATE journey_instances SET started_on = started_on - CAST(:days AS integer), "
                "started_at = started_at - make_interval(days => CAST(:days AS integer)) WHERE id = :id"
            ),
            {"days": days, "id": _key(instance_id)},
        )


async def _backdate_suspension(db: Any, instance_id: str, ago: timedelta) -> None:
    """Pretend the instance was suspended ``ago``."""
    async with db() as session:
        await session.execute(
            text("UPDATE journey_instances SET suspended_at = now() - CAST(:ago AS interval) WHERE id = :id"),
            {"ago": ago, "id": _key(instance_id)},
        )


def _day(value: str) -> date:
    return date.fromisoformat(value)


# --- concurrency through HTTP -----------------------------------------------------------------


async def test_twenty_concurrent_starts_make_one_instance_and_nineteen_already_active(actors: Actors) -> None:
    # given a published journey and a user never seen before
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant)
    alice = actors.user(tenant)

    # when twenty requests start it at once
    payloads = await asyncio.gather(
        *(mutate(alice, START_JOURNEY, {"journeyId": _journey_id(journey)}) for _ in range(20))
    )

    # then exactly one returns an instance and each of the others one ALREADY_ACTIVE
    started = [p["instance"] for p in payloads if p["instance"] is not None]
    assert len(started) == 1
    assert [p["errors"] for p in payloads if p["instance"] is not None] == [[]]
    assert sorted(_codes(p) for p in payloads if p["instance"] is None) == [[("ALREADY_ACTIVE", ("journeyId",))]] * 19
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs") == 1
    assert await count(actors.db, "SELECT count(*) FROM users WHERE tenant_id = :t", t=tenant.id) == 1
    assert await outbox_types(actors.db) == ["journey.started"]
    assert _ids(await _my_journeys(alice)) == [started[0]["id"]]


async def test_twenty_concurrent_event_starts_return_one_event_instance(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, None])
    alice = actors.user(tenant)
    instance = await _start(alice, journey)
    event_id = _event_ids(journey)[1]

    payloads = await asyncio.gather(*(_start_event(alice, instance["id"], event_id) for _ in range(20)))

    assert [p["errors"] for p in payloads] == [[]] * 20
    started = [p["eventInstance"] for p in payloads]
    assert len({e["id"] for e in started}) == 1
    assert {(e["status"], e["startedAt"], e["position"]) for e in started} == {
        ("IN_PROGRESS", started[0]["startedAt"], 2)
    }
    assert await count(actors.db, "SELECT count(*) FROM event_instances") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'event_started'") == 1
    assert (await outbox_types(actors.db)).count("event.started") == 1
    found = await _instance(alice, instance["id"])
    assert found is not None
    assert [(e["node"]["id"], e["node"]["status"]) for e in found["events"]["edges"]][1] == (
        started[0]["id"],
        "IN_PROGRESS",
    )


async def test_twenty_concurrent_completions_award_the_events_xp_once(actors: Actors) -> None:
    # given a journey whose first event is worth enough XP for level 2, and a level-2 reward
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    reward = await mutate(admin, CREATE_REWARD, {"input": {"title": "Badge", "requiredLevel": 2}})
    assert reward["errors"] == []
    journey = await make_journey(actors.db, tenant, offsets=[0, 0], event_xp=[120, 5], xp_reward=500)
    alice = actors.user(tenant)
    instance = await _start(alice, journey)
    event_id = _event_ids(journey)[0]

    # when twenty requests complete it at once
    payloads = await asyncio.gather(*(_complete(alice, instance["id"], event_id) for _ in range(20)))

    # then all succeed, but only one awarded the XP, levelled up and unlocked the reward
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert sum(p["xpAwarded"] for p in payloads) == 120
    assert sorted(p["xpAwarded"] for p in payloads) == [0] * 19 + [120]
    assert sorted((p["levelBefore"], p["levelAfter"]) for p in payloads) == [(1, 2)] + [(2, 2)] * 19
    assert [r["id"] for p in payloads for r in p["rewardsUnlocked"]] == [reward["reward"]["id"]]
    assert {p["eventInstance"]["status"] for p in payloads} == {"COMPLETED"}
    assert len({p["eventInstance"]["completedAt"] for p in payloads}) == 1
    assert {p["instance"]["status"] for p in payloads} == {"ACTIVE"}
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'event_completed'") == 1
    assert (await alice.data(MY_XP))["myXp"] == {"balance": 120, "level": 2}


async def test_completing_the_last_two_events_at_once_completes_the_instance_once(actors: Actors) -> None:
    # given an instance with one of three 10-XP events done, of a journey worth 100 XP
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 0, None], event_xp=10, xp_reward=100)
    alice = actors.user(tenant)
    instance = await _start(alice, journey)
    first, second, third = _event_ids(journey)
    assert (await _complete(alice, instance["id"], first))["xpAwarded"] == 10

    # when the last two are completed at once, ten times each
    payloads = await asyncio.gather(
        *(_complete(alice, instance["id"], event) for _ in range(10) for event in (second, third))
    )

    # then the instance completed once and the journey's XP was awarded once
    assert [p["errors"] for p in payloads] == [[]] * 20
    assert sorted(p["xpAwarded"] for p in payloads if p["xpAwarded"]) == [10, 110]
    completed_at = {p["instance"]["completedAt"] for p in payloads if p["instance"]["status"] == "COMPLETED"}
    assert len(completed_at) == 1 and None not in completed_at
    found = await _instance(alice, instance["id"])
    assert found is not None
    assert (found["status"], found["completedAt"]) == ("COMPLETED", completed_at.pop())
    assert found["progress"] == {"completedEvents": 3, "totalEvents": 3, "percent": 100}
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 4
    assert await count(actors.db, "SELECT count(*) FROM xp_entries WHERE reason = 'journey_completed'") == 1
    assert await count(actors.db, "SELECT sum(amount) FROM xp_entries") == 130
    assert await count(actors.db, "SELECT count(*) FROM outbox_events WHERE type = 'journey.completed'") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'completed'") == 1
    assert (await alice.data(MY_XP))["myXp"]["balance"] == 130


# --- error codes ------------------------------------------------------------------------------


async def test_only_a_published_journey_of_the_tenant_can_be_started(actors: Actors) -> None:
    # given journeys a user may not start, and one they may
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    draft = await make_journey(actors.db, tenant, publish=False)
    foreign = await make_journey(actors.db, other_tenant)
    journey = await make_journey(actors.db, tenant)
    alice = actors.user(tenant)
    not_startable = [
        to_global_id("Journey", uuid.uuid4()),
        "not-a-global-id",
        _event_ids(journey)[0],
        _journey_id(draft),
        _journey_id(foreign),
    ]

    # then each is NOT_FOUND, once
    for journey_id in not_startable:
        payload = await mutate(alice, START_JOURNEY, {"journeyId": journey_id})
        assert (payload["instance"], _codes(payload)) == (None, [("NOT_FOUND", ("journeyId",))]), journey_id

    # an unknown timezone is BAD_USER_INPUT in the payload
    payload = await mutate(alice, START_JOURNEY, {"journeyId": _journey_id(journey), "timezone": "Mars/Olympus"})
    assert (payload["instance"], _codes(payload)) == (None, [("BAD_USER_INPUT", ("timezone",))])

    # metadata over 16 KiB, or not an object, is refused before the resolver runs
    for metadata in ({"blob": "x" * 17_000}, ["not", "an", "object"]):
        body = await alice.post(START_JOURNEY, {"journeyId": _journey_id(journey), "metadata": metadata})
        assert body.get("data") is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]

    # and none of it left anything behind
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 0
    assert await count(actors.db, "SELECT count(*) FROM journey_logs") == 0
    # while the same journey with valid input starts
    started = await _start(alice, journey, timezone="Asia/Tokyo", metadata={"blob": "x" * 16_000})
    assert (started["status"], started["timezone"]) == ("ACTIVE", "Asia/Tokyo")


async def test_already_active_until_the_instance_is_abandoned_or_completed(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[None])
    alice = actors.user(tenant)
    (event_id,) = _event_ids(journey)
    already = [("ALREADY_ACTIVE", ("journeyId",))]

    first = await _start(alice, journey)
    assert _codes(await mutate(alice, START_JOURNEY, {"journeyId": _journey_id(journey)})) == already
    # a suspended instance still blocks a start
    assert (await _transition(alice, SUSPEND, first["id"]))["instance"]["status"] == "SUSPENDED"
    assert _codes(await mutate(alice, START_JOURNEY, {"journeyId": _journey_id(journey)})) == already
    # an abandoned one does not
    assert (await _transition(alice, ABANDON, first["id"]))["instance"]["status"] == "ABANDONED"
    second = await _start(alice, journey)
    # nor does a completed one
    done = await _complete(alice, second["id"], event_id)
    assert done["instance"]["status"] == "COMPLETED"
    third = await _start(alice, journey)

    assert len({first["id"], second["id"], third["id"]}) == 3
    everything = await _my_journeys(alice)
    assert [(e["node"]["id"], e["node"]["status"]) for e in everything["edges"]] == [
        (third["id"], "ACTIVE"),
        (second["id"], "COMPLETED"),
        (first["id"], "ABANDONED"),
    ]
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 3


async def test_transitions_the_state_forbids_are_refused_and_change_nothing(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 0], event_xp=10)
    alice = actors.user(tenant)
    instance = await _start(alice, journey)
    iid = instance["id"]
    event_id = _event_ids(journey)[0]

    def refused(code: str) -> list[tuple[str, tuple[str, ...] | None]]:
        return [(code, ("instanceId",))]

    # ACTIVE: resume is refused
    payload = await _transition(alice, RESUME, iid)
    assert (payload["instance"], _codes(payload)) == (None, refused("NOT_SUSPENDED"))
    # ACTIVE -> SUSPENDED, but not twice
    suspended = await _transition(alice, SUSPEND, iid, metadata={"why": "holiday"})
    assert suspended["errors"] == []
    assert suspended["instance"]["status"] == "SUSPENDED" and suspended["instance"]["suspendedAt"] is not None
    assert _codes(await _transition(alice, SUSPEND, iid)) == refused("NOT_ACTIVE")
    # SUSPENDED: events can be neither started nor completed
    started = await _start_event(alice, iid, event_id)
    assert (started["eventInstance"], _codes(started)) == (None, refused("NOT_ACTIVE"))
    completed = await _complete(alice, iid, event_id)
    assert (completed["eventInstance"], completed["instance"], completed["xpAwarded"]) == (None, None, 0)
    assert _codes(completed) == refused("NOT_ACTIVE")
    # SUSPENDED -> ABANDONED; then nothing more
    assert (await _transition(alice, ABANDON, iid))["instance"]["status"] == "ABANDONED"
    assert _codes(await _transition(alice, SUSPEND, iid)) == refused("NOT_ACTIVE")
    assert _codes(await _transition(alice, RESUME, iid)) == refused("NOT_SUSPENDED")
    assert _codes(await _transition(alice, ABANDON, iid)) == refused("NOT_ACTIVE")
    assert _codes(await _start_event(alice, iid, event_id)) == refused("NOT_ACTIVE")
    assert _codes(await _complete(alice, iid, event_id)) == refused("NOT_ACTIVE")
    # metadata over 16 KiB on a transition is a top-level BAD_USER_INPUT
    assert await alice.error_codes(SUSPEND, {"instanceId": iid, "metadata": {"x": "y" * 17_000}}) == ["BAD_USER_INPUT"]

    found = await _instance(alice, iid)
    assert found is not None and found["status"] == "ABANDONED"
    assert [(log["action"], log["metadata"]) for log in await _all_logs(alice, iid)] == [
        ("started", {}),
        ("suspended", {"why": "holiday"}),
        ("abandoned", {}),
    ]
    assert await count(actors.db, "SELECT count(*) FROM event_instances") == 0
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 0


async def test_repeating_a_completed_action_returns_the_current_state(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, None], event_xp=10, xp_reward=50)
    alice = actors.user(tenant)
    iid = (await _start(alice, journey))["id"]
    first, last = _event_ids(journey)

    # starting a started event returns it unchanged
    started = (await _start_event(alice, iid, first))["eventInstance"]
    again = await _start_event(alice, iid, first)
    assert (again["errors"], again["eventInstance"]) == ([], started)
    # completing a completed event awards nothing and keeps its time
    done = await _complete(alice, iid, first)
    repeat = await _complete(alice, iid, first)
    assert (done["xpAwarded"], repeat["xpAwarded"], repeat["errors"]) == (10, 0, [])
    assert repeat["eventInstance"] == done["eventInstance"]
    assert (repeat["levelBefore"], repeat["levelAfter"]) == (1, 1)
    # starting a completed event returns it as it is
    restarted = await _start_event(alice, iid, first)
    assert restarted["eventInstance"]["status"] == "COMPLETED"
    assert restarted["eventInstance"]["completedAt"] == done["eventInstance"]["completedAt"]
    # on a COMPLETED instance, the repeats still answer the current state
    finished = await _complete(alice, iid, last)
    assert (finished["xpAwarded"], finished["instance"]["status"]) == (60, "COMPLETED")
    late = await _complete(alice, iid, last)
    assert (late["errors"], late["xpAwarded"], late["instance"]["status"]) == ([], 0, "COMPLETED")
    assert (await _start_event(alice, iid, first))["eventInstance"]["status"] == "COMPLETED"

    assert [log["action"] for log in await _all_logs(alice, iid)] == [
        "started",
        "event_started",
        "event_completed",
        "event_completed",
        "completed",
    ]
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 3
    assert (await alice.data(MY_XP))["myXp"]["balance"] == 70


async def test_another_users_instance_does_not_exist_for_them(actors: Actors) -> None:
    # given alice's instance with a started event, bob of her tenant, and an "alice" of another tenant
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 0])
    alice = actors.user(tenant, "alice")
    instance = await _start(alice, journey)
    iid = instance["id"]
    first, second = _event_ids(journey)
    event_instance_id = (await _start_event(alice, iid, first))["eventInstance"]["id"]
    outsiders = [actors.user(tenant, "bob"), actors.user(other_tenant, "alice")]
    not_found = [("NOT_FOUND", ("instanceId",))]

    for outsider in outsiders:
        # every change is NOT_FOUND, never FORBIDDEN
        for document in (SUSPEND, RESUME, ABANDON):
            payload = await _transition(outsider, document, iid)
            assert (payload["instance"], _codes(payload)) == (None, not_found)
        assert _codes(await _start_event(outsider, iid, second)) == not_found
        assert _codes(await _complete(outsider, iid, first)) == not_found
        # and nothing is visible
        assert await _instance(outsider, iid) is None
        assert await _node(outsider, iid) is None
        assert await _node(outsider, event_instance_id) is None
        assert _ids(await _my_journeys(outsider)) == []

    # the tenant's admin sees it; another tenant's admin does not
    admin, foreign_admin = actors.admin(tenant), actors.admin(other_tenant)
    seen = await _instance(admin, iid)
    assert seen is not None and seen["userId"] == instance["userId"]
    assert await _node(admin, iid) == {"id": iid, "instanceStatus": "ACTIVE"}
    assert await _node(admin, event_instance_id) == {
        "id": event_instance_id,
        "eventStatus": "IN_PROGRESS",
        "position": 1,
    }
    listed = (await admin.data(ADMIN_INSTANCES, {"userId": instance["userId"]}))["journeyInstances"]
    assert [e["node"]["id"] for e in listed["edges"]] == [iid]
    assert await _instance(foreign_admin, iid) is None
    assert await _node(foreign_admin, iid) is None
    assert (await foreign_admin.data(ADMIN_INSTANCES))["journeyInstances"]["edges"] == []

    # alice's instance is as she left it
    assert await _node(alice, iid) == {"id": iid, "instanceStatus": "ACTIVE"}
    assert await count(actors.db, "SELECT count(*) FROM event_instances") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs") == 2


async def test_ids_that_name_no_instance_or_event_of_it_are_not_found(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey, other = await make_journey(actors.db, tenant), await make_journey(actors.db, tenant)
    alice = actors.user(tenant)
    iid = (await _start(alice, journey))["id"]
    (event_id,) = _event_ids(journey)
    bad_instances = [to_global_id("JourneyInstance", uuid.uuid4()), "garbage", _journey_id(journey)]
    bad_events = [_event_ids(other)[0], to_global_id("JourneyEvent", uuid.uuid4()), "garbage", iid]

    for bad in bad_instances:
        assert _codes(await _start_event(alice, bad, event_id)) == [("NOT_FOUND", ("instanceId",))], bad
        assert _codes(await _complete(alice, bad, event_id)) == [("NOT_FOUND", ("instanceId",))], bad
        assert _codes(await _transition(alice, SUSPEND, bad)) == [("NOT_FOUND", ("instanceId",))], bad
        assert await _instance(alice, bad) is None
    for bad in bad_events:
        assert _codes(await _start_event(alice, iid, bad)) == [("NOT_FOUND", ("journeyEventId",))], bad
        assert _codes(await _complete(alice, iid, bad)) == [("NOT_FOUND", ("journeyEventId",))], bad

    assert await _node(alice, bad_instances[0]) is None
    assert await _node(alice, "garbage") is None
    assert await count(actors.db, "SELECT count(*) FROM event_instances") == 0
    assert await count(actors.db, "SELECT count(*) FROM journey_logs") == 1
    found = await _instance(alice, iid)
    assert found is not None and found["status"] == "ACTIVE"


async def test_credentials_roles_and_invalid_arguments_are_top_level_errors(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant)
    anonymous, alice = actors.anonymous(), actors.user(tenant)
    iid = (await _start(alice, journey))["id"]

    # no credential
    assert await anonymous.error_codes(START_JOURNEY, {"journeyId": _journey_id(journey)}) == ["UNAUTHENTICATED"]
    assert await anonymous.error_codes(SUSPEND, {"instanceId": iid}) == ["UNAUTHENTICATED"]
    assert await anonymous.error_codes(MY_JOURNEYS, {"first": 5}) == ["UNAUTHENTICATED"]
    assert await anonymous.error_codes(TODAY) == ["UNAUTHENTICATED"]
    # a user calling the admin query
    assert await alice.error_codes(ADMIN_INSTANCES) == ["FORBIDDEN"]
    # page sizes outside 1..100
    for first in (0, 101, -1):
        assert await alice.error_codes(MY_JOURNEYS, {"first": first}) == ["BAD_USER_INPUT"], first
        assert await alice.error_codes(EVENTS_PAGE, {"id": iid, "first": first}) == ["BAD_USER_INPUT"], first
        assert await alice.error_codes(LOGS_PAGE, {"id": iid, "first": first}) == ["BAD_USER_INPUT"], first
    # an unknown timezone for today
    body = await alice.post(TODAY, {"timezone": "Mars/Olympus"})
    assert [(e["extensions"]["code"], e["extensions"]["status"]) for e in body["errors"]] == [("BAD_USER_INPUT", 400)]

    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 1
    found = await _instance(alice, iid)
    assert found is not None and found["status"] == "ACTIVE"


async def test_forged_or_foreign_cursors_are_bad_input(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey, other = await make_journey(actors.db, tenant, offsets=[0, 0, 0]), await make_journey(actors.db, tenant)
    alice = actors.user(tenant)
    iid = (await _start(alice, journey))["id"]
    other_iid = (await _start(alice, other))["id"]
    await _transition(alice, SUSPEND, iid)
    await _transition(alice, RESUME, iid)
    events_cursor = (await _events_page(alice, iid, first=1))["pageInfo"]["endCursor"]
    logs_cursor = (await _logs_page(alice, iid, first=1))["pageInfo"]["endCursor"]
    middle = len(events_cursor) // 2
    tampered = events_cursor[:middle] + ("A" if events_cursor[middle] != "A" else "B") + events_cursor[middle + 1 :]

    refused: list[tuple[str, dict[str, Any]]] = [
        (EVENTS_PAGE, {"id": iid, "first": 1, "after": tampered}),
        (EVENTS_PAGE, {"id": iid, "first": 1, "after": "garbage"}),
        (EVENTS_PAGE, {"id": iid, "first": 1, "after": logs_cursor}),  # another list's
        (EVENTS_PAGE, {"id": other_iid, "first": 1, "after": events_cursor}),  # another instance's
        (EVENTS_PAGE, {"id": iid, "first": 1, "after": events_cursor, "status": "NOT_STARTED"}),  # other filter
        (LOGS_PAGE, {"id": iid, "first": 1, "after": events_cursor}),
        (LOGS_PAGE, {"id": iid, "first": 1, "after": logs_cursor[:-3]}),
        (MY_JOURNEYS, {"first": 1, "after": logs_cursor}),
    ]
    for document, variables in refused:
        assert await alice.error_codes(document, variables) == ["BAD_USER_INPUT"], variables
    # a myJourneys cursor is bound to its filter and tenant
    journeys_cursor = (await _my_journeys(alice, first=1))["pageInfo"]["endCursor"]
    assert await alice.error_codes(MY_JOURNEYS, {"first": 1, "after": journeys_cursor, "status": "ACTIVE"}) == [
        "BAD_USER_INPUT"
    ]
    stranger = actors.user(await actors.tenant(), "alice")
    assert await stranger.error_codes(MY_JOURNEYS, {"first": 1, "after": journeys_cursor}) == ["BAD_USER_INPUT"]
    assert _ids(await _my_journeys(alice, first=1, after=journeys_cursor)) == [iid]
    # while the genuine ones continue their lists
    assert [e["node"]["position"] for e in (await _events_page(alice, iid, first=5, after=events_cursor))["edges"]] == [
        2,
        3,
    ]
    assert [e["node"]["action"] for e in (await _logs_page(alice, iid, first=5, after=logs_cursor))["edges"]] == [
        "suspended",
        "resumed",
    ]


# --- reading progress -------------------------------------------------------------------------


async def test_my_journeys_pages_newest_first_and_filters_by_status(actors: Actors) -> None:
    tenant = await actors.tenant()
    journeys = [await make_journey(actors.db, tenant) for _ in range(5)]
    alice, bob = actors.user(tenant, "alice"), actors.user(tenant, "bob")
    ids = [(await _start(alice, j))["id"] for j in journeys]
    await _start(bob, journeys[0])
    await _transition(alice, SUSPEND, ids[1])
    await _transition(alice, ABANDON, ids[3])

    pages = [await _my_journeys(alice, first=2)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await _my_journeys(alice, first=2, after=pages[-1]["pageInfo"]["endCursor"]))

    assert [_ids(p) for p in pages] == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    assert _ids(await _my_journeys(alice, status="ACTIVE")) == [ids[4], ids[2], ids[0]]
    assert _ids(await _my_journeys(alice, status="SUSPENDED")) == [ids[1]]
    assert _ids(await _my_journeys(alice, status="COMPLETED")) == []
    active_first = await _my_journeys(alice, first=1, status="ACTIVE")
    rest = await _my_journeys(alice, first=5, status="ACTIVE", after=active_first["pageInfo"]["endCursor"])
    assert (_ids(active_first), _ids(rest)) == ([ids[4]], [ids[2], ids[0]])
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_instance_events_page_in_position_order_with_statuses(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 1, None, 2, None])
    alice = actors.user(tenant)
    instance = await _start(alice, journey)
    iid = instance["id"]
    events = _event_ids(journey)
    await _complete(alice, iid, events[1])
    in_progress = (await _start_event(alice, iid, events[3]))["eventInstance"]

    pages = [await _events_page(alice, iid, first=2)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await _events_page(alice, iid, first=2, after=pages[-1]["pageInfo"]["endCursor"]))

    nodes = [e["node"] for p in pages for e in p["edges"]]
    assert [[e["node"]["position"] for e in p["edges"]] for p in pages] == [[1, 2], [3, 4], [5]]
    assert [n["status"] for n in nodes] == ["NOT_STARTED", "COMPLETED", "NOT_STARTED", "IN_PROGRESS", "NOT_STARTED"]
    started_on = _day(instance["startedOn"])
    assert [n["scheduledOn"] for n in nodes] == [
        started_on.isoformat(),
        (started_on + timedelta(days=1)).isoformat(),
        None,
        (started_on + timedelta(days=2)).isoformat(),
        None,
    ]
    assert nodes[3]["id"] == in_progress["id"]
    assert len({n["id"] for n in nodes}) == 5
    # the ids are stable: the same before and after an event is started
    await _start_event(alice, iid, events[0])
    assert _ids(await _events_page(alice, iid, first=1)) == [nodes[0]["id"]]

    not_started = await _events_page(alice, iid, first=1, status="NOT_STARTED")
    rest = await _events_page(alice, iid, first=5, status="NOT_STARTED", after=not_started["pageInfo"]["endCursor"])
    assert [e["node"]["position"] for e in not_started["edges"] + rest["edges"]] == [3, 5]
    assert [e["node"]["position"] for e in (await _events_page(alice, iid, first=5, status="COMPLETED"))["edges"]] == [
        2
    ]
    found = await _instance(alice, iid)
    assert found is not None
    assert found["progress"] == {"completedEvents": 1, "totalEvents": 5, "percent": 20}


async def test_logs_page_oldest_first_and_keep_the_event_as_it_was_logged(actors: Actors) -> None:
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 0])
    alice, admin = actors.user(tenant), actors.admin(tenant)
    iid = (await _start(alice, journey, metadata={"source": "app"}))["id"]
    first, second = _event_ids(journey)
    await _start_event(alice, iid, first)
    await _complete(alice, iid, first, metadata={"mood": "good"})
    await _transition(alice, SUSPEND, iid, metadata={"why": "travel"})
    await _transition(alice, RESUME, iid)
    # the admin later renames the event and moves it last
    renamed = await mutate(admin, UPDATE_EVENT, {"id": first, "input": {"title": "Renamed"}})
    assert renamed["errors"] == []
    reordered = await mutate(admin, REORDER_EVENTS, {"journeyId": _journey_id(journey), "eventIds": [second, first]})
    assert reordered["errors"] == []

    pages = [await _logs_page(alice, iid, first=2)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await _logs_page(alice, iid, first=2, after=pages[-1]["pageInfo"]["endCursor"]))

    logs = [e["node"] for p in pages for e in p["edges"]]
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    as_logged = {"id": first, "position": 1, "title": "Step 1"}
    assert [(log["action"], log["metadata"], log["event"]) for log in logs] == [
        ("started", {"source": "app"}, None),
        ("event_started", {}, as_logged),
        ("event_completed", {"mood": "good"}, as_logged),
        ("suspended", {"why": "travel"}, None),
        ("resumed", {}, None),
    ]
    assert [log["loggedAt"] for log in logs] == sorted(log["loggedAt"] for log in logs)
    # while the instance's events are its version's, until the admin publishes and moves it on
    found = await _instance(alice, iid)
    assert found is not None
    pinned = [(e["node"]["journeyEvent"]["title"], e["node"]["position"]) for e in found["events"]["edges"]]
    assert pinned == [("Step 1", 1), ("Step 2", 2)]
    assert (await mutate(admin, PUBLISH_JOURNEY, {"id": _journey_id(journey)}))["errors"] == []
    moved = await mutate(admin, UPGRADE_INSTANCES, {"journeyId": _journey_id(journey)})
    assert moved == {"upgraded": 1, "errors": []}
    found = await _instance(alice, iid)
    assert found is not None
    now = [(e["node"]["journeyEvent"]["title"], e["node"]["position"]) for e in found["events"]["edges"]]
    assert now == [("Step 2", 1), ("Renamed", 2)]


# --- today ------------------------------------------------------------------------------------


async def test_today_lists_due_and_overdue_then_unscheduled_per_active_instance(actors: Actors) -> None:
    # given an instance moved back to three days ago, one started today, one with nothing due, a suspended one
    tenant = await actors.tenant()
    alice = actors.user(tenant)
    older_journey = await make_journey(actors.db, tenant, offsets=[None, 3, 0, 5, 1, None, 0])
    older = await _start(alice, older_journey)
    newer_journey = await make_journey(actors.db, tenant, offsets=[1, 0])
    newer = await _start(alice, newer_journey)
    idle = await _start(alice, await make_journey(actors.db, tenant, offsets=[4]))
    paused = await _start(alice, await make_journey(actors.db, tenant, offsets=[0]))
    await _transition(alice, SUSPEND, paused["id"])
    ev = _event_ids(older_journey)
    await _complete(alice, older["id"], ev[6])
    await _start_event(alice, older["id"], ev[0])
    await _move_start_back(actors.db, older["id"], 3)
    today = _day(older["startedOn"])  # the tenant's zone is UTC, as the default day is

    groups = await _today(alice)

    # older first: due/overdue by position (2: day 3 = today, 3: day 0, 5: day 1), then unscheduled (1, 6)
    assert [(g["instance"]["id"], g["journey"]["id"]) for g in groups] == [
        (older["id"], _journey_id(older_journey)),
        (newer["id"], _journey_id(newer_journey)),
    ]
    assert [(e["position"], e["status"], e["scheduledOn"]) for e in groups[0]["events"]] == [
        (2, "NOT_STARTED", today.isoformat()),
        (3, "NOT_STARTED", (today - timedelta(days=3)).isoformat()),
        (5, "NOT_STARTED", (today - timedelta(days=2)).isoformat()),
        (1, "IN_PROGRESS", None),
        (6, "NOT_STARTED", None),
    ]
    assert [e["position"] for e in groups[1]["events"]] == [2]
    assert idle["id"] not in {g["instance"]["id"] for g in groups}
    # the date argument picks another day: later brings more, earlier leaves the newer instance out
    later = await _today(alice, date=(today + timedelta(days=2)).isoformat())
    assert [[e["position"] for e in g["events"]] for g in later] == [[2, 3, 4, 5, 1, 6], [1, 2]]
    earlier = await _today(alice, date=(today - timedelta(days=3)).isoformat())
    assert [g["instance"]["id"] for g in earlier] == [older["id"]]
    assert [e["position"] for e in earlier[0]["events"]] == [3, 1, 6]
    # once resumed, the suspended instance is listed again
    await _transition(alice, RESUME, paused["id"])
    assert [g["instance"]["id"] for g in await _today(alice)] == [older["id"], newer["id"], paused["id"]]


async def test_today_is_the_day_of_the_timezone_argument_then_the_token_then_the_tenant(actors: Actors) -> None:
    # given a tenant in Pago Pago and a user first seen without a zone, whose later token says
    # Kiritimati (never the same local day as Pago Pago)
    tenant = await actors.tenant(timezone=PAGO_PAGO)
    without_tz, with_tz = actors.user(tenant, "kiri"), actors.user(tenant, "kiri", timezone=KIRITIMATI)
    journey, other = await make_journey(actors.db, tenant, offsets=[0]), await make_journey(actors.db, tenant)

    # starting dates the instance in the tenant's zone without a token zone, else in the token's
    plain = await _start(without_tz, other)
    assert plain["timezone"] == PAGO_PAGO
    await _transition(without_tz, ABANDON, plain["id"])
    instance = await _start(with_tz, journey)
    assert (instance["timezone"], _day(instance["startedOn"])) in {
        (KIRITIMATI, local_date(KIRITIMATI)),
        (KIRITIMATI, local_date(KIRITIMATI) - timedelta(days=1)),  # the day turned in between
    }
    assert _day(plain["startedOn"]) < _day(instance["startedOn"])
    # (a user first seen with a token zone keeps it as their own)
    await actors.user(tenant, "bob", timezone=KIRITIMATI).data(MY_XP)
    assert (await _start(actors.user(tenant, "bob"), other))["timezone"] == KIRITIMATI

    # the day-0 event is due on Kiritimati's day, not yet on Pago Pago's
    async def due(client: GraphQLClient, **variables: Any) -> list[str]:
        return [g["instance"]["id"] for g in await _today(client, **variables)]

    assert await due(with_tz) == [instance["id"]]
    assert await due(with_tz, timezone=PAGO_PAGO) == []  # the argument beats the token
    assert await due(without_tz) == []  # the tenant's zone
    assert await due(without_tz, timezone=KIRITIMATI) == [instance["id"]]
    assert await due(without_tz, date=instance["startedOn"]) == [instance["id"]]  # the date beats both
    assert await due(with_tz, date=(_day(instance["startedOn"]) - timedelta(days=1)).isoformat()) == []


# --- performance ------------------------------------------------------------------------------


async def test_my_journeys_statements_do_not_grow_with_the_page_size(
    actors: Actors, statements: StatementCounter
) -> None:
    # given a user with 55 instances of journeys of three events, some events started
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant, "alice")
    journey_ids = await bulk_journeys(actors.db, tenant.id, [f"Journey {i}" for i in range(55)], events_each=3)
    await _start_all(actors.db, tenant, user.id, journey_ids)
    alice = actors.user(tenant, "alice")
    await alice.data(MY_JOURNEYS_DEEP, {"first": 5})  # warm up

    # when the same deep query asks for 5 and for 50 instances
    async with statements.measure() as counter:
        small = await alice.data(MY_JOURNEYS_DEEP, {"first": 5})
    small_count, small_trips = counter.count, counter.round_trips
    async with statements.measure() as counter:
        large = await alice.data(MY_JOURNEYS_DEEP, {"first": 50})
    large_count, large_trips = counter.count, counter.round_trips

    # then both answered in full, with the same number of statements
    assert len(small["myJourneys"]["edges"]) == 5
    edges = large["myJourneys"]["edges"]
    assert len(edges) == 50 and large["myJourneys"]["pageInfo"]["hasNextPage"] is True
    assert all(len(e["node"]["journey"]["events"]) == 3 for e in edges)
    assert all(len(e["node"]["events"]["edges"]) == 3 for e in edges)
    assert all(e["node"]["progress"]["totalEvents"] == 3 for e in edges)
    assert all(e["node"]["logs"]["edges"][0]["node"]["action"] == "started" for e in edges)
    statuses = [[n["node"]["status"] for n in e["node"]["events"]["edges"]] for e in edges]
    assert ["IN_PROGRESS", "NOT_STARTED", "NOT_STARTED"] in statuses
    assert ["NOT_STARTED", "NOT_STARTED", "NOT_STARTED"] in statuses
    assert [e["node"]["journey"]["title"] for e in edges[:2]] == ["Journey 54", "Journey 53"]
    assert small_count == large_count, (small_count, large_count)
    # and as many round trips: one per statement, none for BEGIN/COMMIT/ROLLBACK (reads autocommit),
    # none for authentication (the viewer is cached): the instances, their journeys, events of
    # journeys, progress, events of instances and logs
    assert small_trips == large_trips == small_count == 6, (small_trips, large_trips, small_count)


async def test_a_mutation_is_one_transaction_and_reads_around_it_none(
    actors: Actors, statements: StatementCounter
) -> None:
    # given a user who has been seen (their viewer is cached) and a published journey
    tenant = await actors.tenant()
    journey = (await bulk_journeys(actors.db, tenant.id, ["Journey"], events_each=2))[0]
    alice = actors.user(tenant, "alice")
    await alice.data("{ viewer { id } }")
    # when they start it and read the run back in the same operation
    async with statements.measure() as counter:
        data = await alice.data(START_JOURNEY, {"journeyId": to_global_id("Journey", journey)})
    # then the unit of work is one BEGIN ... COMMIT, and nothing else controls transactions
    assert data["startJourney"]["errors"] == []
    assert (counter.begins, counter.commits, counter.rollbacks) == (1, 1, 0)
    # when they read their runs
    async with statements.measure() as counter:
        await alice.data(MY_JOURNEYS_DEEP, {"first": 5})
    # then no transaction at all
    assert (counter.begins, counter.commits, counter.rollbacks) == (0, 0, 0)
    assert counter.round_trips == counter.count


async def _start_all(db: Any, tenant: Tenant, user_id: uuid.UUID, journey_ids: list[uuid.UUID]) -> None:
    """Start each journey in turn (newest last) and start the first event of every third."""
    async with db() as session:
        first_events = dict(
            (
                await session.execute(
                    text("SELECT journey_id, id FROM journey_events WHERE position = 1 AND tenant_id = :t"),
                    {"t": tenant.id},
                )
            ).all()
        )
        for index, journey_id in enumerate(journey_ids):
            instance = await start_journey(session, viewer_tenant=tenant, user_id=user_id, journey_id=journey_id)
            if index % 3 == 0:
                await start_event(
                    session,
                    tenant_id=tenant.id,
                    user_id=user_id,
                    instance_id=instance.id,
                    journey_event_id=first_events[journey_id],
                )


# --- suspension -------------------------------------------------------------------------------


async def test_resume_moves_unfinished_events_by_the_whole_days_suspended(actors: Actors) -> None:
    # given an instance whose first event is done and second in progress
    tenant = await actors.tenant()
    journey = await make_journey(actors.db, tenant, offsets=[0, 1, None, 2])
    alice = actors.user(tenant)
    instance = await _start(alice, journey, timezone="Europe/Berlin")
    iid = instance["id"]
    events = _event_ids(journey)
    await _complete(alice, iid, events[0])
    await _start_event(alice, iid, events[1])
    started_on = _day(instance["startedOn"])

    # when it is suspended for two days and three hours, then resumed
    suspended = await _transition(alice, SUSPEND, iid)
    assert suspended["instance"]["suspendedAt"] is not None
    await _backdate_suspension(actors.db, iid, timedelta(days=2, hours=3))
    resumed = await _transition(alice, RESUME, iid)

    # then the unfinished scheduled events moved two days; the completed one did not
    assert resumed["errors"] == []
    assert (resumed["instance"]["status"], resumed["instance"]["suspendedAt"]) == ("ACTIVE", None)

    def schedule(found: dict[str, Any] | None) -> list[tuple[str, str | None]]:
        assert found is not None
        return [(e["node"]["status"], e["node"]["scheduledOn"]) for e in found["events"]["edges"]]

    expected = [
        ("COMPLETED", started_on.isoformat()),
        ("IN_PROGRESS", (started_on + timedelta(days=3)).isoformat()),
        ("NOT_STARTED", None),
        ("NOT_STARTED", (started_on + timedelta(days=4)).isoformat()),
    ]
    assert schedule(await _instance(alice, iid)) == expected
    day_after = await _today(alice, date=(started_on + timedelta(days=1)).isoformat())
    assert [e["position"] for e in day_after[0]["events"]] == [3]
    three_days_on = await _today(alice, date=(started_on + timedelta(days=3)).isoformat())
    assert [e["position"] for e in three_days_on[0]["events"]] == [2, 3]
    assert [e["shiftedDays"] for e in await outbox_events(actors.db, "journey.resumed")] == [2]

    # a later suspension of less than a whole day moves nothing
    await _transition(alice, SUSPEND, iid)
    await _backdate_suspension(actors.db, iid, timedelta(hours=20))
    await _transition(alice, RESUME, iid)
    assert schedule(await _instance(alice, iid)) == expected
    assert [log["action"] for log in await _all_logs(alice, iid)][-4:] == ["suspended", "resumed"] * 2
