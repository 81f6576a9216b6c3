"""Hardening (SPEC §13): no request can stall, bloat or crash the server, and every failure
answers with a code from the list — over HTTP and over the websocket."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from typing import Any

import jwt
import pytest
from graphql import parse

from app.graphql.documents import DocumentCache
from app.graphql.limits import MAX_HEADER_BYTES, MAX_NODES, measure_document
from app.graphql.schema import schema as default_schema
from app.tenancy.models import Tenant
from tests.catalog_support import published_journey
from tests.conftest import TEST_SECRET, Actors, LiveServer
from tests.subscription_support import graphql_socket

CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "QUERY_TOO_COMPLEX",
    "NOT_CONFIGURED",
    "UPSTREAM_FAILED",
    "TEMPORARILY_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
}
INTERNAL_WORDS = ("sqlalchemy", "asyncpg", "traceback", "method '", "greenlet", "_connection_for_bind", "select ")


@pytest.fixture
async def tenant(actors: Actors) -> Tenant:
    return await actors.tenant()


def _codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def _assert_clean(body: dict[str, Any]) -> None:
    """Every error has a listed code and no library text."""
    for error in body.get("errors", []):
        assert error.get("extensions", {}).get("code") in CODES, body
        assert not any(word in error["message"].lower() for word in INTERNAL_WORDS), body


# --- 1. document checks in linear time ------------------------------------------------------


def _fan_out(levels: int, ways: int, *, wide: int = 1) -> str:
    """Fragments that each spread the next one ``ways`` times (and ``wide`` fields)."""
    fields = " ".join(["externalId"] * wide)
    parts = ["query FanOut { viewer { ...F0 } }"]
    for level in range(levels):
        spreads = " ".join([f"...F{level + 1}"] * ways) if level < levels - 1 else ""
        parts.append(f"fragment F{level} on ViewerType {{ {fields} {spreads} }}")
    return "\n".join(parts)


def _fan_out_distinct(levels: int) -> str:
    """Two distinct fragments per level, each spreading both of the next level's."""
    parts = ["query FanOut { viewer { ...A0 ...B0 } }"]
    for level in range(levels):
        nxt = f"...A{level + 1} ...B{level + 1}" if level < levels - 1 else ""
        parts.append(f"fragment A{level} on ViewerType {{ externalId {nxt} }}")
        parts.append(f"fragment B{level} on ViewerType {{ role {nxt} }}")
    return "\n".join(parts)


@pytest.mark.parametrize("ways", [2, 3])
def test_fragment_fan_out_is_measured_in_one_linear_pass(ways: int) -> None:
    graphql_schema = default_schema._schema
    figures = []
    for levels in (10, 20, 30, 40):
        for document in (_fan_out(levels, ways), _fan_out(levels, ways, wide=5), _fan_out_distinct(levels)):
            measure = measure_document(graphql_schema, parse(document))
            selections = document.count("...") + document.count("externalId") + document.count("role") + 1
            # each selection of the document is looked at once, however often its fragment is spread
            assert measure.visited == selections, (levels, measure.visited, selections)
            figures.append((len(document), measure.visited))
    # and the count grows with the document's length, not with 2^levels
    for length, visited in figures:
        assert visited <= length / 4


async def test_fragment_fan_out_documents_are_answered_and_do_not_stall(actors: Actors, tenant: Tenant) -> None:
    user = actors.user(tenant, "fan")
    for document in (_fan_out(22, 2), _fan_out(40, 3), _fan_out(40, 2, wide=5), _fan_out_distinct(40)):
        started = time.perf_counter()
        body = await user.post(document)
        # then the document is answered (its fields merge) — it is valid and small
        assert "errors" not in body, body
        assert body["data"]["viewer"]["externalId"] == "fan"
        assert time.perf_counter() - started < 5  # a guard against a hang, not a measurement


async def test_quadratic_field_overlap_is_cut_off_by_the_validation_budget(actors: Actors, tenant: Tenant) -> None:
    # graphql-core compares every pair of same-named fields: 20 x 20 nested repeats cost
    # 400,000 comparisons (0.8 s) before the budget was lowered
    document = "{ " + ("viewer { " + "tenant { id } " * 20 + "} ") * 20 + "}"
    body = await actors.user(tenant).post(document)
    assert _codes(body) == ["QUERY_TOO_COMPLEX"], body
    # while ordinary repetition is still answered
    assert "errors" not in await actors.user(tenant).post("{ viewer { id } viewer { id externalId } }")


# --- result-size limit ---------------------------------------------------------------------

NESTED_PAGES = """
query Pages($outer: Int, $inner: Int) {
  myJourneys(first: $outer) { edges { node { events(first: $inner) { edges { cursor } } } } }
}
"""


