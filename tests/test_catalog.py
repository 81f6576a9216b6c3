"""Catalogue authoring and visibility through the HTTP API: admin mutations, their
validation, roles, tenancy, what users may see, and the events each change records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.catalog_support import (
    ADD_EVENT,
    ADMIN_JOURNEYS,
    ARCHIVE_JOURNEY,
    CREATE_JOURNEY,
    JOURNEY,
    NODE,
    PUBLISH_JOURNEY,
    REMOVE_EVENT,
    REORDER_EVENTS,
    UPDATE_EVENT,
    UPDATE_JOURNEY,
    add_event,
    create_journey,
    listed_slugs,
    mutate,
    outbox,
    publish,
    published_journey,
)
from tests.conftest import Actors, GraphQLClient


def _codes_and_fields(payload: dict[str, Any]) -> list[tuple[str, tuple[str, ...] | None]]:
    return sorted((e["code"], tuple(e["field"]) if e["field"] is not None else None) for e in payload["errors"])


async def _journey(client: GraphQLClient, journey_id: str) -> dict[str, Any] | None:
    data = await client.data(JOURNEY, {"id": journey_id})
    journey: dict[str, Any] | None = data["journey"]
    return journey


async def _node(client: GraphQLClient, node_id: str) -> dict[str, Any] | None:
    data = await client.data(NODE, {"id": node_id})
    node: dict[str, Any] | None = data["node"]
    return node


async def _row_counts(db: Any) -> dict[str, int]:
    async with db() as session:
        return {
            table: (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("journeys", "journey_events", "outbox_events")
        }


# --- authoring: happy paths ---------------------------------------------------------------


async def test_admin_creates_updates_publishes_and_archives_a_journey(actors: Actors) -> None:
    # given a tenant with an admin and a user
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)

    # when the admin creates a journey
    created = await mutate(
        admin,
        CREATE_JOURNEY,
        {
            "input": {
                "slug": "morning-routine",
                "title": "  Morning routine  ",
                "description": "Start the day well",
                "category": "health",
                "tags": ["sleep", "habits", "sleep"],
                "xpReward": 50,
            }
        },
    )
    # then it is a DRAFT with the given (cleaned) fields and defaults
    assert created["errors"] == []
    journey = created["journey"]
    assert {k: journey[k] for k in ("slug", "title", "description", "category", "tags")} == {
        "slug": "morning-routine",
        "title": "Morning routine",
        "description": "Start the day well",
        "category": "health",
        "tags": ["sleep", "habits"],
    }
    assert journey["status"] == "DRAFT"
    assert journey["visibility"] == "PUBLIC"
    assert journey["xpReward"] == 50
    assert journey["publishedAt"] is None
    assert journey["events"] == []
    # and users do not see a draft
    assert await _journey(user, journey["id"]) is None

    # when the admin updates some fields
    updated = await mutate(
        admin, UPDATE_JOURNEY, {"id": journey["id"], "input": {"title": "Better mornings", "category": None}}
    )
    # then only those change
    assert updated["errors"] == []
    assert updated["journey"]["title"] == "Better mornings"
    assert updated["journey"]["category"] is None
    assert updated["journey"]["slug"] == "morning-routine"
    assert updated["journey"]["description"] == "Start the day well"
    assert updated["journey"]["tags"] == ["sleep", "habits"]
    assert updated["journey"]["xpReward"] == 50

    # when it gets an event and is published
    await add_event(admin, journey["id"], title="Drink water")
    published = await mutate(admin, PUBLISH_JOURNEY, {"id": journey["id"]})
    # then it is PUBLISHED, visible to users and listed in the catalogue
    assert published["errors"] == []
    assert published["journey"]["status"] == "PUBLISHED"
    assert published["journey"]["publishedAt"] is not None
    seen = await _journey(user, journey["id"])
    assert seen is not None
    assert seen["title"] == "Better mornings"
    assert [e["title"] for e in seen["events"]] == ["Drink water"]
    assert await listed_slugs(user) == ["morning-routine"]

    # when it is archived
    archived = await mutate(admin, ARCHIVE_JOURNEY, {"id": journey["id"]})
    # then users no longer see it, admins do
    assert archived["errors"] == []
    assert archived["journey"]["status"] == "ARCHIVED"
    assert await _journey(user, journey["id"]) is None
    assert await listed_slugs(user) == []
    admin_view = await _journey(admin, journey["id"])
    assert admin_view is not None
    assert admin_view["status"] == "ARCHIVED"


async def test_events_are_added_last_updated_and_read_back_in_position_order(actors: Actors) -> None:
    # given a journey
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)

    # when three events are added
    first = await mutate(
        admin,
        ADD_EVENT,
        {
            "journeyId": journey["id"],
            "input": {
                "title": "Watch intro",
                "description": "A short video",
                "kind": "video",
                "dayOffset": 0,
                "durationMinutes": 5,
                "xpReward": 10,
                "metadata": {"url": "https://example.com/v"},
            },
        },
    )
    second = await add_event(admin, journey["id"], title="Read guide")
    third = await add_event(admin, journey["id"], title="Reflect")

    # then each goes last, with its fields and defaults
    assert first["errors"] == []
    assert first["event"] == {
        "id": first["event"]["id"],
        "position": 1,
        "title": "Watch intro",
        "description": "A short video",
        "kind": "video",
        "dayOffset": 0,
        "durationMinutes": 5,
        "xpReward": 10,
        "metadata": {"url": "https://example.com/v"},
    }
    assert (second["position"], second["kind"], second["dayOffset"], second["xpReward"]) == (2, "task", None, 0)
    assert third["position"] == 3

    # when an event is updated
    changed = await mutate(
        admin, UPDATE_EVENT, {"id": second["id"], "input": {"title": "Read the guide", "dayOffset": 2}}
    )
    # then the given fields change and the rest stay
    assert changed["errors"] == []
    assert changed["event"]["title"] == "Read the guide"
    assert changed["event"]["dayOffset"] == 2
    assert changed["event"]["position"] == 2
    assert changed["event"]["kind"] == "task"

    # and the journey lists its events in position order
    seen = await _journey(admin, journey["id"])
    assert seen is not None
    assert [(e["position"], e["title"]) for e in seen["events"]] == [
        (1, "Watch intro"),
        (2, "Read the guide"),
        (3, "Reflect"),
    ]


async def test_removing_an_event_moves_later_events_up(actors: Actors) -> None:
    # given a journey with four events
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)
    events = [await add_event(admin, journey["id"], title=t) for t in ("A", "B", "C", "D")]

    # when the second is removed
    removed = await mutate(admin, REMOVE_EVENT, {"id": events[1]["id"]})

    # then the payload is the removed event, as it was
    assert removed["errors"] == []
    assert (removed["event"]["id"], removed["event"]["title"]) == (events[1]["id"], "B")
    # and the later events moved up one position
    seen = await _journey(admin, journey["id"])
    assert seen is not None
    assert [(e["position"], e["title"]) for e in seen["events"]] == [(1, "A"), (2, "C"), (3, "D")]
    assert await _node(admin, events[1]["id"]) is None
    # and a new event still goes last
    assert (await add_event(admin, journey["id"], title="E"))["position"] == 4

    # when it is removed again
    again = await mutate(admin, REMOVE_EVENT, {"id": events[1]["id"]})
    # then it is not found
    assert _codes_and_fields(again) == [("NOT_FOUND", ("id",))]
    assert again["event"] is None


async def test_reorder_sets_positions_in_the_order_given(actors: Actors) -> None:
    # given a journey with three events
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)
    a, b, c = [await add_event(admin, journey["id"], title=t) for t in ("A", "B", "C")]

    # when they are reordered
    payload = await mutate(admin, REORDER_EVENTS, {"journeyId": journey["id"], "eventIds": [c["id"], a["id"], b["id"]]})

    # then positions follow the given order
    assert payload["errors"] == []
    assert [(e["position"], e["title"]) for e in payload["journey"]["events"]] == [
        (1, "C"),
        (2, "A"),
        (3, "B"),
    ]
    seen = await _journey(admin, journey["id"])
    assert seen is not None
    assert [e["title"] for e in seen["events"]] == ["C", "A", "B"]


async def test_reorder_must_list_each_event_exactly_once(actors: Actors, db: Any) -> None:
    # given a journey with three events, and another journey with one
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)
    a, b, c = [await add_event(admin, journey["id"], title=t) for t in ("A", "B", "C")]
    other = await create_journey(admin)
    stranger = await add_event(admin, other["id"], title="X")
    before = await _row_counts(db)

    bad_lists = {
        "missing": [a["id"], b["id"]],
        "duplicated": [a["id"], b["id"], b["id"]],
        "duplicated instead of one": [a["id"], a["id"], c["id"]],
        "of another journey": [a["id"], b["id"], c["id"], stranger["id"]],
        "replaced by another journey's": [a["id"], b["id"], stranger["id"]],
        "empty": [],
    }
    for name, ids in bad_lists.items():
        # when reordered with a wrong list
        payload = await mutate(admin, REORDER_EVENTS, {"journeyId": journey["id"], "eventIds": ids})
        # then it is bad input on eventIds
        assert payload["journey"] is None, name
        assert _codes_and_fields(payload) == [("BAD_USER_INPUT", ("eventIds",))], name

    # when an id is not an event id at all
    payload = await mutate(admin, REORDER_EVENTS, {"journeyId": journey["id"], "eventIds": [a["id"], "nope"]})
    assert _codes_and_fields(payload) == [("NOT_FOUND", ("eventIds",))]

    # then nothing changed
    seen = await _journey(admin, journey["id"])
    assert seen is not None
    assert [(e["position"], e["title"]) for e in seen["events"]] == [(1, "A"), (2, "B"), (3, "C")]
    assert await _row_counts(db) == before


# --- validation ---------------------------------------------------------------------------


async def test_create_with_one_invalid_field_names_it(actors: Actors, db: Any) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"slug": "ok-slug", "title": "   "}, ["input", "title"]),
        ({"slug": "ok-slug"}, ["input", "title"]),
        ({"slug": "ok-slug", "title": None}, ["input", "title"]),
        ({"slug": "ok-slug", "title": "x" * 201}, ["input", "title"]),
        ({"title": "T"}, ["input", "slug"]),
        ({"slug": "Not A Slug", "title": "T"}, ["input", "slug"]),
        ({"slug": "double--hyphen", "title": "T"}, ["input", "slug"]),
        ({"slug": "s" * 65, "title": "T"}, ["input", "slug"]),
        ({"slug": "ok-slug", "title": "T", "description": "d" * 10_001}, ["input", "description"]),
        ({"slug": "ok-slug", "title": "T", "category": "c" * 65}, ["input", "category"]),
        ({"slug": "ok-slug", "title": "T", "tags": ["fine", " "]}, ["input", "tags", "1"]),
        ({"slug": "ok-slug", "title": "T", "tags": ["t" * 33]}, ["input", "tags", "0"]),
        ({"slug": "ok-slug", "title": "T", "tags": [f"t{i}" for i in range(21)]}, ["input", "tags"]),
        ({"slug": "ok-slug", "title": "T", "visibility": None}, ["input", "visibility"]),
        ({"slug": "ok-slug", "title": "T", "xpReward": -1}, ["input", "xpReward"]),
        ({"slug": "ok-slug", "title": "T", "xpReward": 1_000_001}, ["input", "xpReward"]),
        ({"slug": "ok-slug", "title": "T", "xpReward": None}, ["input", "xpReward"]),
    ]
    for values, field in cases:
        # when a journey is created with one invalid field
        payload = await mutate(admin, CREATE_JOURNEY, {"input": values})
        # then exactly one BAD_USER_INPUT names that field, and there is no journey
        assert payload["journey"] is None, values
        assert len(payload["errors"]) == 1, (values, payload["errors"])
        error = payload["errors"][0]
        assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field), values
        assert error["message"]

    # and nothing was created or recorded
    assert await _row_counts(db) == {"journeys": 0, "journey_events": 0, "outbox_events": 0}


async def test_create_with_several_invalid_fields_lists_them_all(actors: Actors, db: Any) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)

    # when several fields are invalid at once
    payload = await mutate(
        admin,
        CREATE_JOURNEY,
        {
            "input": {
                "slug": "Bad Slug!",
                "title": "",
                "category": "c" * 100,
                "tags": ["ok", "t" * 40],
                "xpReward": -5,
            }
        },
    )

    # then each is a UserError with its field
    assert payload["journey"] is None
    assert _codes_and_fields(payload) == sorted(
        [
            ("BAD_USER_INPUT", ("input", "slug")),
            ("BAD_USER_INPUT", ("input", "title")),
            ("BAD_USER_INPUT", ("input", "category")),
            ("BAD_USER_INPUT", ("input", "tags", "1")),
            ("BAD_USER_INPUT", ("input", "xpReward")),
        ]
    )
    assert await _row_counts(db) == {"journeys": 0, "journey_events": 0, "outbox_events": 0}


async def test_invalid_update_changes_nothing(actors: Actors, db: Any) -> None:
    # given a journey
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin, slug="stay-same", title="Stay same", xpReward=7)
    before_rows = await _row_counts(db)

    # when an update mixes valid and invalid fields
    payload = await mutate(
        admin,
        UPDATE_JOURNEY,
        {
            "id": journey["id"],
            "input": {"title": "New title", "slug": "UPPER", "xpReward": 2_000_000, "visibility": None},
        },
    )

    # then every invalid field is reported
    assert payload["journey"] is None
    assert _codes_and_fields(payload) == sorted(
        [
            ("BAD_USER_INPUT", ("input", "slug")),
            ("BAD_USER_INPUT", ("input", "xpReward")),
            ("BAD_USER_INPUT", ("input", "visibility")),
        ]
    )
    # and nothing changed, not even the valid field
    assert await _journey(admin, journey["id"]) == journey
    assert await _row_counts(db) == before_rows

    # and a null title on update is invalid, not a clearing
    payload = await mutate(admin, UPDATE_JOURNEY, {"id": journey["id"], "input": {"title": None}})
    assert _codes_and_fields(payload) == [("BAD_USER_INPUT", ("input", "title"))]
    assert await _journey(admin, journey["id"]) == journey


async def test_invalid_event_input_lists_every_field_and_changes_nothing(actors: Actors, db: Any) -> None:
    # given a journey with one event
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)
    event = await add_event(admin, journey["id"], title="Keep", dayOffset=1, durationMinutes=30)
    before_rows = await _row_counts(db)

    # when an event is added with many invalid fields
    added = await mutate(
        admin,
        ADD_EVENT,
        {
            "journeyId": journey["id"],
            "input": {
                "title": " ",
                "description": "d" * 10_001,
                "kind": "Not-Lower",
                "dayOffset": -1,
                "durationMinutes": 0,
                "xpReward": 1_000_001,
            },
        },
    )
    # then each is reported with its field
    assert added["event"] is None
    assert _codes_and_fields(added) == sorted(
        ("BAD_USER_INPUT", ("input", name))
        for name in ("title", "description", "kind", "dayOffset", "durationMinutes", "xpReward")
    )

    # single invalid fields, on add and on update
    single: list[tuple[dict[str, Any], str]] = [
        ({"kind": ""}, "kind"),
        ({"kind": None}, "kind"),
        ({"kind": "k" * 33}, "kind"),
        ({"dayOffset": 3651}, "dayOffset"),
        ({"durationMinutes": 7 * 24 * 60 + 1}, "durationMinutes"),
        ({"xpReward": -1}, "xpReward"),
        ({"xpReward": None}, "xpReward"),
        ({"title": "t" * 201}, "title"),
    ]
    for values, name in single:
        on_add = await mutate(admin, ADD_EVENT, {"journeyId": journey["id"], "input": {"title": "T", **values}})
        assert _codes_and_fields(on_add) == [("BAD_USER_INPUT", ("input", name))], values
        on_update = await mutate(admin, UPDATE_EVENT, {"id": event["id"], "input": values})
        assert _codes_and_fields(on_update) == [("BAD_USER_INPUT", ("input", name))], values
        assert on_update["event"] is None

    # the title is required on add
    missing = await mutate(admin, ADD_EVENT, {"journeyId": journey["id"], "input": {"kind": "task"}})
    assert _codes_and_fields(missing) == [("BAD_USER_INPUT", ("input", "title"))]

    # and nothing changed
    seen = await _journey(admin, journey["id"])
    assert seen is not None
    assert seen["events"] == [{"id": event["id"], "position": 1, "title": "Keep"}]
    node = await _node(admin, event["id"])
    assert node == {"id": event["id"], "title": "Keep", "position": 1}
    assert await _row_counts(db) == before_rows


async def test_slugs_are_unique_within_a_tenant(actors: Actors, db: Any) -> None:
    # given two journeys in one tenant
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    await create_journey(admin, slug="taken", title="First")
    second = await create_journey(admin, slug="free", title="Second")
    before_rows = await _row_counts(db)

    # when another is created with a taken slug
    payload = await mutate(admin, CREATE_JOURNEY, {"input": {"slug": "taken", "title": "Again"}})
    # then it is bad input on the slug
    assert payload["journey"] is None
    assert _codes_and_fields(payload) == [("BAD_USER_INPUT", ("input", "slug"))]

    # when a journey is renamed to a taken slug
    payload = await mutate(admin, UPDATE_JOURNEY, {"id": second["id"], "input": {"slug": "taken"}})
    # then too, and it keeps its slug
    assert _codes_and_fields(payload) == [("BAD_USER_INPUT", ("input", "slug"))]
    assert await _row_counts(db) == before_rows
    seen = await _journey(admin, second["id"])
    assert seen is not None
    assert seen["slug"] == "free"

    # but keeping its own slug is fine, and another tenant may use the same slug
    same = await mutate(admin, UPDATE_JOURNEY, {"id": second["id"], "input": {"slug": "free"}})
    assert same["errors"] == []
    other_tenant = await actors.tenant()
    await create_journey(actors.admin(other_tenant), slug="taken", title="Elsewhere")


async def test_publishing_needs_an_event(actors: Actors, db: Any) -> None:
    # given a journey without events
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)
    events_before = await outbox(db)

    # when it is published
    payload = await mutate(admin, PUBLISH_JOURNEY, {"id": journey["id"]})

    # then it is bad input and it stays a draft, invisible to users
    assert payload["journey"] is None
    assert _codes_and_fields(payload) == [("BAD_USER_INPUT", ("id",))]
    seen = await _journey(admin, journey["id"])
    assert seen is not None
    assert (seen["status"], seen["publishedAt"]) == ("DRAFT", None)
    assert await _journey(actors.user(tenant), journey["id"]) is None
    assert await outbox(db) == events_before

    # and once its only event was removed, it cannot be published either
    event = await add_event(admin, journey["id"])
    await mutate(admin, REMOVE_EVENT, {"id": event["id"]})
    payload = await mutate(admin, PUBLISH_JOURNEY, {"id": journey["id"]})
    assert _codes_and_fields(payload) == [("BAD_USER_INPUT", ("id",))]


async def test_unknown_ids_are_not_found(actors: Actors) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await create_journey(admin)
    event = await add_event(admin, journey["id"])
    # a well-formed id of nothing, an id of the wrong type, and garbage
    ghost_journey = "Sm91cm5leTowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA"  # Journey:0000…
    for journey_id in (ghost_journey, event["id"], "garbage"):
        for document, variables, field in (
            (UPDATE_JOURNEY, {"id": journey_id, "input": {"title": "X"}}, "id"),
            (PUBLISH_JOURNEY, {"id": journey_id}, "id"),
            (ARCHIVE_JOURNEY, {"id": journey_id}, "id"),
            (ADD_EVENT, {"journeyId": journey_id, "input": {"title": "X"}}, "journeyId"),
            (REORDER_EVENTS, {"journeyId": journey_id, "eventIds": [event["id"]]}, "journeyId"),
        ):
            payload = await mutate(admin, document, variables)
            assert _codes_and_fields(payload) == [("NOT_FOUND", (field,))], (document, journey_id)
    for event_id in (journey["id"], "garbage"):
        for document, variables in (
            (UPDATE_EVENT, {"id": event_id, "input": {"title": "X"}}),
            (REMOVE_EVENT, {"id": event_id}),
        ):
            payload = await mutate(admin, document, variables)
            assert _codes_and_fields(payload) == [("NOT_FOUND", ("id",))], (document, event_id)
            assert payload["event"] is None


# --- roles --------------------------------------------------------------------------------


async def test_users_may_not_call_admin_mutations(actors: Actors, db: Any) -> None:
    # given a draft journey with two events, and a published one
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    draft = await create_journey(admin, slug="draft-one", title="Draft")
    first = await add_event(admin, draft["id"], title="A")
    second = await add_event(admin, draft["id"], title="B")
    live = await published_journey(admin, slug="live-one", title="Live")
    before_rows = await _row_counts(db)
    before_draft = await _journey(admin, draft["id"])
    before_live = await _journey(admin, live["id"])

    calls: list[tuple[str, dict[str, Any]]] = [
        (CREATE_JOURNEY, {"input": {"slug": "sneaky", "title": "Sneaky"}}),
        (UPDATE_JOURNEY, {"id": draft["id"], "input": {"title": "Hacked"}}),
        (PUBLISH_JOURNEY, {"id": draft["id"]}),
        (ARCHIVE_JOURNEY, {"id": live["id"]}),
        (ADD_EVENT, {"journeyId": draft["id"], "input": {"title": "Injected"}}),
        (UPDATE_EVENT, {"id": first["id"], "input": {"title": "Hacked"}}),
        (REMOVE_EVENT, {"id": first["id"]}),
        (REORDER_EVENTS, {"journeyId": draft["id"], "eventIds": [second["id"], first["id"]]}),
    ]
    for document, variables in calls:
        # when a user calls an admin mutation
        body = await user.post(document, variables)
        # then it is one top-level FORBIDDEN error, with no data
        assert body["data"] is None, document
        assert len(body["errors"]) == 1, body
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        assert body["errors"][0]["extensions"]["status"] == 403

    # and nothing changed
    assert await _row_counts(db) == before_rows
    assert await _journey(admin, draft["id"]) == before_draft
    assert await _journey(admin, live["id"]) == before_live


# --- tenancy and visibility ---------------------------------------------------------------


async def test_another_tenants_journeys_do_not_exist(actors: Actors, db: Any) -> None:
    # given a published journey with events in tenant A
    tenant_a, tenant_b = await actors.tenant(), await actors.tenant()
    admin_a = actors.admin(tenant_a)
    journey = await published_journey(admin_a, slug="secret", title="Secret", events=2)
    events = journey["events"]
    before_rows = await _row_counts(db)
    before = await _journey(admin_a, journey["id"])
    admin_b, user_b = actors.admin(tenant_b), actors.user(tenant_b)

    # then neither a user nor an admin of tenant B can see it or its events
    for client in (admin_b, user_b):
        assert await _journey(client, journey["id"]) is None
        assert await _node(client, journey["id"]) is None
        assert await _node(client, events[0]["id"]) is None
        assert await listed_slugs(client) == []
        nodes = await client.data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [journey["id"], events[0]["id"]]}
        )
        assert nodes["nodes"] == [None, None]

    # and B's admin mutations on it are NOT_FOUND
    calls: list[tuple[str, dict[str, Any], str]] = [
        (UPDATE_JOURNEY, {"id": journey["id"], "input": {"title": "Mine now"}}, "id"),
        (PUBLISH_JOURNEY, {"id": journey["id"]}, "id"),
        (ARCHIVE_JOURNEY, {"id": journey["id"]}, "id"),
        (ADD_EVENT, {"journeyId": journey["id"], "input": {"title": "Injected"}}, "journeyId"),
        (UPDATE_EVENT, {"id": events[0]["id"], "input": {"title": "Mine now"}}, "id"),
        (REMOVE_EVENT, {"id": events[0]["id"]}, "id"),
        (
            REORDER_EVENTS,
            {"journeyId": journey["id"], "eventIds": [events[1]["id"], events[0]["id"]]},
            "journeyId",
        ),
    ]
    for document, variables, field in calls:
        payload = await mutate(admin_b, document, variables)
        assert _codes_and_fields(payload) == [("NOT_FOUND", (field,))], (document, payload)
        assert next(v for k, v in payload.items() if k != "errors") is None

    # and it is unchanged in A
    assert await _journey(admin_a, journey["id"]) == before
    assert await _row_counts(db) == before_rows
    assert await listed_slugs(actors.user(tenant_a)) == ["secret"]


async def test_users_see_only_published_journeys_admins_see_all(actors: Actors) -> None:
    # given a draft, an archived, a private published and a public published journey
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    draft = await create_journey(admin, slug="draft", title="Draft")
    draft_event = await add_event(admin, draft["id"])
    archived = await published_journey(admin, slug="archived", title="Archived")
    await mutate(admin, ARCHIVE_JOURNEY, {"id": archived["id"]})
    private = await published_journey(admin, slug="private", title="Private", visibility="PRIVATE")
    public = await published_journey(admin, slug="public", title="Public")

    # then users see neither the draft nor the archived one, by any way
    for hidden in (draft, archived):
        assert await _journey(user, hidden["id"]) is None
        assert await _node(user, hidden["id"]) is None
    assert await _node(user, draft_event["id"]) is None
    # and they reach the private one by id only
    assert (await _journey(user, private["id"]) or {}).get("slug") == "private"
    assert (await _node(user, private["id"]) or {}).get("title") == "Private"
    assert await listed_slugs(user) == ["public"]
    assert (await _journey(user, public["id"]) or {}).get("slug") == "public"

    # and admins see every one of them
    for journey, status in ((draft, "DRAFT"), (archived, "ARCHIVED"), (private, "PUBLISHED")):
        seen = await _journey(admin, journey["id"])
        assert seen is not None
        assert seen["status"] == status
        assert (await _node(admin, journey["id"]) or {}).get("status") == status
    assert (await _node(admin, draft_event["id"]) or {}).get("title") == "Step"
    # the public catalogue is the same for admins; adminJourneys lists everything
    assert await listed_slugs(admin) == ["public"]
    every = await admin.data(ADMIN_JOURNEYS)
    assert [e["node"]["slug"] for e in every["adminJourneys"]["edges"]] == [
        "public",
        "private",
        "archived",
        "draft",
    ]
    assert await user.error_codes(ADMIN_JOURNEYS) == ["FORBIDDEN"]


async def test_publishing_and_archiving_twice_changes_nothing(actors: Actors, db: Any) -> None:
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    journey = await published_journey(admin)
    recorded = len(await outbox(db))

    again = await mutate(admin, PUBLISH_JOURNEY, {"id": journey["id"]})
    assert again["errors"] == []
    assert again["journey"]["publishedAt"] == journey["publishedAt"]

    archived = await mutate(admin, ARCHIVE_JOURNEY, {"id": journey["id"]})
    twice = await mutate(admin, ARCHIVE_JOURNEY, {"id": journey["id"]})
    assert archived["journey"]["status"] == twice["journey"]["status"] == "ARCHIVED"
    assert [t for t, _, _ in (await outbox(db))[recorded:]] == ["journey.archived"]


# --- outbox -------------------------------------------------------------------------------


async def test_each_admin_change_records_its_event(actors: Actors, db: Any) -> None:
    # given two tenants
    tenant, other = await actors.tenant(), await actors.tenant()
    admin = actors.admin(tenant)
    await create_journey(actors.admin(other))
    recorded = len(await outbox(db))

    # when an admin authors a journey step by step
    journey = await create_journey(admin, slug="recorded")
    await mutate(admin, UPDATE_JOURNEY, {"id": journey["id"], "input": {"title": "Renamed"}})
    a = await add_event(admin, journey["id"], title="A")
    b = await add_event(admin, journey["id"], title="B")
    await mutate(admin, UPDATE_EVENT, {"id": a["id"], "input": {"title": "A2"}})
    await mutate(admin, REORDER_EVENTS, {"journeyId": journey["id"], "eventIds": [b["id"], a["id"]]})
    await mutate(admin, REMOVE_EVENT, {"id": a["id"]})
    await publish(admin, journey["id"])
    await mutate(admin, ARCHIVE_JOURNEY, {"id": journey["id"]})

    # then each change recorded its event, in order, for the tenant
    events = (await outbox(db))[recorded:]
    assert [t for t, _, _ in events] == [
        "journey.created",
        "journey.updated",
        "journey_event.added",
        "journey_event.added",
        "journey_event.updated",
        "journey_event.reordered",
        "journey_event.removed",
        "journey.published",
        "journey.archived",
    ]
    assert {tenant_id for _, tenant_id, _ in events} == {tenant.id}
    assert all(data["slug"] == "recorded" for _, _, data in events)
    assert events[2][2]["eventId"] != events[3][2]["eventId"]

    # when mutations fail, in every way
    failures: list[tuple[str, dict[str, Any]]] = [
        (CREATE_JOURNEY, {"input": {"slug": "recorded", "title": "Dup"}}),
        (CREATE_JOURNEY, {"input": {"slug": "x", "title": ""}}),
        (UPDATE_JOURNEY, {"id": journey["id"], "input": {"xpReward": -1}}),
        (ADD_EVENT, {"journeyId": journey["id"], "input": {"title": ""}}),
        (UPDATE_EVENT, {"id": b["id"], "input": {"kind": "BAD"}}),
        (REMOVE_EVENT, {"id": a["id"]}),
        (REORDER_EVENTS, {"journeyId": journey["id"], "eventIds": []}),
    ]
    draft = await create_journey(admin)
    recorded = len(await outbox(db))
    failures.append((PUBLISH_JOURNEY, {"id": draft["id"]}))
    for document, variables in failures:
        payload = await mutate(admin, document, variables)
        assert payload["errors"], (document, variables)
    # and a user tries an admin mutation
    await actors.user(tenant).post(CREATE_JOURNEY, {"input": {"slug": "user-made", "title": "U"}})

    # then none of them recorded anything
    assert len(await outbox(db)) == recorded
