"""XP, levels and rewards through the HTTP API: what completeEvent reports at threshold
boundaries, `myXp` overall and per journey with its history, `myRewards` with unlocks (also
journey-scoped ones), admin reward authoring and its validation, roles and tenancy, and
tenant thresholds that change levels at once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from app.graphql.relay import to_global_id
from tests.catalog_support import USER_ERRORS, add_event, create_journey, mutate, publish
from tests.conftest import Actors, GraphQLClient

REWARD_FIELDS = "id title description imageUrl requiredLevel resourceType resourceId active unlocked unlockedAt"

START_JOURNEY = f"""
mutation Start($journeyId: ID!) {{
  startJourney(journeyId: $journeyId) {{ instance {{ id status }} {USER_ERRORS} }}
}}
"""
COMPLETE_EVENT = f"""
mutation Complete($instanceId: ID!, $eventId: ID!) {{
  completeEvent(instanceId: $instanceId, journeyEventId: $eventId) {{
    eventInstance {{ status }}
    instance {{ status }}
    xpAwarded levelBefore levelAfter
    rewardsUnlocked {{ {REWARD_FIELDS} }}
    {USER_ERRORS}
  }}
}}
"""
MY_XP = """
query MyXp($resourceType: String, $resourceId: ID, $first: Int! = 20, $after: String) {
  myXp(resourceType: $resourceType, resourceId: $resourceId) {
    balance level currentLevelXp nextLevelXp
    history(first: $first, after: $after) {
      edges { cursor node { id amount reason resourceType resourceId createdAt } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}
"""
MY_REWARDS = f"""
query MyRewards($first: Int! = 20, $after: String, $resourceType: String, $resourceId: ID) {{
  myRewards(first: $first, after: $after, resourceType: $resourceType, resourceId: $resourceId) {{
    edges {{ cursor node {{ {REWARD_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
CREATE_REWARD = f"""
mutation CreateReward($input: RewardInput!) {{
  createReward(input: $input) {{ reward {{ {REWARD_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPDATE_REWARD = f"""
mutation UpdateReward($id: ID!, $input: RewardInput!) {{
  updateReward(id: $id, input: $input) {{ reward {{ {REWARD_FIELDS} }} {USER_ERRORS} }}
}}
"""
DEACTIVATE_REWARD = f"""
mutation DeactivateReward($id: ID!) {{
  deactivateReward(id: $id) {{ reward {{ {REWARD_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPDATE_SETTINGS = f"""
mutation Settings($input: TenantSettingsInput!) {{
  updateTenantSettings(input: $input) {{ tenant {{ levelThresholds }} {USER_ERRORS} }}
}}
"""
REWARD_NODE = """
query RewardNode($id: ID!) { node(id: $id) { id ... on Reward { title active unlocked } } }
"""


# --- helpers --------------------------------------------------------------------------------


async def _journey(admin: GraphQLClient, event_xp: list[int], xp_reward: int = 0) -> tuple[str, list[str]]:
    """A published journey with one event per entry of ``event_xp``: its id and its event ids."""
    journey = await create_journey(admin, xpReward=xp_reward)
    events = [
        (await add_event(admin, journey["id"], title=f"Step {i + 1}", xpReward=xp))["id"]
        for i, xp in enumerate(event_xp)
    ]
    await publish(admin, journey["id"])
    return journey["id"], events


async def _start(user: GraphQLClient, journey_id: str) -> str:
    payload = await mutate(user, START_JOURNEY, {"journeyId": journey_id})
    assert payload["errors"] == [], payload
    instance_id: str = payload["instance"]["id"]
    return instance_id


async def _complete(user: GraphQLClient, instance_id: str, event_id: str) -> dict[str, Any]:
    payload = await mutate(user, COMPLETE_EVENT, {"instanceId": instance_id, "eventId": event_id})
    assert payload["errors"] == [], payload
    return payload


async def _finish(user: GraphQLClient, journey_id: str, event_ids: list[str]) -> None:
    """Start the journey and complete every event."""
    instance_id = await _start(user, journey_id)
    for event_id in event_ids:
        await _complete(user, instance_id, event_id)


async def _reward(admin: GraphQLClient, title: str, level: int, **fields: Any) -> dict[str, Any]:
    payload = await mutate(admin, CREATE_REWARD, {"input": {"title": title, "requiredLevel": level, **fields}})
    assert payload["errors"] == [], payload
    reward: dict[str, Any] = payload["reward"]
    return reward


async def _thresholds(admin: GraphQLClient, thresholds: list[int]) -> None:
    payload = await mutate(admin, UPDATE_SETTINGS, {"input": {"levelThresholds": thresholds}})
    assert payload["errors"] == [], payload
    assert payload["tenant"]["levelThresholds"] == thresholds


async def _xp(user: GraphQLClient, **variables: Any) -> dict[str, Any]:
    data = await user.data(MY_XP, variables)
    summary: dict[str, Any] = data["myXp"]
    return summary


async def _rewards(user: GraphQLClient, **variables: Any) -> list[dict[str, Any]]:
    data = await user.data(MY_REWARDS, {"first": 100, **variables})
    return [edge["node"] for edge in data["myRewards"]["edges"]]


async def _titles(user: GraphQLClient, **variables: Any) -> list[str]:
    return [r["title"] for r in await _rewards(user, **variables)]


async def _node(client: GraphQLClient, node_id: str) -> dict[str, Any] | None:
    data = await client.data(REWARD_NODE, {"id": node_id})
    node: dict[str, Any] | None = data["node"]
    return node


def _problems(payload: dict[str, Any]) -> list[tuple[str, tuple[str, ...] | None]]:
    return sorted((e["code"], tuple(e["field"]) if e["field"] is not None else None) for e in payload["errors"])


async def _reward_rows(db: Any) -> list[tuple[Any, ...]]:
    async with db() as session:
        rows = await session.execute(
            text(
                "SELECT title, description, image_url, required_level, resource_type, resource_id, active, "
                "updated_at FROM rewards ORDER BY title"
            )
        )
        return [tuple(row) for row in rows.all()]


# --- completeEvent: levels and unlocks at the thresholds --------------------------------------


async def test_complete_event_reports_levels_and_unlocks_at_threshold_boundaries(actors: Actors) -> None:
    # given thresholds [0, 100, 250], rewards for levels 2, 3 and 4 (beyond the last level),
    # and a journey of events worth 99, 1 and 10 XP that itself is worth 200 XP
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    await _thresholds(admin, [0, 100, 250])
    level_two = await _reward(admin, "Level two", 2)
    level_three = await _reward(admin, "Level three", 3)
    await _reward(admin, "Level four", 4)
    journey_id, (e99, e1, e10) = await _journey(admin, [99, 1, 10], xp_reward=200)
    instance_id = await _start(user, journey_id)

    # when the 99 XP event is completed, the level stays 1 and nothing unlocks
    first = await _complete(user, instance_id, e99)
    assert (first["xpAwarded"], first["levelBefore"], first["levelAfter"]) == (99, 1, 1)
    assert first["rewardsUnlocked"] == []
    assert first["eventInstance"]["status"] == "COMPLETED"
    assert first["instance"]["status"] == "ACTIVE"

    # when the next 1 XP reaches exactly 100, level 2 and only its reward unlock
    second = await _complete(user, instance_id, e1)
    assert (second["xpAwarded"], second["levelBefore"], second["levelAfter"]) == (1, 1, 2)
    assert [r["id"] for r in second["rewardsUnlocked"]] == [level_two["id"]]
    unlocked = second["rewardsUnlocked"][0]
    assert unlocked["unlocked"] is True
    assert unlocked["unlockedAt"] is not None
    assert unlocked["title"] == "Level two"
    assert (await _xp(user))["balance"] == 100

    # when the last event completes the journey, its XP comes in the same payload
    last = await _complete(user, instance_id, e10)
    assert last["xpAwarded"] == 10 + 200
    assert (last["levelBefore"], last["levelAfter"]) == (2, 3)
    assert [r["id"] for r in last["rewardsUnlocked"]] == [level_three["id"]]
    assert last["instance"]["status"] == "COMPLETED"
    summary = await _xp(user)
    assert (summary["balance"], summary["level"], summary["currentLevelXp"], summary["nextLevelXp"]) == (
        310,
        3,
        250,
        None,
    )

    # when an event is completed again, nothing is awarded or unlocked
    for event_id in (e10, e99):
        repeat = await _complete(user, instance_id, event_id)
        assert (repeat["xpAwarded"], repeat["levelBefore"], repeat["levelAfter"]) == (0, 3, 3)
        assert repeat["rewardsUnlocked"] == []
        assert repeat["eventInstance"]["status"] == "COMPLETED"
    assert (await _xp(user))["balance"] == 310

    # then the level-4 reward stays locked; the others are unlocked with their times
    states = {r["title"]: (r["unlocked"], r["unlockedAt"] is not None) for r in await _rewards(user)}
    assert states == {"Level two": (True, True), "Level three": (True, True), "Level four": (False, False)}


# --- myXp -------------------------------------------------------------------------------------


async def test_my_xp_overall_and_per_journey_with_paged_history(actors: Actors) -> None:
    # given a user who finished journey A (30 + 20 XP events, 50 XP journey) and B (7 XP event)
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    journey_a, events_a = await _journey(admin, [30, 20], xp_reward=50)
    journey_b, events_b = await _journey(admin, [7])
    await _finish(user, journey_a, events_a)
    await _finish(user, journey_b, events_b)

    # then overall XP counts both, under the default thresholds
    overall = await _xp(user)
    assert (overall["balance"], overall["level"], overall["currentLevelXp"], overall["nextLevelXp"]) == (
        107,
        2,
        100,
        250,
    )
    assert [e["node"]["amount"] for e in overall["history"]["edges"]] == [7, 50, 20, 30]

    # and a journey filter counts only that journey's XP
    only_a = await _xp(user, resourceType="journey", resourceId=journey_a)
    assert (only_a["balance"], only_a["level"], only_a["currentLevelXp"], only_a["nextLevelXp"]) == (100, 2, 100, 250)
    only_b = await _xp(user, resourceType="journey", resourceId=journey_b)
    assert (only_b["balance"], only_b["level"], only_b["currentLevelXp"], only_b["nextLevelXp"]) == (7, 1, 0, 100)
    assert [e["node"]["amount"] for e in only_b["history"]["edges"]] == [7]
    assert (await _xp(user, resourceType="journey"))["balance"] == 107
    none = await _xp(user, resourceType="onboarding")
    assert (none["balance"], none["level"], none["history"]["edges"]) == (0, 1, [])

    # when A's history is paged two at a time, it runs newest first across pages
    page1 = (await _xp(user, resourceType="journey", resourceId=journey_a, first=2))["history"]
    assert [(e["node"]["amount"], e["node"]["reason"]) for e in page1["edges"]] == [
        (50, "journey_completed"),
        (20, "event_completed"),
    ]
    assert page1["pageInfo"]["hasNextPage"] is True
    after = page1["pageInfo"]["endCursor"]
    page2 = (await _xp(user, resourceType="journey", resourceId=journey_a, first=2, after=after))["history"]
    assert [(e["node"]["amount"], e["node"]["reason"]) for e in page2["edges"]] == [(30, "event_completed")]
    assert (page2["pageInfo"]["hasNextPage"], page2["pageInfo"]["hasPreviousPage"]) == (False, True)
    entries = [e["node"] for e in page1["edges"] + page2["edges"]]
    # and entries name the journey by its global id
    assert {(e["resourceType"], e["resourceId"]) for e in entries} == {("journey", journey_a)}
    times = [e["createdAt"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert len({e["id"] for e in entries}) == 3

    # then a cursor of A's history is refused for B's history, for another user and when forged
    assert await user.error_codes(MY_XP, {"resourceType": "journey", "resourceId": journey_b, "after": after}) == [
        "BAD_USER_INPUT"
    ]
    bob = actors.user(tenant, "bob")
    assert await bob.error_codes(MY_XP, {"resourceType": "journey", "resourceId": journey_a, "after": after}) == [
        "BAD_USER_INPUT"
    ]
    assert await user.error_codes(MY_XP, {"after": after[:-3] + "xyz"}) == ["BAD_USER_INPUT"]
    assert await user.error_codes(MY_XP, {"after": "not-a-cursor"}) == ["BAD_USER_INPUT"]
    assert await user.error_codes(MY_XP, {"first": 0}) == ["BAD_USER_INPUT"]

    # and another user of the tenant has none of it
    assert (await _xp(bob))["balance"] == 0


async def test_my_xp_refuses_a_resource_id_that_is_not_a_journey(actors: Actors) -> None:
    # given a user and a reward (whose id is not a journey's)
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    reward = await _reward(admin, "Badge", 1)

    for bad in (reward["id"], "not-an-id"):
        # when myXp or myRewards are filtered by it as a journey
        body = await user.post(MY_XP, {"resourceType": "journey", "resourceId": bad})
        # then the query fails at the top level with BAD_USER_INPUT
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        assert body["data"] is None
        assert await user.error_codes(MY_REWARDS, {"resourceType": "journey", "resourceId": bad}) == ["BAD_USER_INPUT"]

    # and a resource type of the tenant's own takes its ids as given
    custom = await _xp(user, resourceType="course", resourceId="not-an-id")
    assert custom["balance"] == 0


# --- myRewards ----------------------------------------------------------------------------------


async def test_my_rewards_order_unlocks_scopes_filters_and_deactivation(actors: Actors) -> None:
    # given journeys A (60 XP event, 40 XP journey) and B (5 XP event), and rewards:
    # unscoped ones at levels 1, 2 and 3, and level-2 ones scoped to A and to B
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    journey_a, events_a = await _journey(admin, [60], xp_reward=40)
    journey_b, events_b = await _journey(admin, [5])
    elder = await _reward(admin, "Elder", 3)
    cherry = await _reward(admin, "Cherry", 2, resourceType="journey", resourceId=journey_b)
    apple = await _reward(admin, "Apple", 2, description="Shiny", imageUrl="https://img.example/apple.png")
    banana = await _reward(admin, "Banana", 2, resourceType="journey", resourceId=journey_a)
    await _reward(admin, "Date", 1)
    assert (banana["resourceType"], banana["resourceId"]) == ("journey", journey_a)

    # then before any XP they are listed by required level, then title; only level 1 is reached
    listed = await _rewards(user)
    assert [r["title"] for r in listed] == ["Date", "Apple", "Banana", "Cherry", "Elder"]
    assert [(r["unlocked"], r["unlockedAt"]) for r in listed] == [(True, None)] + [(False, None)] * 4
    assert listed[1]["description"] == "Shiny"
    assert listed[1]["imageUrl"] == "https://img.example/apple.png"
    page1 = (await user.data(MY_REWARDS, {"first": 2}))["myRewards"]
    assert [e["node"]["title"] for e in page1["edges"]] == ["Date", "Apple"]
    page2 = (await user.data(MY_REWARDS, {"first": 10, "after": page1["pageInfo"]["endCursor"]}))["myRewards"]
    assert [e["node"]["title"] for e in page2["edges"]] == ["Banana", "Cherry", "Elder"]
    assert page2["pageInfo"]["hasNextPage"] is False

    # when the user finishes A (100 XP: level 2 overall and within A)
    instance_a = await _start(user, journey_a)
    done = await mutate(user, COMPLETE_EVENT, {"instanceId": instance_a, "eventId": events_a[0]})
    # then the payload lists what this call unlocked, B's reward not among them
    assert sorted(r["title"] for r in done["rewardsUnlocked"]) == ["Apple", "Banana", "Date"]

    # when they also finish B (5 XP: level 2 overall, but only level 1 within B)
    await _finish(user, journey_b, events_b)

    # then B's reward stays locked, the others are unlocked with the time an award reached them
    states = {r["title"]: (r["unlocked"], r["unlockedAt"] is not None) for r in await _rewards(user)}
    assert states == {
        "Date": (True, True),
        "Apple": (True, True),
        "Banana": (True, True),
        "Cherry": (False, False),
        "Elder": (False, False),
    }
    # and another user sees the same rewards, locked above level 1
    bob_states = [(r["title"], r["unlocked"]) for r in await _rewards(actors.user(tenant, "bob"))]
    assert bob_states == [("Date", True), ("Apple", False), ("Banana", False), ("Cherry", False), ("Elder", False)]

    # then filters select by resource type and resource
    assert await _titles(user, resourceType="journey") == ["Banana", "Cherry"]
    assert await _titles(user, resourceType="journey", resourceId=journey_a) == ["Banana"]
    assert await _titles(user, resourceType="journey", resourceId=journey_b) == ["Cherry"]
    assert await _titles(user, resourceType="onboarding") == []

    # when a reward is deactivated, it leaves myRewards and node() for users, not for admins
    await mutate(admin, DEACTIVATE_REWARD, {"id": apple["id"]})
    assert await _titles(user) == ["Date", "Banana", "Cherry", "Elder"]
    assert await _node(user, apple["id"]) is None
    assert await _node(admin, apple["id"]) == {"id": apple["id"], "title": "Apple", "active": False, "unlocked": False}
    assert await _node(user, elder["id"]) == {"id": elder["id"], "title": "Elder", "active": True, "unlocked": False}
    assert await _node(user, cherry["id"]) == {"id": cherry["id"], "title": "Cherry", "active": True, "unlocked": False}

    # when a level-2 reward is created after the user reached level 2
    fig = await _reward(admin, "Fig", 2)
    # then it shows unlocked, with no unlock time (no award reached it)
    listed_fig = [r for r in await _rewards(user) if r["title"] == "Fig"]
    assert [(r["id"], r["unlocked"], r["unlockedAt"]) for r in listed_fig] == [(fig["id"], True, None)]
    assert (await _node(user, fig["id"]) or {}).get("unlocked") is True


# --- admin authoring ------------------------------------------------------------------------------


async def test_create_reward_lists_every_invalid_field_and_creates_nothing(actors: Actors, db: Any) -> None:
    # given an admin
    tenant = await actors.tenant()
    admin = actors.admin(tenant)

    # when a reward is created with five invalid fields
    payload = await mutate(
        admin,
        CREATE_REWARD,
        {
            "input": {
                "title": "   ",
                "description": "x" * 10_001,
                "imageUrl": "ftp://example.com/a.png",
                "requiredLevel": 0,
                "resourceType": "Not A Type",
            }
        },
    )
    # then each is a BAD_USER_INPUT with its path, and nothing is created
    assert payload["reward"] is None
    assert _problems(payload) == [
        ("BAD_USER_INPUT", ("input", "description")),
        ("BAD_USER_INPUT", ("input", "imageUrl")),
        ("BAD_USER_INPUT", ("input", "requiredLevel")),
        ("BAD_USER_INPUT", ("input", "resourceType")),
        ("BAD_USER_INPUT", ("input", "title")),
    ]
    assert all(e["message"] for e in payload["errors"])

    # and a missing title and level are both reported, as are a too long title and a level over 100
    assert _problems(await mutate(admin, CREATE_REWARD, {"input": {}})) == [
        ("BAD_USER_INPUT", ("input", "requiredLevel")),
        ("BAD_USER_INPUT", ("input", "title")),
    ]
    assert _problems(await mutate(admin, CREATE_REWARD, {"input": {"title": "t" * 201, "requiredLevel": 101}})) == [
        ("BAD_USER_INPUT", ("input", "requiredLevel")),
        ("BAD_USER_INPUT", ("input", "title")),
    ]
    # and a resource id needs a resource type
    no_type = await mutate(admin, CREATE_REWARD, {"input": {"title": "T", "requiredLevel": 1, "resourceId": "x"}})
    assert _problems(no_type) == [("BAD_USER_INPUT", ("input", "resourceId"))]
    # and a journey reward needs a journey's id, reported with the other problems
    not_journey = await mutate(
        admin,
        CREATE_REWARD,
        {"input": {"title": "", "requiredLevel": 1, "resourceType": "journey", "resourceId": "not-a-journey"}},
    )
    assert _problems(not_journey) == [
        ("BAD_USER_INPUT", ("input", "resourceId")),
        ("BAD_USER_INPUT", ("input", "title")),
    ]
    assert await _reward_rows(db) == []

    # when a valid one is created, its omitted fields take their defaults
    reward = await _reward(admin, "  Gold  ", 5)
    assert {k: reward[k] for k in ("title", "description", "imageUrl", "requiredLevel", "active", "unlocked")} == {
        "title": "Gold",
        "description": "",
        "imageUrl": None,
        "requiredLevel": 5,
        "active": True,
        "unlocked": False,
    }
    assert (reward["resourceType"], reward["resourceId"], reward["unlockedAt"]) == (None, None, None)
    assert len(await _reward_rows(db)) == 1


async def test_update_reward_changes_only_given_fields(actors: Actors, db: Any) -> None:
    # given a journey-scoped reward with every field set
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey_id, _ = await _journey(admin, [1])
    reward = await _reward(
        admin,
        "Silver",
        3,
        description="Shiny",
        imageUrl="https://img.example/s.png",
        resourceType="journey",
        resourceId=journey_id,
    )

    # when only the title changes
    renamed = await mutate(admin, UPDATE_REWARD, {"id": reward["id"], "input": {"title": "Silver cup"}})
    # then the rest is unchanged
    assert renamed["errors"] == []
    assert renamed["reward"] == {**reward, "title": "Silver cup"}

    # when the level and image change (the image cleared)
    changed = await mutate(admin, UPDATE_REWARD, {"id": reward["id"], "input": {"requiredLevel": 4, "imageUrl": None}})
    assert changed["reward"] == {**reward, "title": "Silver cup", "requiredLevel": 4, "imageUrl": None}

    # when only the resource id changes, the stored resource type still applies to it
    other_journey, _ = await _journey(admin, [1])
    moved = await mutate(admin, UPDATE_REWARD, {"id": reward["id"], "input": {"resourceId": other_journey}})
    assert moved["errors"] == []
    assert (moved["reward"]["resourceType"], moved["reward"]["resourceId"]) == ("journey", other_journey)

    # when an update is invalid, every problem is listed and nothing changes
    before = await _reward_rows(db)
    bad = await mutate(
        admin, UPDATE_REWARD, {"id": reward["id"], "input": {"title": "", "requiredLevel": 0, "resourceType": "BAD"}}
    )
    assert bad["reward"] is None
    assert _problems(bad) == [
        ("BAD_USER_INPUT", ("input", "requiredLevel")),
        ("BAD_USER_INPUT", ("input", "resourceType")),
        ("BAD_USER_INPUT", ("input", "title")),
    ]
    # and clearing the resource type of a reward with a resource id is refused
    orphan = await mutate(admin, UPDATE_REWARD, {"id": reward["id"], "input": {"resourceType": None}})
    assert _problems(orphan) == [("BAD_USER_INPUT", ("input", "resourceId"))]
    assert await _reward_rows(db) == before

    # when both are cleared, it counts all XP again
    unscoped = await mutate(
        admin, UPDATE_REWARD, {"id": reward["id"], "input": {"resourceType": None, "resourceId": None}}
    )
    assert (unscoped["reward"]["resourceType"], unscoped["reward"]["resourceId"]) == (None, None)


async def test_reward_mutations_not_found_forbidden_and_idempotent_deactivation(actors: Actors, db: Any) -> None:
    # given a reward in each of two tenants
    tenant, other = await actors.tenant(), await actors.tenant()
    admin, user, other_admin = actors.admin(tenant), actors.user(tenant), actors.admin(other)
    reward = await _reward(admin, "Ours", 1)
    theirs = await _reward(other_admin, "Theirs", 1)
    unknown = to_global_id("Reward", uuid.uuid4())
    journey = await create_journey(admin)

    # when an admin updates or deactivates an unknown id, a non-reward id or another tenant's reward
    for bad_id in (unknown, journey["id"], theirs["id"], "garbage"):
        for document, variables in (
            (UPDATE_REWARD, {"id": bad_id, "input": {"title": "Taken"}}),
            (DEACTIVATE_REWARD, {"id": bad_id}),
        ):
            payload = await mutate(admin, document, variables)
            # then it is NOT_FOUND in the payload
            assert payload["reward"] is None
            assert _problems(payload) == [("NOT_FOUND", ("id",))], (bad_id, payload)
    # and a failed write does not break the next mutation of the same document
    body = await admin.post(
        f"""mutation($id: ID!) {{
          a: deactivateReward(id: $id) {{ {USER_ERRORS} }}
          b: createReward(input: {{title: "After", requiredLevel: 1}}) {{ reward {{ title }} {USER_ERRORS} }}
        }}""",
        {"id": unknown},
    )
    assert "errors" not in body, body
    assert [e["code"] for e in body["data"]["a"]["errors"]] == ["NOT_FOUND"]
    assert body["data"]["b"] == {"reward": {"title": "After"}, "errors": []}
    # and the other tenant's reward is untouched and unseen
    assert await _node(other_admin, theirs["id"]) == {
        "id": theirs["id"],
        "title": "Theirs",
        "active": True,
        "unlocked": True,
    }
    assert await _node(admin, theirs["id"]) is None

    # when a user calls the admin mutations, they are FORBIDDEN at the top level and change nothing
    before = await _reward_rows(db)
    for document, variables in (
        (CREATE_REWARD, {"input": {"title": "Mine", "requiredLevel": 1}}),
        (UPDATE_REWARD, {"id": reward["id"], "input": {"title": "Mine"}}),
        (DEACTIVATE_REWARD, {"id": reward["id"]}),
    ):
        body = await user.post(document, variables)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert body["data"] is None
    assert await _reward_rows(db) == before

    # when the admin deactivates the reward twice
    first = await mutate(admin, DEACTIVATE_REWARD, {"id": reward["id"]})
    (row,) = [r for r in await _reward_rows(db) if r[0] == "Ours"]
    second = await mutate(admin, DEACTIVATE_REWARD, {"id": reward["id"]})
    # then both answer the inactive reward, and the second changes nothing
    assert first["errors"] == second["errors"] == []
    assert first["reward"]["active"] is False
    assert second["reward"] == first["reward"]
    assert [r for r in await _reward_rows(db) if r[0] == "Ours"] == [row]
    assert row[6] is False

    # and updating it back to active brings it back for users
    assert await _titles(user) == ["After"]
    reactivated = await mutate(admin, UPDATE_REWARD, {"id": reward["id"], "input": {"active": True}})
    assert reactivated["reward"]["active"] is True
    assert await _titles(user) == ["After", "Ours"]
    assert await _node(user, reward["id"]) == {"id": reward["id"], "title": "Ours", "active": True, "unlocked": True}


# --- tenant thresholds ------------------------------------------------------------------------------


async def test_new_thresholds_change_levels_at_once(actors: Actors) -> None:
    # given a user with 107 XP: level 2 under the default thresholds
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    journey_id, events = await _journey(admin, [107])
    await _reward(admin, "Third", 3)
    await _finish(user, journey_id, events)
    summary = await _xp(user)
    assert (summary["level"], summary["currentLevelXp"], summary["nextLevelXp"]) == (2, 100, 250)
    assert [(r["title"], r["unlocked"]) for r in await _rewards(user)] == [("Third", False)]

    # when the admin lowers the thresholds, the level and unlocks are recomputed at once
    await _thresholds(admin, [0, 50, 100, 200])
    summary = await _xp(user)
    assert (summary["balance"], summary["level"], summary["currentLevelXp"], summary["nextLevelXp"]) == (
        107,
        3,
        100,
        200,
    )
    assert [(r["title"], r["unlocked"], r["unlockedAt"]) for r in await _rewards(user)] == [("Third", True, None)]

    # when they raise them, the level drops
    await _thresholds(admin, [0, 1000])
    summary = await _xp(user)
    assert (summary["level"], summary["currentLevelXp"], summary["nextLevelXp"]) == (1, 0, 1000)

    # when the user is at the last level, there is no next one
    await _thresholds(admin, [0, 100])
    summary = await _xp(user)
    assert (summary["level"], summary["currentLevelXp"], summary["nextLevelXp"]) == (2, 100, None)

    # then invalid thresholds are refused with their field and change nothing
    for bad in ([5, 10], [0, 100, 100], []):
        payload = await mutate(admin, UPDATE_SETTINGS, {"input": {"levelThresholds": bad}})
        assert payload["tenant"] is None
        assert _problems(payload) == [("BAD_USER_INPUT", ("input", "levelThresholds"))]
    assert (await _xp(user))["level"] == 2
    # and a user may not change them
    assert await user.error_codes(UPDATE_SETTINGS, {"input": {"levelThresholds": [0, 1]}}) == ["FORBIDDEN"]
    assert (await _xp(user))["level"] == 2
