"""The GraphQL conventions over the real HTTP API: document limits, the error shape, Relay
`node`/`nodes`, the HTTP transport rules, and masking of unexpected failures."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import Lexer, Source, TokenKind, build_client_schema, get_introspection_query
from sqlalchemy import text

from app.errors import ErrorCode
from app.graphql.schema import schema as app_schema
from app.tenancy.models import Tenant
from tests.conftest import Actors, GraphQLClient, LiveServer

# The limits of SPEC §10, written out so that loosening them in app/ fails here.
MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_BYTES = 16 * 1024

CREATE_JOURNEY = """
mutation CreateJourney($input: JourneyInput!) {
  createJourney(input: $input) { journey { id } errors { code message } }
}
"""
ADD_EVENT = """
mutation AddEvent($journeyId: ID!, $input: JourneyEventInput!) {
  addJourneyEvent(journeyId: $journeyId, input: $input) {
    event { id metadata }
    errors { code message field }
  }
}
"""
PUBLISH = """
mutation Publish($id: ID!) { publishJourney(id: $id) { journey { status } errors { code } } }
"""
CREATE_API_KEY = 'mutation { createApiKey(name: "from-the-side") { secret errors { code } } }'
VIEWER = "query { viewer { externalId } }"
JOURNEY_TITLES = "query Titles { journeys { edges { node { id title } } } }"
NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Journey { slug } ... on JourneyEvent { title } }
}
"""
NODES = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) { __typename id ... on Journey { slug } ... on JourneyEvent { title } }
}
"""
# Depth 5, the deepest the schema offers, through a named fragment and inline fragments.
NESTED_WITH_FRAGMENTS = """
query Nested {
  journeys(first: 5) {
    edges { ...JourneyEdgeFields }
    pageInfo { hasNextPage }
  }
}
fragment JourneyEdgeFields on JourneyEdge {
  cursor
  node {
    ... on Journey { slug events { ... on JourneyEvent { title metadata } } }
    ... on Node { id }
  }
}
"""
INTROSPECTION_TOO_DEEP = """
query {
  __type(name: "Query") {
    fields { type { fields { type { fields { type { fields { name } } } } } } }
  }
}
"""


# ---------------------------------------------------------------- helpers


def _token_count(document: str) -> int:
    """Tokens as graphql-core's parser counts them for its token limit."""
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def _deep_query(depth: int, *, via: str = "fragment") -> str:
    """`journeys.edges.node.events.metadata` (depth 5) followed by fields down to ``depth``.

    `metadata` is a scalar, so any depth past 5 draws exactly one BAD_USER_INPUT
    ("must not have a selection"); the depth limit is what adds QUERY_TOO_COMPLEX.
    """
    tail = ""
    for level in range(depth, 5, -1):
        tail = f" {{ level{level}{tail} }}"
    events = f"events {{ metadata{tail} }}"
    if via == "fragment":
        return (
            "query Deep { journeys(first: 1) { edges { ...Edge } } }\n"
            f"fragment Edge on JourneyEdge {{ node {{ ...Steps }} }}\n"
            f"fragment Steps on Journey {{ {events} }}"
        )
    return f"query Deep {{ journeys(first: 1) {{ edges {{ ... on JourneyEdge {{ node {{ ... on Journey {{ {events} }} }} }} }} }} }}"


def _aliased(count: int) -> str:
    """A query with ``count`` aliases, some of them inside a fragment."""
    in_query = count // 2
    top = " ".join(f"q{i}: externalId" for i in range(in_query))
    frag = " ".join(f"f{i}: role" for i in range(count - in_query))
    return f"query Aliases {{ viewer {{ {top} ...More }} }}\nfragment More on ViewerType {{ {frag} }}"


def _padded_add_event(tokens: int) -> str:
    """An addJourneyEvent document of exactly ``tokens`` tokens (padded in its metadata)."""
    template = (
        "mutation Padded($journeyId: ID!) { addJourneyEvent(journeyId: $journeyId, "
        'input: {title: "Padded", metadata: {values: [%s]}}) { event { id } errors { code } } }'
    )
    padding = tokens - _token_count(template % "")
    document = template % ", ".join("0" for _ in range(padding))
    assert _token_count(document) == tokens
    return document


def _global_id(type_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).rstrip(b"=").decode()


def _codes(body: dict[str, Any]) -> list[str]:
    return sorted(error["extensions"]["code"] for error in body.get("errors", []))


