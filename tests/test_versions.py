"""Versioned journeys through the HTTP API (SPEC §14): publishing snapshots the draft as a
version, users and runs see versions, admins see the draft and the versions, a run keeps its
version (events, progress, XP) until an admin moves open runs on, and completions racing that
upgrade are counted once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from app.graphql.relay import local_id
from tests.catalog_support import (
    ADD_EVENT,
    PUBLISH_JOURNEY,
    REMOVE_EVENT,
    UPDATE_EVENT,
    UPDATE_JOURNEY,
    UPGRADE_INSTANCES,
    add_event,
    create_journey,
    mutate,
    publish,
)
from tests.conftest import Actors, GraphQLClient
from tests.progress_support import count

ERRORS = "errors { code message field }"
SERVED = "id title version xpReward events { id position title xpReward }"
ADMIN_JOURNEY = f"""
query AdminJourney($id: ID!) {{
  journey(id: $id) {{
    {SERVED}
    draft {{ title xpReward events {{ id position title }} }}
    versions(first: 10) {{ edges {{ node {{ version title events {{ id title }} }} }} pageInfo {{ hasNextPage }} }}
  }}
}}
"""
USER_JOURNEY = f"query UserJourney($id: ID!) {{ journey(id: $id) {{ {SERVED} draft {{ title }} }} }}"
USER_VERSIONS = "query Versions($id: ID!) { journey(id: $id) { versions { edges { node { version } } } } }"
CATALOGUE = "query Catalogue { journeys(first: 20) { edges { node { id title version events { title } } } } }"
RUN_FIELDS = (
    "id status journeyVersion journey { title version events { id title } } "
    "progress { completedEvents totalEvents percent }"
)
START = f"""
mutation Start($journeyId: ID!) {{ startJourney(journeyId: $journeyId) {{ instance {{ {RUN_FIELDS} }} {ERRORS} }} }}
"""
COMPLETE = f"""
mutation Complete($instanceId: ID!, $journeyEventId: ID!) {{
  completeEvent(instanceId: $instanceId, journeyEventId: $journeyEventId) {{
    instance {{ status }} xpAwarded {ERRORS}
  }}
}}
"""
START_EVENT = f"""
mutation StartEvent($instanceId: ID!, $journeyEventId: ID!) {{
  startEvent(instanceId: $instanceId, journeyEventId: $journeyEventId) {{ eventInstance {{ status }} {ERRORS} }}
}}
"""
ABANDON = f"mutation Abandon($id: ID!) {{ abandonJourney(instanceId: $id) {{ instance {{ status }} {ERRORS} }} }}"
RUN = f"""
query Run($id: ID!) {{
  journeyInstance(id: $id) {{
    {RUN_FIELDS}
    events(first: 50) {{ edges {{ node {{ status journeyEvent {{ id title }} }} }} }}
    logs(first: 50) {{ edges {{ node {{ action metadata actor {{ kind }} }} }} }}
  }}
}}
"""
TODAY = "query Today { todayEvents { journey { title version } events { journeyEvent { title } } } }"
XP = "query Xp { myXp { balance history(first: 100) { edges { node { amount reason } } } } }"


async def _start(client: GraphQLClient, journey_id: str) -> dict[str, Any]:
    payload = await mutate(client, START, {"journeyId": journey_id})
    assert payload["errors"] == [], payload
    instance: dict[str, Any] = payload["instance"]
    return instance


async def _complete(client: GraphQLClient, run_id: str, event_id: str) -> dict[str, Any]:
    payload = await mutate(client, COMPLETE, {"instanceId": run_id, "journeyEventId": event_id})
    assert payload["errors"] == [], payload
    return payload


async def _run(client: GraphQLClient, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.data(RUN, {"id": run_id}))["journeyInstance"]
    return found


async def _version(admin: GraphQLClient, journey_id: str) -> int:
    version: int = (await admin.data(ADMIN_JOURNEY, {"id": journey_id}))["journey"]["version"]
    return version


def _titles(events: list[dict[str, Any]]) -> list[str]:
    return [event["title"] for event in events]


def _states(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["node"]["journeyEvent"]["title"], e["node"]["status"]) for e in run["events"]["edges"]]


async def test_a_run_keeps_its_version_while_the_admin_edits_and_publishes_the_next(actors: Actors) -> None:
    # given a journey published as version 1 (two events of 5 XP, 50 XP for finishing it)
    tenant = await actors.tenant()
    admin, alice, bob, carol = (
        actors.admin(tenant),
        actors.user(tenant, "alice"),
        actors.user(tenant, "bob"),
        actors.user(tenant, "carol"),
    )
    journey = await create_journey(admin, title="Version one", xpReward=50)
    jid = journey["id"]
    first = await add_event(admin, jid, title="First", xpReward=5)
    second = await add_event(admin, jid, title="Second", xpReward=5)
    await publish(admin, jid)
    assert await _version(admin, jid) == 1
    # alice completes the first event; bob finishes the whole journey on version 1
    alice_run = await _start(alice, jid)
    assert alice_run["journeyVersion"] == 1
    await _complete(alice, alice_run["id"], first["id"])
    bob_run = await _start(bob, jid)
    await _complete(bob, bob_run["id"], first["id"])
    assert (await _complete(bob, bob_run["id"], second["id"]))["xpAwarded"] == 55
    assert (await bob.data(XP))["myXp"]["balance"] == 60

    # when the admin renames the journey and the first event, removes the second, adds a third
    assert (await mutate(admin, UPDATE_JOURNEY, {"id": jid, "input": {"title": "Version two", "xpReward": 80}}))[
        "errors"
    ] == []
    assert (await mutate(admin, UPDATE_EVENT, {"id": first["id"], "input": {"title": "First, renamed"}}))[
        "errors"
    ] == []
    assert (await mutate(admin, REMOVE_EVENT, {"id": second["id"]}))["errors"] == []
    third = (await mutate(admin, ADD_EVENT, {"journeyId": jid, "input": {"title": "Third", "xpReward": 7}}))["event"]

    # then, before publishing, users see version 1 and no draft; admins see version 1 and the draft
    seen = (await alice.data(USER_JOURNEY, {"id": jid}))["journey"]
    assert (seen["title"], seen["version"], _titles(seen["events"]), seen["draft"]) == (
        "Version one",
        1,
        ["First", "Second"],
        None,
    )
    authored = (await admin.data(ADMIN_JOURNEY, {"id": jid}))["journey"]
    assert (authored["title"], authored["version"]) == ("Version one", 1)
    assert authored["draft"]["title"] == "Version two" and authored["draft"]["xpReward"] == 80
    assert [(e["id"], e["position"], e["title"]) for e in authored["draft"]["events"]] == [
        (first["id"], 1, "First, renamed"),
        (third["id"], 2, "Third"),
    ]
    assert await alice.error_codes(USER_VERSIONS, {"id": jid}) == ["FORBIDDEN"]

    # when it is published as version 2
    published = await publish(admin, jid)
    assert (published["title"], await _version(admin, jid)) == ("Version two", 2)

    # then the catalogue shows version 2, and the draft equals it
    catalogue = [e["node"] for e in (await carol.data(CATALOGUE))["journeys"]["edges"]]
    assert [(j["title"], j["version"], _titles(j["events"])) for j in catalogue] == [
        ("Version two", 2, ["First, renamed", "Third"])
    ]
    authored = (await admin.data(ADMIN_JOURNEY, {"id": jid}))["journey"]
    assert authored["draft"] is None
    versions = [e["node"] for e in authored["versions"]["edges"]]
    assert [(v["version"], v["title"], _titles(v["events"])) for v in versions] == [
        (2, "Version two", ["First, renamed", "Third"]),
        (1, "Version one", ["First", "Second"]),
    ]
    # alice's run is still version 1: its journey, events, progress and today's events
    run = await _run(alice, alice_run["id"])
    assert (run["journeyVersion"], run["journey"]["title"], _titles(run["journey"]["events"])) == (
        1,
        "Version one",
        ["First", "Second"],
    )
    assert _states(run) == [("First", "COMPLETED"), ("Second", "NOT_STARTED")]
    assert run["progress"] == {"completedEvents": 1, "totalEvents": 2, "percent": 50}
    today = (await alice.data(TODAY))["todayEvents"]
    assert [
        (g["journey"]["title"], g["journey"]["version"], [e["journeyEvent"]["title"] for e in g["events"]])
        for g in today
    ] == [("Version one", 1, ["Second"])]
    # bob's completed run keeps its figures and XP
    done = await _run(bob, bob_run["id"])
    assert (done["status"], done["progress"]) == ("COMPLETED", {"completedEvents": 2, "totalEvents": 2, "percent": 100})
    assert (await bob.data(XP))["myXp"]["balance"] == 60
    # a new run is version 2
    carol_run = await _start(carol, jid)
    assert (carol_run["journeyVersion"], _titles(carol_run["journey"]["events"])) == (2, ["First, renamed", "Third"])
    assert (await mutate(carol, COMPLETE, {"instanceId": carol_run["id"], "journeyEventId": second["id"]}))["errors"][
        0
    ]["code"] == "NOT_FOUND"  # not an event of version 2
    # and alice finishes hers on version 1, with version 1's XP
    assert (await _complete(alice, alice_run["id"], second["id"]))["xpAwarded"] == 55
    assert (await alice.data(XP))["myXp"]["balance"] == 60

    # publishing again without a change is a no-op
    again = await mutate(admin, PUBLISH_JOURNEY, {"id": jid})
    assert again["errors"] == [] and again["journey"]["title"] == "Version two"
    assert await _version(admin, jid) == 2
    assert await count(actors.db, "SELECT count(*) FROM journey_versions") == 2
    published_events = "SELECT count(*) FROM outbox_events WHERE type = 'journey.published'"
    assert await count(actors.db, published_events) == 2


async def test_a_draft_edited_back_publishes_nothing_and_a_never_published_journey_is_version_0(
    actors: Actors,
) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin, title="Same")
    jid = journey["id"]
    assert await _version(admin, jid) == 0
    event = await add_event(admin, jid, title="Only")
    fresh = (await admin.data(ADMIN_JOURNEY, {"id": jid}))["journey"]
    assert (fresh["version"], _titles(fresh["events"]), fresh["draft"]["title"]) == (0, ["Only"], "Same")
    await publish(admin, jid)
    await mutate(admin, UPDATE_JOURNEY, {"id": jid, "input": {"title": "Changed"}})
    await mutate(admin, UPDATE_EVENT, {"id": event["id"], "input": {"title": "Changed too"}})
    assert (await admin.data(ADMIN_JOURNEY, {"id": jid}))["journey"]["draft"] is not None
    await mutate(admin, UPDATE_JOURNEY, {"id": jid, "input": {"title": "Same"}})
    await mutate(admin, UPDATE_EVENT, {"id": event["id"], "input": {"title": "Only"}})
    assert (await admin.data(ADMIN_JOURNEY, {"id": jid}))["journey"]["draft"] is None
    await publish(admin, jid)
    assert await _version(admin, jid) == 1


async def test_upgrade_moves_open_runs_keeping_event_state_by_id(actors: Actors) -> None:
    # given version 1 with three events, and runs in every state
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    alice, bob, dave = actors.user(tenant, "alice"), actors.user(tenant, "bob"), actors.user(tenant, "dave")
    jid = (await create_journey(admin, title="Moving"))["id"]
    a, b, c = [await add_event(admin, jid, title=title, xpReward=1) for title in ("A", "B", "C")]
    await publish(admin, jid)
    open_run = await _start(alice, jid)
    await _complete(alice, open_run["id"], a["id"])
    assert (await mutate(alice, START_EVENT, {"instanceId": open_run["id"], "journeyEventId": b["id"]}))["errors"] == []
    await _complete(alice, open_run["id"], c["id"])
    completed = await _start(bob, jid)
    for event in (a, b, c):
        await _complete(bob, completed["id"], event["id"])
    abandoned = await _start(dave, jid)
    assert (await mutate(dave, ABANDON, {"id": abandoned["id"]}))["errors"] == []
    # and version 2 without C and with a new D
    await mutate(admin, REMOVE_EVENT, {"id": c["id"]})
    d = (await mutate(admin, ADD_EVENT, {"journeyId": jid, "input": {"title": "D"}}))["event"]
    await publish(admin, jid)

    # when the admin moves the open runs on
    moved = await mutate(admin, UPGRADE_INSTANCES, {"journeyId": jid})

    # then only the open run moved: A kept COMPLETED, B IN_PROGRESS, D is new, C dropped out
    assert moved == {"upgraded": 1, "errors": []}
    run = await _run(alice, open_run["id"])
    assert run["journeyVersion"] == 2
    assert _states(run) == [("A", "COMPLETED"), ("B", "IN_PROGRESS"), ("D", "NOT_STARTED")]
    assert run["progress"] == {"completedEvents": 1, "totalEvents": 3, "percent": 33}
    actions = [(e["node"]["action"], e["node"]["metadata"]) for e in run["logs"]["edges"]]
    assert actions[-1] == ("upgraded", {"from": 1, "to": 2})
    kinds = [e["node"]["actor"]["kind"] for e in run["logs"]["edges"]]
    assert kinds[-1] == "ADMIN" and set(kinds[:-1]) == {"USER"}  # the upgrade is the admin's doing
    assert ("event_completed", {}) in actions  # C's completion is still logged
    assert (await alice.data(XP))["myXp"]["balance"] == 2  # and its XP kept
    for client, instance in ((bob, completed), (dave, abandoned)):
        assert (await _run(client, instance["id"]))["journeyVersion"] == 1
    assert (await _run(bob, completed["id"]))["progress"]["completedEvents"] == 3
    # and finishing the new version completes the run with its XP
    await _complete(alice, run["id"], b["id"])
    assert (await _complete(alice, run["id"], d["id"]))["instance"]["status"] == "COMPLETED"

    # nothing more to move; a version that does not exist, or a user, is refused
    assert await mutate(admin, UPGRADE_INSTANCES, {"journeyId": jid}) == {"upgraded": 0, "errors": []}
    refused = await mutate(admin, UPGRADE_INSTANCES, {"journeyId": jid, "fromVersion": 3})
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("BAD_USER_INPUT", ["fromVersion"])]
    assert await alice.error_codes(UPGRADE_INSTANCES, {"journeyId": jid}) == ["FORBIDDEN"]


async def test_upgrade_from_one_version_leaves_the_others(actors: Actors) -> None:
    tenant = await actors.tenant()
    admin, alice, bob = actors.admin(tenant), actors.user(tenant, "alice"), actors.user(tenant, "bob")
    jid = (await create_journey(admin, title="Three versions"))["id"]
    event = await add_event(admin, jid, title="One")
    await publish(admin, jid)
    on_one = await _start(alice, jid)
    await mutate(admin, UPDATE_EVENT, {"id": event["id"], "input": {"title": "Two"}})
    await publish(admin, jid)
    on_two = await _start(bob, jid)
    await mutate(admin, UPDATE_EVENT, {"id": event["id"], "input": {"title": "Three"}})
    await publish(admin, jid)

    assert await mutate(admin, UPGRADE_INSTANCES, {"journeyId": jid, "fromVersion": 2}) == {
        "upgraded": 1,
        "errors": [],
    }
    assert (await _run(alice, on_one["id"]))["journeyVersion"] == 1
    assert (await _run(bob, on_two["id"]))["journeyVersion"] == 3


async def test_twenty_completions_racing_an_upgrade_are_each_counted_once(actors: Actors) -> None:
    # given a run of version 1 with 21 events, and version 2 adding one more
    tenant = await actors.tenant()
    admin, alice = actors.admin(tenant), actors.user(tenant, "alice")
    jid = (await create_journey(admin, title="Race", xpReward=100))["id"]
    events = [await add_event(admin, jid, title=f"Event {i}", xpReward=1) for i in range(21)]
    await publish(admin, jid)
    run = await _start(alice, jid)
    extra = await add_event(admin, jid, title="Extra", xpReward=1)
    await publish(admin, jid)

    # when alice completes twenty of them at once while the admin upgrades the run
    results = await asyncio.gather(
        *(mutate(alice, COMPLETE, {"instanceId": run["id"], "journeyEventId": e["id"]}) for e in events[:20]),
        mutate(admin, UPGRADE_INSTANCES, {"journeyId": jid}),
    )

    # then every completion counted once, the run moved once, and nothing was awarded twice
    *completions, moved = results
    assert moved == {"upgraded": 1, "errors": []}
    assert [c["errors"] for c in completions] == [[]] * 20
    assert sum(c["xpAwarded"] for c in completions) == 20
    found = await _run(alice, run["id"])
    assert (found["journeyVersion"], found["status"]) == (2, "ACTIVE")
    assert found["progress"] == {"completedEvents": 20, "totalEvents": 22, "percent": 90}
    rid = local_id(run["id"], "JourneyInstance")
    assert await count(actors.db, f"SELECT count(*) FROM event_instances WHERE instance_id = '{rid}'") == 20
    # and finishing version 2 awards the journey's XP once
    await _complete(alice, run["id"], events[20]["id"])
    assert (await _complete(alice, run["id"], extra["id"]))["xpAwarded"] == 101
    async with actors.db() as session:
        reasons = (
            await session.execute(text("SELECT reason, count(*), sum(amount) FROM xp_entries GROUP BY reason"))
        ).all()
    assert sorted(tuple(r) for r in reasons) == [("event_completed", 22, 22), ("journey_completed", 1, 100)]