@pytest.mark.parametrize(
    ("variables", "nodes"),
    [({"outer": 100, "inner": 100}, 100 + 100 * 100), ({}, 20 + 20 * 20), ({"outer": 5}, 5 + 5 * 20)],
)
def test_the_node_count_multiplies_page_sizes_of_nested_connections(variables: dict[str, int], nodes: int) -> None:
    measure = measure_document(default_schema._schema, parse(NESTED_PAGES))
    assert measure.nodes("Pages", variables) == nodes


async def test_a_document_over_the_node_limit_is_refused_before_anything_runs(actors: Actors, tenant: Tenant) -> None:
    # 5 aliased copies of 100 x 100 nested pages: 5 x 10,100 = 50,500 > 50,000
    copies = " ".join(
        f"c{i}: myJourneys(first: $n) {{ edges {{ node {{ events(first: $n) {{ edges {{ cursor }} }} }} }} }}"
        for i in range(5)
    )
    document = f"query Big($n: Int) {{ {copies} }}"
    body = await actors.user(tenant).post(document, {"n": 100})
    assert _codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert f"{MAX_NODES:,}" in body["errors"][0]["message"]
    # the same document with smaller pages runs
    body = await actors.user(tenant).post(document, {"n": 10})
    assert "errors" not in body, body
    # and plain lists (a journey's events) do not multiply
    plain = "{ journeys(first: 100) { edges { node { events { id } } } } }"
    assert "errors" not in await actors.user(tenant).post(plain)


# --- 2. bounded memory --------------------------------------------------------------------


def test_the_document_cache_stays_under_its_byte_bound() -> None:
    cache = DocumentCache(max_bytes=8 * 1024 * 1024, max_document_chars=8 * 1024)
    sizes = []
    for index in range(1000):
        padding = " " * (index % 7 * 200)
        query = f"query Q{index} {{ viewer {{ id }} }}{padding}"
        cache.add(query, parse(query))
        sizes.append(cache.bytes)
        assert cache.bytes <= cache.max_bytes
    # a document over the size cached never is
    large = "{ viewer { id } }" + " " * 9000
    cache.add(large, parse(large))
    assert cache.get(large) is None
    assert len(cache) > 50 and max(sizes) > cache.max_bytes * 0.9


async def test_distinct_large_documents_leave_the_live_cache_under_its_bound(
    server: LiveServer, actors: Actors, tenant: Tenant
) -> None:
    user = actors.user(tenant)
    cache = server.app.state.schema.documents
    before = cache.bytes
    for index in range(60):
        # each about 15 KB (just under the cached size), distinct by a comment
        document = "{ viewer { id } }\n#" + f"{index:04d}" + "x" * 15_000
        assert "errors" not in await user.post(document)
        assert cache.bytes <= cache.max_bytes
    for index in range(20):
        document = "{ viewer { id } }\n#" + f"{index:04d}" + "y" * 200_000  # never cached
        assert "errors" not in await user.post(document)
    assert cache.bytes <= cache.max_bytes
    assert cache.bytes >= before


async def test_oversized_headers_are_refused_with_431(server: LiveServer) -> None:
    header = "x" * (20 * 1024)
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {header}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 431"), response[:200]
    assert b"connection: close" in rest.lower()
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["errors"][0]["extensions"]["status"] == 431
    assert str(MAX_HEADER_BYTES) in body["errors"][0]["message"]


# --- 3. concurrency: every error has a code, nothing internal -------------------------------

FAST_FAIL_SLOW_READ = """
query Mixed {
  myJourneys(first: 10) {
    edges { node { journey { title events { id } } progress { percent } events(first: 1000) { edges { cursor } } } }
  }
}
"""
START_JOURNEY = "mutation S($j: ID!) { startJourney(journeyId: $j) { instance { id } errors { code } } }"


async def test_a_field_failing_fast_beside_slow_readers_never_leaks_internals(
    actors: Actors, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    # given users with runs, so each run's journey and progress are being loaded in batches
    admin = actors.admin(tenant)
    journeys = [await published_journey(admin, events=5) for _ in range(3)]
    users = [actors.user(tenant, f"u{i}") for i in range(10)]
    for user in users:
        for journey in journeys:
            assert (await user.data(START_JOURNEY, {"j": journey["id"]}))["startJourney"]["errors"] == []
    caplog.set_level(logging.WARNING)
    # when 50 operations run at once in which a nested field fails (page size) while its
    # siblings' loader batches are still reading
    bodies = await asyncio.gather(*(users[i % 10].post(FAST_FAIL_SLOW_READ) for i in range(50)))
    # then each answers with the one error and its code, and nothing internal
    for body in bodies:
        _assert_clean(body)
        assert _codes(body) == ["BAD_USER_INPUT"], body
    # and the server logged no error for these client mistakes
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    # and it still answers normally afterwards
    assert "errors" not in await users[0].post("{ viewer { id } myJourneys(first: 3) { edges { cursor } } }")