def _headers(client: GraphQLClient) -> dict[str, str]:
    assert client.credential
    return {"Authorization": f"Bearer {client.credential}"}


async def _count(actors: Actors, table: str) -> int:
    async with actors.db() as session:
        return int((await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one())


async def _journey(admin: GraphQLClient, slug: str, *, events: int = 1, publish: bool = True) -> tuple[str, list[str]]:
    """A journey made through the admin API: its id and its events' ids."""
    created = await admin.data(CREATE_JOURNEY, {"input": {"slug": slug, "title": slug.title()}})
    assert created["createJourney"]["errors"] == []
    journey_id = created["createJourney"]["journey"]["id"]
    event_ids = []
    for position in range(1, events + 1):
        added = await admin.data(ADD_EVENT, {"journeyId": journey_id, "input": {"title": f"Step {position}"}})
        assert added["addJourneyEvent"]["errors"] == []
        event_ids.append(added["addJourneyEvent"]["event"]["id"])
    if publish:
        published = await admin.data(PUBLISH, {"id": journey_id})
        assert published["publishJourney"]["errors"] == []
    return journey_id, event_ids


@pytest.fixture
async def tenant(actors: Actors) -> Tenant:
    return await actors.tenant()


@pytest.fixture
async def draft_journey(actors: Actors, tenant: Tenant) -> str:
    """An unpublished journey with one event, to hang events on in metadata tests."""
    journey_id, _events = await _journey(actors.admin(tenant), "metadata-target", publish=False)
    return journey_id


# ---------------------------------------------------------------- depth


async def test_a_query_as_deep_as_the_schema_goes_runs_through_fragments(actors: Actors, tenant: Tenant) -> None:
    # given a published journey with an event
    await _journey(actors.admin(tenant), "deep-enough", events=2)
    # when a user asks for it through named and inline fragments
    data = await actors.user(tenant).data(NESTED_WITH_FRAGMENTS)
    # then every level resolves
    (edge,) = data["journeys"]["edges"]
    assert edge["node"]["slug"] == "deep-enough"
    assert [e["title"] for e in edge["node"]["events"]] == ["Step 1", "Step 2"]
    assert edge["node"]["id"] and edge["cursor"]


@pytest.mark.parametrize("via", ["fragment", "inline fragment"])
async def test_depth_ten_passes_the_limit_and_eleven_is_too_complex(actors: Actors, tenant: Tenant, via: str) -> None:
    user = actors.user(tenant)
    # when the document nests exactly MAX_DEPTH fields (fragments add no level of their own)
    at_limit = await user.post(_deep_query(MAX_DEPTH, via=via))
    # then only the scalar-with-selection mistake is reported, not the depth
    assert _codes(at_limit) == ["BAD_USER_INPUT"], at_limit
    assert at_limit["data"] is None

    # when it nests one level more
    too_deep = await user.post(_deep_query(MAX_DEPTH + 1, via=via))
    # then the depth limit refuses it before anything runs, alone (graphql-core's rules do not run)
    assert _codes(too_deep) == ["QUERY_TOO_COMPLEX"], too_deep
    assert too_deep["data"] is None
    (depth_error,) = [e for e in too_deep["errors"] if e["extensions"]["code"] == "QUERY_TOO_COMPLEX"]
    assert depth_error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "status": 400}
    assert str(MAX_DEPTH) in depth_error["message"]


async def test_much_deeper_documents_are_too_complex(actors: Actors, tenant: Tenant) -> None:
    body = await actors.user(tenant).post(_deep_query(40))
    assert "QUERY_TOO_COMPLEX" in _codes(body)
    assert body["data"] is None


async def test_graphiql_full_introspection_query_still_works(actors: Actors) -> None:
    # given the introspection query GraphiQL sends, with every option this server supports
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    assert _token_count(query) <= MAX_TOKENS
    # when an anonymous client sends it
    response = await actors.http.post("/graphql", json={"query": query, "operationName": "IntrospectionQuery"})
    # then it answers in full, deeper than MAX_DEPTH as it is, and describes our schema
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    client_schema = build_client_schema(body["data"])
    for name in ("Query", "Mutation", "Journey", "JourneyConnection", "Node", "ErrorCode", "JSON"):
        assert client_schema.get_type(name) is not None, name
    assert set(client_schema.type_map) == set(app_schema._schema.type_map)


