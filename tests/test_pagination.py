"""The catalogue listing through the HTTP API: order, filters, search, keyset pages that stay
correct while journeys are added, signed cursors, the search index and statement counts."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from sqlalchemy import event, text

from app.graphql.relay import to_global_id
from tests.catalog_support import (
    ADMIN_JOURNEYS,
    JOURNEYS,
    bulk_journeys,
    journeys_page,
    listed_slugs,
    published_journey,
)
from tests.conftest import Actors, GraphQLClient, LiveServer, StatementCounter


async def _bad_input(client: GraphQLClient, document: str, variables: dict[str, Any]) -> None:
    """The operation fails with exactly one top-level BAD_USER_INPUT and no data."""
    body = await client.post(document, variables)
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert body["errors"][0]["extensions"]["status"] == 400, body


async def _newest_first(db: Any, tenant_id: uuid.UUID) -> list[str]:
    """The tenant's journey ids in catalogue order (createdAt desc, then id desc)."""
    async with db() as session:
        ids = (
            await session.execute(
                text("SELECT id FROM journeys WHERE tenant_id = :t ORDER BY created_at DESC, id DESC"),
                {"t": tenant_id},
            )
        ).scalars()
        return [to_global_id("Journey", i) for i in ids]


# --- order, filters, search ---------------------------------------------------------------