async def test_introspection_nested_past_its_own_limit_is_too_complex(actors: Actors) -> None:
    body = await actors.anonymous().post(INTROSPECTION_TOO_DEEP)
    assert _codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert body["data"] is None


# ---------------------------------------------------------------- aliases and tokens


async def test_thirty_aliases_pass_and_thirty_one_are_too_complex(actors: Actors, tenant: Tenant) -> None:
    user = actors.user(tenant, "alias-user")
    # when a document uses exactly MAX_ALIASES aliases (half of them in a fragment)
    data = await user.data(_aliased(MAX_ALIASES))
    # then it runs
    assert data["viewer"]["q0"] == "alias-user"
    assert len(data["viewer"]) == MAX_ALIASES

    # when it uses one more
    body = await user.post(_aliased(MAX_ALIASES + 1))
    # then it is refused, with one error
    assert _codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "status": 400}
    assert body["data"] is None


async def test_five_thousand_tokens_pass_and_one_more_is_too_complex(
    actors: Actors, tenant: Tenant, draft_journey: str
) -> None:
    admin = actors.admin(tenant)
    events_before = await _count(actors, "journey_events")
    # when a document has exactly MAX_TOKENS tokens
    data = await admin.data(_padded_add_event(MAX_TOKENS), {"journeyId": draft_journey})
    # then it runs
    assert data["addJourneyEvent"]["errors"] == []
    assert await _count(actors, "journey_events") == events_before + 1

    # when it has one more
    body = await admin.post(_padded_add_event(MAX_TOKENS + 1), {"journeyId": draft_journey})
    # then it is refused before anything runs, with one error
    assert _codes(body) == ["QUERY_TOO_COMPLEX"], body
    assert body["errors"][0]["extensions"] == {"code": "QUERY_TOO_COMPLEX", "status": 400}
    assert body["data"] is None
    assert await _count(actors, "journey_events") == events_before + 1


# ---------------------------------------------------------------- request body


def _padded_body(size: int, query: str) -> bytes:
    """A JSON request body of exactly ``size`` bytes running ``query``."""
    empty = json.dumps({"query": query, "extensions": {"padding": ""}}).encode()
    body = json.dumps({"query": query, "extensions": {"padding": "x" * (size - len(empty))}}).encode()
    assert len(body) == size
    return body


async def test_a_body_over_one_mebibyte_is_413_and_not_executed(actors: Actors, tenant: Tenant) -> None:
    admin = actors.admin(tenant)
    headers = {**_headers(admin), "Content-Type": "application/json"}
    # when a mutation arrives in a body one byte over the limit, with a Content-Length
    declared = await actors.http.post(
        "/graphql", content=_padded_body(MAX_BODY_BYTES + 1, CREATE_API_KEY), headers=headers
    )

    # and again streamed in chunks, with no Content-Length to refuse it early
    body = _padded_body(MAX_BODY_BYTES + 1, CREATE_API_KEY)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    streamed = await actors.http.post("/graphql", content=chunks(), headers=headers)

    # then both are 413 with a coded GraphQL error, and the mutation never ran
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert error["extensions"]["status"] == 413
        assert error["message"]
    assert await _count(actors, "api_keys") == 0


async def test_a_body_of_exactly_one_mebibyte_is_served(actors: Actors, tenant: Tenant) -> None:
    response = await actors.http.post(
        "/graphql",
        content=_padded_body(MAX_BODY_BYTES, VIEWER),
        headers={**_headers(actors.user(tenant, "big-body")), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"data": {"viewer": {"externalId": "big-body"}}}


# ---------------------------------------------------------------- JSON arguments


def _metadata_of_size(size: int, char: str = "x") -> dict[str, str]:
    """{"note": "xx…"} whose compact UTF-8 serialisation is exactly ``size`` bytes."""
    overhead = len(b'{"note":""}')
    per_char = len(char.encode())
    assert (size - overhead) % per_char == 0
    return {"note": char * ((size - overhead) // per_char)}


def _note_literal(note: str) -> str:
    return '{note: "' + note + '"}'


def _literal_add_event(metadata_literal: str) -> str:
    return (
        "mutation AddLiteral($journeyId: ID!) { addJourneyEvent(journeyId: $journeyId, "
        f'input: {{title: "Literal", metadata: {metadata_literal}}}) {{ event {{ metadata }} errors {{ code }} }} }}'
    )


async def test_metadata_up_to_16_kib_is_stored(actors: Actors, tenant: Tenant, draft_journey: str) -> None:
    admin = actors.admin(tenant)
    largest = _metadata_of_size(MAX_JSON_BYTES)
    # as a variable
    data = await admin.data(ADD_EVENT, {"journeyId": draft_journey, "input": {"title": "Big", "metadata": largest}})
    assert data["addJourneyEvent"]["errors"] == []
    assert data["addJourneyEvent"]["event"]["metadata"] == largest
    # as a literal
    literal = _literal_add_event(_note_literal(largest["note"]))
    data = await admin.data(literal, {"journeyId": draft_journey})
    assert data["addJourneyEvent"]["event"]["metadata"] == largest
    # as a literal with a variable inside it
    with_variable = (
        "mutation AddNote($journeyId: ID!, $note: String!) { addJourneyEvent(journeyId: $journeyId, "
        'input: {title: "Noted", metadata: {note: $note, tags: ["a", "b"]}}) { event { metadata } errors { code } } }'
    )
    data = await admin.data(with_variable, {"journeyId": draft_journey, "note": "hello"})
    assert data["addJourneyEvent"]["event"]["metadata"] == {"note": "hello", "tags": ["a", "b"]}


async def test_metadata_over_16_kib_is_bad_user_input_and_nothing_is_written(
    actors: Actors, tenant: Tenant, draft_journey: str
) -> None:
    admin = actors.admin(tenant)
    events_before = await _count(actors, "journey_events")
    too_big = _metadata_of_size(MAX_JSON_BYTES + 1)
    too_big_in_bytes = _metadata_of_size(MAX_JSON_BYTES + 1, char="é")  # fewer characters than bytes
    assert len(json.dumps(too_big_in_bytes, ensure_ascii=False)) < MAX_JSON_BYTES
    attempts = {
        "variable": (ADD_EVENT, {"journeyId": draft_journey, "input": {"title": "Big", "metadata": too_big}}),
        "multi-byte variable": (
            ADD_EVENT,
            {"journeyId": draft_journey, "input": {"title": "Big", "metadata": too_big_in_bytes}},
        ),
        "literal": (_literal_add_event(_note_literal(too_big["note"])), {"journeyId": draft_journey}),
        "variable inside a literal": (
            "mutation AddNote($journeyId: ID!, $note: String!) { addJourneyEvent(journeyId: $journeyId, "
            'input: {title: "Noted", metadata: {note: $note}}) { event { id } errors { code } } }',
            {"journeyId": draft_journey, "note": too_big["note"]},
        ),
    }
    for name, (document, variables) in attempts.items():
        # when the metadata is larger than 16 KiB serialised
        body = await admin.post(document, variables)
        # then the operation is refused with one BAD_USER_INPUT, before any resolver runs
        assert _codes(body) == ["BAD_USER_INPUT"], (name, body)
        assert body["errors"][0]["extensions"]["status"] == 400
        assert body["data"] is None, name
    assert await _count(actors, "journey_events") == events_before


async def test_metadata_that_is_not_an_object_is_bad_user_input(
    actors: Actors, tenant: Tenant, draft_journey: str
) -> None:
    admin = actors.admin(tenant)
    events_before = await _count(actors, "journey_events")
    for value in ([1, 2], "text", 5, 1.5, True):
        body = await admin.post(ADD_EVENT, {"journeyId": draft_journey, "input": {"title": "X", "metadata": value}})
        assert _codes(body) == ["BAD_USER_INPUT"], (value, body)
    for literal in ("[1, 2]", '"text"', "5", "true", "ENUM_LIKE"):
        body = await admin.post(_literal_add_event(literal), {"journeyId": draft_journey})
        assert _codes(body) == ["BAD_USER_INPUT"], (literal, body)
    assert await _count(actors, "journey_events") == events_before


# ---------------------------------------------------------------- error shape

ERROR_CASES: dict[str, tuple[str, dict[str, Any] | None, str, list[str]]] = {
    # name: (document, variables, who asks, expected codes)
    "syntax error": ("{ viewer { ", None, "user", ["BAD_USER_INPUT"]),
    "unterminated string": ('{ journeys(search: "oops) { edges { cursor } } }', None, "user", ["BAD_USER_INPUT"]),
    "unknown field": ("{ viewer { nickname } }", None, "user", ["BAD_USER_INPUT"]),
    "unknown root field": ("{ everything }", None, "user", ["BAD_USER_INPUT"]),
    "unknown argument": ("{ journeys(frist: 5) { edges { cursor } } }", None, "user", ["BAD_USER_INPUT"]),
    "wrong literal type": ('{ journeys(first: "ten") { edges { cursor } } }', None, "user", ["BAD_USER_INPUT"]),
    "int out of range": ("{ journeys(first: 99999999999) { edges { cursor } } }", None, "user", ["BAD_USER_INPUT"]),
    "missing variable": ("query($id: ID!) { node(id: $id) { id } }", None, "user", ["BAD_USER_INPUT"]),
    "wrong variable type": (
        "query($n: Int!) { journeys(first: $n) { edges { cursor } } }",
        {"n": "ten"},
        "user",
        ["BAD_USER_INPUT"],
    ),
    "unused variable": ("query($n: Int) { viewer { id } }", None, "user", ["BAD_USER_INPUT"]),
    "unknown fragment": ("{ viewer { ...Missing } }", None, "user", ["BAD_USER_INPUT"]),
    "no credential": (VIEWER, None, "anonymous", ["UNAUTHENTICATED"]),
    "user calling an admin query": ("{ apiKeys { edges { cursor } } }", None, "user", ["FORBIDDEN"]),
    "user calling an admin mutation": (CREATE_API_KEY, None, "user", ["FORBIDDEN"]),
    "page size too large": ("{ journeys(first: 101) { edges { cursor } } }", None, "user", ["BAD_USER_INPUT"]),
    "page size zero": ("{ journeys(first: 0) { edges { cursor } } }", None, "user", ["BAD_USER_INPUT"]),
    "forged cursor": ('{ journeys(after: "Zm9yZ2Vk") { edges { cursor } } }', None, "user", ["BAD_USER_INPUT"]),
    "too many ids": (
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
        {"ids": ["x"] * 101},
        "user",
        ["BAD_USER_INPUT"],
    ),
    "too many aliases": (_aliased(MAX_ALIASES + 1), None, "user", ["QUERY_TOO_COMPLEX"]),
    "too deep": (_deep_query(MAX_DEPTH + 1), None, "user", ["QUERY_TOO_COMPLEX"]),
    "too many tokens": ("{ " + "viewer { id } " * 1300 + "}", None, "user", ["QUERY_TOO_COMPLEX"]),
    "introspection too deep": (INTROSPECTION_TOO_DEEP, None, "anonymous", ["QUERY_TOO_COMPLEX"]),
    "metadata not an object": (
        'mutation { addJourneyEvent(journeyId: "x", input: {title: "t", metadata: [1]}) { errors { code } } }',
        None,
        "admin",
        ["BAD_USER_INPUT"],
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
async def test_every_top_level_error_has_a_code_and_its_status(actors: Actors, tenant: Tenant, case: str) -> None:
    document, variables, who, expected = ERROR_CASES[case]
    client = {"user": actors.user(tenant), "admin": actors.admin(tenant), "anonymous": actors.anonymous()}[who]
    # when the operation goes wrong in this way
    body = await client.post(document, variables)
    # then every top-level error carries a readable message and a known code with its status
    assert _codes(body) == expected, body
    for error in body["errors"]:
        assert error["message"].strip()
        code = ErrorCode(error["extensions"]["code"])
        assert error["extensions"]["status"] == code.status, error
        assert "Traceback" not in error["message"]


async def test_syntax_errors_point_at_the_mistake(actors: Actors, tenant: Tenant) -> None:
    body = await actors.user(tenant).post("{ viewer { id ")
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "status": 400}
    assert error["message"].startswith("Syntax Error")
    assert error["locations"] == [{"line": 1, "column": 15}]


# ---------------------------------------------------------------- node / nodes


async def test_node_answers_visible_objects_and_null_for_anything_else(actors: Actors) -> None:
    # given two tenants, each with a published journey, and a draft in the first
    tenant = await actors.tenant()
    other = await actors.tenant()
    journey, (event,) = await _journey(actors.admin(tenant), "ours")
    draft, (draft_event,) = await _journey(actors.admin(tenant), "our-draft", publish=False)
    foreign, (foreign_event,) = await _journey(actors.admin(other), "theirs")
    user = actors.user(tenant)

    # when a user asks for their tenant's published objects
    # then they get them
    assert (await user.data(NODE, {"id": journey}))["node"] == {"__typename": "Journey", "id": journey, "slug": "ours"}
    assert (await user.data(NODE, {"id": event}))["node"] == {
        "__typename": "JourneyEvent",
        "id": event,
        "title": "Step 1",
    }

    # when they ask for anything they may not see or that is not there
    invisible = {
        "another tenant's journey": foreign,
        "another tenant's event": foreign_event,
        "an unpublished journey": draft,
        "an event of an unpublished journey": draft_event,
        "an unknown journey": _global_id("Journey", str(uuid.uuid4())),
        "an unknown event": _global_id("JourneyEvent", str(uuid.uuid4())),
        "an unknown type": _global_id("Spaceship", str(uuid.uuid4())),
        "a key that is no uuid": _global_id("Journey", "1 OR 1=1"),
        "garbage": "garbage!!",
        "empty": "",
        "bad base64": "%%%",
        "not utf-8": base64.urlsafe_b64encode(b"\xff\xfe:\x00").decode(),
    }
    for name, global_id in invisible.items():
        body = await user.post(NODE, {"id": global_id})
        # then the answer is null, never an error that would reveal it exists
        assert body == {"data": {"node": None}}, name

    # and the tenant's admin sees the draft, the other tenant's admin does not
    assert (await actors.admin(tenant).data(NODE, {"id": draft}))["node"]["slug"] == "our-draft"
    assert (await actors.admin(other).data(NODE, {"id": journey}))["node"] is None


async def test_nodes_keeps_order_with_nulls_and_refuses_more_than_a_hundred_ids(actors: Actors) -> None:
    tenant = await actors.tenant()
    other = await actors.tenant()
    journey, (event,) = await _journey(actors.admin(tenant), "ours")
    foreign, _ = await _journey(actors.admin(other), "theirs")
    user = actors.user(tenant)

    # when a user asks for a mix of visible and invisible ids
    data = await user.data(NODES, {"ids": ["garbage", journey, foreign, event, journey]})
    # then the answer keeps the order, with null for each one they may not see
    assert [n and n["id"] for n in data["nodes"]] == [None, journey, None, event, journey]

    # when they ask for exactly 100 ids, then that is fine
    data = await user.data(NODES, {"ids": [journey] * 100})
    assert len(data["nodes"]) == 100

    # when they ask for 101, then it is refused
    body = await user.post(NODES, {"ids": [journey] * 101})
    assert _codes(body) == ["BAD_USER_INPUT"], body
    assert body["data"] is None


async def test_node_needs_a_credential(actors: Actors, tenant: Tenant) -> None:
    journey, _ = await _journey(actors.admin(tenant), "ours")
    assert await actors.anonymous().error_codes(NODE, {"id": journey}) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- HTTP transport


async def test_queries_run_over_get(actors: Actors, tenant: Tenant) -> None:
    response = await actors.http.get(
        "/graphql",
        params={"query": VIEWER},
        headers={**_headers(actors.user(tenant, "getter")), "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"externalId": "getter"}}}


async def test_mutations_never_run_over_get(actors: Actors, tenant: Tenant) -> None:
    headers = {**_headers(actors.admin(tenant)), "Accept": "application/graphql-response+json, application/json"}
    for params in (
        {"query": CREATE_API_KEY},
        {
            "query": f"query Harmless {{ viewer {{ id }} }}\n{CREATE_API_KEY.replace('mutation', 'mutation Sneaky')}",
            "operationName": "Sneaky",
        },
    ):
        # when a mutation is sent with GET
        response = await actors.http.get("/graphql", params=params, headers=headers)
        # then it is refused (405 per GraphQL over HTTP, or a 4xx error) and not executed
        assert response.status_code in {400, 405}, response.text
    assert await _count(actors, "api_keys") == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_post_bodies_that_a_form_could_send_are_not_executed(
    actors: Actors, tenant: Tenant, content_type: str
) -> None:
    # given a mutation in a content type a cross-site form may send without a preflight
    payload = json.dumps({"query": CREATE_API_KEY})
    if content_type.startswith("application/x-www-form"):
        payload = "query=" + CREATE_API_KEY
    response = await actors.http.post(
        "/graphql", content=payload, headers={**_headers(actors.admin(tenant)), "Content-Type": content_type}
    )
    # then the request is refused and nothing runs
    assert 400 <= response.status_code < 500, response.text
    assert await _count(actors, "api_keys") == 0


async def test_responses_carry_a_request_id(actors: Actors, tenant: Tenant) -> None:
    first = await actors.http.post("/graphql", json={"query": "{ __typename }"})
    second = await actors.http.post("/graphql", json={"query": "{ __typename }"})
    assert first.headers["x-request-id"] and second.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


# ---------------------------------------------------------------- unexpected failures

LEAKS = (
    "SELECT",
    "INSERT",
    "title_hidden",
    "refused by the test trigger",
    "sqlalchemy",
    "asyncpg",
    "Traceback",
    "psycopg",
)


def _assert_masked(response: httpx.Response, caplog: pytest.LogCaptureFixture) -> str:
    """The response's one error is a masked INTERNAL_SERVER_ERROR; returns its request id."""
    body = response.json()
    request_id = response.headers["x-request-id"]
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "status": 500, "requestId": request_id}
    assert request_id in error["message"]
    exposed = json.dumps(error["message"]) + json.dumps(error["extensions"])
    for leak in LEAKS:
        assert leak.lower() not in exposed.lower(), (leak, error)
    # and the same request id is in the server's log, next to the real failure
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and any(r.exc_info for r in logged), [r.getMessage() for r in caplog.records]
    return request_id


async def test_the_client_s_own_errors_are_answered_without_logging_errors(
    actors: Actors, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    user = actors.user(tenant)
    with caplog.at_level(logging.DEBUG):
        codes = [
            await actors.credential("Bearer not-a-token").error_codes(JOURNEY_TITLES),
            await user.error_codes("{ journeys(first: 1) { edges { node { nope } } } }"),
            await user.error_codes("{ journeys(first: 1000) { edges { node { id } } } }"),
            await user.error_codes(CREATE_API_KEY),
        ]
    assert codes == [["UNAUTHENTICATED"], ["BAD_USER_INPUT"], ["BAD_USER_INPUT"], ["FORBIDDEN"]]
    # answers, not faults: nothing at WARNING or above, and no traceback anywhere
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not any(r.exc_info for r in caplog.records)
    assert sum("error in the response" in r.getMessage() for r in caplog.records) == 4


async def test_an_unexpected_read_failure_is_masked_with_a_request_id(
    actors: Actors, tenant: Tenant, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    # given a published journey, and a database that has lost a column the service reads
    await _journey(actors.admin(tenant), "calm")
    user = actors.user(tenant)
    async with server.runtime.engine.begin() as conn:
        # the catalogue reads the published versions
        await conn.execute(text("ALTER TABLE journey_versions RENAME COLUMN title TO title_hidden"))
    try:
        # when a user lists journeys
        with caplog.at_level(logging.ERROR):
            response = await actors.http.post("/graphql", json={"query": JOURNEY_TITLES}, headers=_headers(user))
    finally:
        async with server.runtime.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE journey_versions RENAME COLUMN title_hidden TO title"))
    # then the failure is masked and traceable
    _assert_masked(response, caplog)
    # and once the database is whole again the same query works
    data = await user.data(JOURNEY_TITLES)
    assert [e["node"]["title"] for e in data["journeys"]["edges"]] == ["Calm"]


async def test_an_unexpected_write_failure_is_masked_and_rolled_back(
    actors: Actors, tenant: Tenant, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    # given a database that refuses every new journey
    admin = actors.admin(tenant)
    async with server.runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION test_refuse_journeys() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test trigger'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER test_refuse_journeys BEFORE INSERT ON journeys "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_journeys()"
            )
        )
    try:
        # when an admin creates a journey
        with caplog.at_level(logging.ERROR):
            response = await actors.http.post(
                "/graphql",
                json={"query": CREATE_JOURNEY, "variables": {"input": {"slug": "refused", "title": "Refused"}}},
                headers=_headers(admin),
            )
    finally:
        async with server.runtime.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER IF EXISTS test_refuse_journeys ON journeys"))
            await conn.execute(text("DROP FUNCTION IF EXISTS test_refuse_journeys()"))
    # then the failure is masked, and nothing of the mutation was kept
    _assert_masked(response, caplog)
    assert await _count(actors, "journeys") == 0
    assert await _count(actors, "outbox_events") == 0