async def test_journeys_are_listed_newest_first_in_pages(actors: Actors) -> None:
    # given three published journeys created one after another
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    for slug in ("first", "second", "third"):
        await published_journey(admin, slug=slug)

    # when a user lists them
    page = await journeys_page(user)
    # then the newest comes first, on one page
    assert [e["node"]["slug"] for e in page["edges"]] == ["third", "second", "first"]
    assert page["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": page["edges"][0]["cursor"],
        "endCursor": page["edges"][-1]["cursor"],
    }

    # when listed two at a time
    first = await journeys_page(user, first=2)
    assert [e["node"]["slug"] for e in first["edges"]] == ["third", "second"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await journeys_page(user, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["slug"] for e in rest["edges"]] == ["first"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["pageInfo"]["hasPreviousPage"] is True
    # and continuing after the last item gives an empty page
    empty = await journeys_page(user, first=2, after=rest["pageInfo"]["endCursor"])
    assert empty["edges"] == []
    assert empty["pageInfo"]["hasNextPage"] is False
    assert (empty["pageInfo"]["startCursor"], empty["pageInfo"]["endCursor"]) == (None, None)


async def test_category_is_an_exact_match(actors: Actors) -> None:
    # given journeys of similar categories
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    await published_journey(admin, slug="lower", category="health")
    await published_journey(admin, slug="capital", category="Health")
    await published_journey(admin, slug="longer", category="health-plus")
    await published_journey(admin, slug="none")
    await published_journey(admin, slug="lower-too", category="health")

    # then only the exact category matches
    assert await listed_slugs(user, category="health") == ["lower-too", "lower"]
    assert await listed_slugs(user, category="Health") == ["capital"]
    assert await listed_slugs(user, category="heal") == []
    assert await listed_slugs(user, category="health%") == []
    assert await listed_slugs(user) == ["lower-too", "none", "longer", "capital", "lower"]


async def test_search_matches_all_words_case_insensitively_in_title_description_and_tags(
    actors: Actors,
) -> None:
    # given journeys with words in their title, description and tags
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    await published_journey(
        admin, slug="yoga-basics", title="Yoga Basics", description="Gentle stretching", tags=["wellness"]
    )
    await published_journey(
        admin,
        slug="advanced-yoga",
        title="Advanced YOGA flow",
        description="Power sessions",
        tags=["Strength", "Morning"],
        category="fitness",
    )
    await published_journey(
        admin, slug="running", title="Couch to 5k", description="Build up RUNNING slowly", tags=["cardio"]
    )
    draft_like = await published_journey(admin, slug="private-yoga", title="Yoga", visibility="PRIVATE")
    assert draft_like["visibility"] == "PRIVATE"

    cases: dict[str, list[str]] = {
        "yoga": ["advanced-yoga", "yoga-basics"],
        "YoGa": ["advanced-yoga", "yoga-basics"],
        "  yoga  ": ["advanced-yoga", "yoga-basics"],
        "stretch": ["yoga-basics"],  # in the description
        "running": ["running"],  # upper case in the description
        "morning": ["advanced-yoga"],  # a tag, capitalised
        "CARDIO": ["running"],
        "yoga power": ["advanced-yoga"],  # every word must match, anywhere
        "power yoga": ["advanced-yoga"],
        "yoga cardio": [],
        "couch 5k slowly": ["running"],
        "pilates": [],
    }
    for search, expected in cases.items():
        assert await listed_slugs(user, search=search) == expected, search
    # a blank search is no search; search and category combine
    assert len(await listed_slugs(user, search="   ")) == 3
    assert await listed_slugs(user, search="yoga", category="fitness") == ["advanced-yoga"]
    assert await listed_slugs(user, search="cardio", category="fitness") == []


async def test_like_wildcards_in_search_are_literal(actors: Actors) -> None:
    # given titles that differ only where a wildcard would match anything
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    await published_journey(admin, slug="percent", title="100% focus")
    await published_journey(admin, slug="thousand", title="1000 focus")
    await published_journey(admin, slug="underscore", title="snake_case naming")
    await published_journey(admin, slug="no-underscore", title="snakescase naming")
    await published_journey(admin, slug="backslash", title="back\\slash")

    cases: dict[str, list[str]] = {
        "100%": ["percent"],
        "%": ["percent"],
        "0%f": [],
        "e_c": ["underscore"],
        "_": ["underscore"],
        "snake_case": ["underscore"],
        "k\\s": ["backslash"],
        "\\": ["backslash"],
        "focus": ["thousand", "percent"],
    }
    for search, expected in cases.items():
        assert await listed_slugs(user, search=search) == expected, search


# --- keyset pages -------------------------------------------------------------------------


async def test_walking_pages_while_journeys_are_added_returns_each_one_once(actors: Actors, db: Any) -> None:
    # given nine published journeys, five of them created at the very same instant
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    await bulk_journeys(db, tenant.id, [f"Same time {i}" for i in range(5)], events_each=1, spacing_seconds=0)
    await bulk_journeys(db, tenant.id, [f"Spaced {i}" for i in range(4)], events_each=1)
    expected = await _newest_first(db, tenant.id)
    assert len(expected) == 9

    # when a user walks every page of two while an admin publishes a new journey between pages
    seen: list[str] = []
    added: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        variables: dict[str, Any] = {"first": 2} | ({"after": after} if after else {})
        page = await journeys_page(user, **variables)
        pages += 1
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        added.append((await published_journey(admin, title=f"Added {pages}"))["id"])
        assert pages < 20, "paging does not end"

    # then every pre-existing journey came exactly once, in catalogue order, and no new one
    assert seen == expected
    assert pages == 5
    assert len(added) == 4
    assert not set(added) & set(seen)
    # and the new ones are at the head of a fresh listing
    fresh = await journeys_page(user, first=4)
    assert [e["node"]["id"] for e in fresh["edges"]] == added[::-1]


# --- cursors and page sizes ---------------------------------------------------------------


def _raw(cursor: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _alter_body(cursor: str) -> str:
    """The same cursor with one digit of the timestamp in its signed body changed."""
    raw = _raw(cursor)
    index = raw.index(b"T") + 2
    raw[index] = ord("0") if raw[index] != ord("0") else ord("1")
    return _encode(raw)


def _alter_signature(cursor: str) -> str:
    """The same cursor with one bit of its signature flipped."""
    raw = _raw(cursor)
    raw[-1] ^= 0x01
    return _encode(raw)


async def test_forged_altered_and_foreign_cursors_are_bad_input(actors: Actors) -> None:
    # given two tenants with journeys, and a valid cursor of tenant A
    tenant_a, tenant_b = await actors.tenant(), await actors.tenant()
    admin_a, user_a = actors.admin(tenant_a), actors.user(tenant_a)
    admin_b, user_b = actors.admin(tenant_b), actors.user(tenant_b)
    for index in range(3):
        await published_journey(admin_a, slug=f"a-{index}", category="fit", tags=["walk"])
        await published_journey(admin_b, slug=f"b-{index}", category="fit", tags=["walk"])
    page = await journeys_page(user_a, first=1)
    cursor = page["pageInfo"]["endCursor"]
    assert (await journeys_page(user_a, first=1, after=cursor))["edges"][0]["node"]["slug"] == "a-1"
    body = json.loads(_raw(cursor)[:-16])

    forged = {
        "garbage": "abc",
        "empty": "",
        "not base64": "!!!***",
        "unsigned json": base64.urlsafe_b64encode(json.dumps(body).encode()).decode(),
        "wrong signature": base64.urlsafe_b64encode(json.dumps(body).encode() + b"0" * 16).decode(),
        "a global id": to_global_id("Journey", uuid.uuid4()),
        "altered body": _alter_body(cursor),
        "altered signature": _alter_signature(cursor),
        "truncated": cursor[:-4],
    }
    # when any of them is used, by A's user
    for name, bad in forged.items():
        assert bad != cursor, name
        body_ = await user_a.post(JOURNEYS, {"first": 1, "after": bad})
        # then it is one top-level BAD_USER_INPUT
        assert [e["extensions"]["code"] for e in body_.get("errors", [])] == ["BAD_USER_INPUT"], name
        assert body_["data"] is None, name

    # a cursor of another tenant is foreign, for its users and admins alike
    await _bad_input(user_b, JOURNEYS, {"first": 1, "after": cursor})
    await _bad_input(admin_b, JOURNEYS, {"first": 1, "after": cursor})

    # a cursor issued for other filters is foreign too
    by_category = (await journeys_page(user_a, first=1, category="fit"))["pageInfo"]["endCursor"]
    by_search = (await journeys_page(user_a, first=1, search="walk"))["pageInfo"]["endCursor"]
    assert (await journeys_page(user_a, first=1, category="fit", after=by_category))["edges"]
    assert (await journeys_page(user_a, first=1, search="walk", after=by_search))["edges"]
    for variables in (
        {"category": "other", "after": by_category},
        {"after": by_category},
        {"category": "fit", "search": "walk", "after": by_category},
        {"search": "run", "after": by_search},
        {"after": by_search},
        {"category": "fit", "after": cursor},
        {"search": "walk", "after": cursor},
    ):
        await _bad_input(user_a, JOURNEYS, {"first": 1, **variables})
    # and a cursor of the public catalogue does not page adminJourneys
    await _bad_input(admin_a, ADMIN_JOURNEYS, {"first": 1, "after": cursor})


async def test_page_size_must_be_1_to_100(actors: Actors) -> None:
    tenant = await actors.tenant()
    user = actors.user(tenant)
    await published_journey(actors.admin(tenant))
    for first in (0, -1, 101, 10_000):
        await _bad_input(user, JOURNEYS, {"first": first})
    for first in (1, 100):
        assert len((await journeys_page(user, first=first))["edges"]) == 1


# --- the search index ---------------------------------------------------------------------


async def test_search_is_served_by_the_trigram_index(actors: Actors, db: Any, server: LiveServer) -> None:
    # given a tenant with a few thousand journeys, a handful of which mention "zebra"
    tenant = await actors.tenant()
    user = actors.user(tenant)
    titles = [f"Journey {i} about topic{i % 97} and habit{i % 13}" for i in range(4000)]
    for index in range(0, 4000, 800):
        titles[index] = f"Zebra crossing {index}"
    await bulk_journeys(db, tenant.id, titles)
    # Fresh statistics only: the index is built without a pending list (fastupdate off), so
    # rows written a moment ago are already in it and the planner prices it as it is.
    async with server.runtime.engine.begin() as conn:
        await conn.execute(text("ANALYZE journey_versions"))  # users search the published versions

    # when a user searches, while we capture the SQL the server runs
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        captured.append((statement, parameters))

    engine = server.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        slugs = await listed_slugs(user, search="ZEBRA")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(slugs) == 5
    assert all(slug.startswith("bulk-") for slug in slugs)
    searches = [(s, p) for s, p in captured if "search_text" in s and "LIKE" in s.upper()]
    assert len(searches) == 1, captured
    statement, parameters = searches[0]
    assert "%zebra%" in list(parameters), parameters

    # then PostgreSQL plans that exact statement through the trigram index
    async with server.runtime.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        rows = await driver.fetch("EXPLAIN " + statement, *parameters)
    plan = "\n".join(row[0] for row in rows)
    assert "Bitmap Index Scan on ix_journey_versions_search_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan


# --- statements per request ---------------------------------------------------------------

CATALOGUE_WITH_EVENTS = """
query Catalogue($first: Int!) { journeys(first: $first) { edges { node { id events { id title } } } } }
"""


async def test_statements_per_request_do_not_depend_on_page_size(
    actors: Actors, db: Any, statements: StatementCounter
) -> None:
    # given sixty published journeys with two events each
    tenant = await actors.tenant()
    user = actors.user(tenant)
    await bulk_journeys(db, tenant.id, [f"Journey {i}" for i in range(60)], events_each=2)
    await user.data("query { viewer { id } }")  # the user exists from here on

    # when the catalogue is read with each journey's events, five and fifty at a time
    counts: dict[int, int] = {}
    for first in (5, 50):
        async with statements.measure() as counter:
            data = await user.data(CATALOGUE_WITH_EVENTS, {"first": first})
        counts[first] = counter.count
        edges = data["journeys"]["edges"]
        assert len(edges) == first
        assert all(len(edge["node"]["events"]) == 2 for edge in edges)

    # then both issue the same, small number of statements
    assert counts[5] == counts[50], counts
    assert counts[5] <= 6, counts
