"""Hardening (SPEC §13): no request can stall, bloat or crash the server, and every failure
answers with a code from the list — over HTTP and over the websocket."""

from __future__ import annotations

import asyncio
import json
import logging
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
    "PERSISTED_QUERY_NOT_FOUND",
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


# --- 4. NUL characters, lone surrogates and bad bytes ---------------------------------------

BAD_STRINGS = {"nul": "before\x00after", "surrogate": "before\ud800after"}
FIELD_CASES: dict[str, tuple[str, dict[str, Any], list[str], str]] = {
    # case: (document, variables with {bad} placeholders, the field named, who)
    "search": (
        "query S($q: String) { journeys(search: $q) { edges { cursor } } }",
        {"q": "{bad}"},
        ["variables", "q"],
        "user",
    ),
    "title": (
        "mutation C($input: JourneyInput!) { createJourney(input: $input) { journey { id } errors { code } } }",
        {"input": {"slug": "nul-title", "title": "{bad}"}},
        ["variables", "input", "title"],
        "admin",
    ),
    "metadata value": (
        "mutation C($input: JourneyInput!) { createJourney(input: $input) { journey { id } errors { code } } }",
        {"input": {"slug": "nul-meta", "title": "t", "tags": ["{bad}"]}},
        ["variables", "input", "tags", "0"],
        "admin",
    ),
    "metadata key": (
        'mutation A($m: JSON) { abandonJourney(instanceId: "x", metadata: $m) { errors { code } } }',
        {"m": {"{bad}": 1}},
        ["variables", "m"],
        "user",
    ),
    "action": (
        'mutation L($a: String!) { logOnboardingStep(journeyId: "x", action: $a) { errors { code } } }',
        {"a": "{bad}"},
        ["variables", "a"],
        "user",
    ),
    "api key name": (
        "mutation K($n: String!) { createApiKey(name: $n) { secret errors { code } } }",
        {"n": "{bad}"},
        ["variables", "n"],
        "admin",
    ),
    "resource filter": (
        "query X($t: String) { myXp(resourceType: $t) { balance } }",
        {"t": "{bad}"},
        ["variables", "t"],
        "user",
    ),
}


def _with(value: Any, bad: str) -> Any:
    if isinstance(value, str):
        return value.replace("{bad}", bad)
    if isinstance(value, dict):
        return {_with(k, bad): _with(v, bad) for k, v in value.items()}
    if isinstance(value, list):
        return [_with(v, bad) for v in value]
    return value


@pytest.mark.parametrize("kind", list(BAD_STRINGS))
@pytest.mark.parametrize("case", list(FIELD_CASES))
async def test_nul_and_lone_surrogates_are_refused_naming_the_field(
    actors: Actors, tenant: Tenant, db: Any, case: str, kind: str
) -> None:
    document, variables, field, who = FIELD_CASES[case]
    client = actors.admin(tenant) if who == "admin" else actors.user(tenant)
    # when the value travels as JSON (a lone surrogate as its \\u escape, as clients send it)
    body = json.dumps({"query": document, "variables": _with(variables, BAD_STRINGS[kind])})
    headers = {"Authorization": f"Bearer {client.credential}", "content-type": "application/json"}
    response = await actors.http.post("/graphql", content=body, headers=headers)
    # then it is BAD_USER_INPUT naming the field, before anything ran
    assert response.status_code == 200, response.text
    answer = response.json()
    assert _codes(answer) == ["BAD_USER_INPUT"], answer
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["fields"][0]["field"] == field
    async with db() as session:
        from sqlalchemy import text

        assert (await session.execute(text("SELECT count(*) FROM journeys"))).scalar_one() == 0
        assert (await session.execute(text("SELECT count(*) FROM api_keys"))).scalar_one() == 0


async def test_a_nul_in_a_literal_argument_is_refused_naming_it(actors: Actors, tenant: Tenant) -> None:
    body = await actors.user(tenant).post('{ journeys(search: "a\\u0000b") { edges { cursor } } }')
    assert _codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["fields"][0]["field"] == ["journeys", "search"]


@pytest.mark.parametrize("credential", ["abc\x00def", "abc\ud800def", "sk_\x00" + "a" * 20, "é" * 10])
async def test_odd_characters_in_a_credential_are_unauthenticated_over_http_and_4403_over_websockets(
    actors: Actors, credential: str
) -> None:
    from httpx_ws import aconnect_ws

    from tests.subscription_support import PROTOCOL, closed

    if (credential.isascii() and "\x00" not in credential) or credential[0] == "é":
        # what a header can carry: latin-1 bytes (NUL and surrogates cannot be sent in a header)
        raw = f"Bearer {credential}".encode()
        response = await actors.http.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers=[("authorization", raw)]
        )
        assert response.status_code == 200, response.text
        assert _codes(response.json()) == ["UNAUTHENTICATED"]
    async with aconnect_ws("/graphql", actors.http, subprotocols=[PROTOCOL]) as ws:
        await ws.send_text(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {credential}"}})
        )
        code, _reason = await closed(ws)
    assert code == 4403


async def _raw_exchange(server: LiveServer, *requests: bytes) -> list[bytes]:
    """Send requests on one keep-alive connection; each response's raw bytes (status line on)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    answers = []
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            length = int(
                next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            )
            answers.append(head + await asyncio.wait_for(reader.readexactly(length), timeout=10))
            if b"connection: close" in head.lower():
                break
    finally:
        writer.close()
    return answers


def _post(body: bytes, *extra_headers: bytes) -> bytes:
    head = b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    return head + b"".join(h + b"\r\n" for h in extra_headers) + b"content-length: %d\r\n\r\n" % len(body) + body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _answer_json(answer: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return result


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"query": "{ viewer { id } }", "variables": {"a": "\xff\xfe"}}', "UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "deeper"),
        (b'{"query": ' + b'{"a": ' * 64 + b"1" + b"}" * 64 + b"}", "deeper"),
        (b'{"query": "{ viewer { id } }"', "JSON"),
        (b'"just a string"', "object"),
        (b"42", "object"),
    ],
)
async def test_bad_bodies_are_400_bad_user_input_and_the_connection_lives_on(
    server: LiveServer, body: bytes, reason: str
) -> None:
    # when a bad body is followed by a good request on the same keep-alive connection
    answers = await _raw_exchange(server, _post(body), _post(b'{"query": "{ __typename }"}'))
    # then the bad one is a GraphQL-shaped 400 and the good one is answered
    assert _status(answers[0]) == 400, answers[0]
    error = _answer_json(answers[0])["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and reason in error["message"], error
    assert len(answers) == 2 and _status(answers[1]) == 200, answers
    assert _answer_json(answers[1]) == {"data": {"__typename": "Query"}}


async def test_json_nesting_up_to_the_limit_is_read(server: LiveServer) -> None:
    nested = b'{"a": ' * 62 + b"1" + b"}" * 62  # 63 levels as the value of "variables": 64 in all
    answers = await _raw_exchange(server, _post(b'{"query": "{ __typename }", "variables": ' + nested + b"}"))
    assert _status(answers[0]) == 200, answers[0]


async def test_a_non_utf8_byte_in_any_header_never_fails_the_request(
    server: LiveServer, actors: Actors, tenant: Tenant
) -> None:
    token = actors.token(tenant).encode()
    answers = await _raw_exchange(
        server,
        _post(b'{"query": "{ viewer { externalId } }"}', b"authorization: Bearer " + token, b"x-odd: caf\xe9 \xff"),
        _post(b'{"query": "{ viewer { id } }"}', b"authorization: Bearer caf\xe9\xff"),
        _post(b'{"query": "{ __typename }"}', b"x-request-id: \xff\xfe"),
    )
    assert [_status(a) for a in answers] == [200, 200, 200], answers
    assert _answer_json(answers[0])["data"]["viewer"]["externalId"] == "alice"
    assert _codes(_answer_json(answers[1])) == ["UNAUTHENTICATED"]
    for path in (b"/healthz", b"/metrics"):
        (answer,) = await _raw_exchange(server, b"GET " + path + b" HTTP/1.1\r\nhost: x\r\nx-odd: \xff\r\n\r\n")
        assert _status(answer) == 200


# --- 5. odd but validly signed JWTs -----------------------------------------------------------


def _signed(owner: Tenant, **claims: Any) -> str:
    base: dict[str, Any] = {"sub": "alice", "tenant": owner.slug, "exp": int(time.time()) + 600}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, TEST_SECRET, algorithm="HS256")


ODD_CLAIMS: dict[str, dict[str, Any]] = {
    "exp past year 9999": {"exp": 253402300800},
    "exp 1e300": {"exp": 1e300},
    "exp a numeric string": {"exp": str(int(time.time()) + 600)},
    "exp a float": {"exp": time.time() + 600.5},
    "exp true": {"exp": True},
    "nbf huge": {"nbf": 10**30},
    "iat a list": {"iat": [1]},
    "role a list": {"role": ["admin"]},
    "role an object": {"role": {"admin": True}},
    "role unknown": {"role": "root"},
    "sub a number": {"sub": 12},
    "tenant an object": {"tenant": {"slug": "x"}},
    "tz a list": {"tz": ["UTC"]},
    "sub with NUL": {"sub": "al\x00ice"},
}


@pytest.mark.parametrize("case", list(ODD_CLAIMS))
async def test_odd_claims_in_a_signed_token_are_unauthenticated(actors: Actors, tenant: Tenant, case: str) -> None:
    from httpx_ws import aconnect_ws

    from tests.subscription_support import PROTOCOL, closed

    token = _signed(tenant, **ODD_CLAIMS[case])
    body = await actors.credential(token).post("{ viewer { id } }")
    assert _codes(body) == ["UNAUTHENTICATED"], body
    async with aconnect_ws("/graphql", actors.http, subprotocols=[PROTOCOL]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        code, _reason = await closed(ws)
    assert code == 4403


async def test_a_well_formed_token_still_authenticates(actors: Actors, tenant: Tenant) -> None:
    token = _signed(tenant, role="admin", nbf=int(time.time()) - 5, iat=int(time.time()))
    assert (await actors.credential(token).data("{ viewer { role } }"))["viewer"]["role"] == "ADMIN"


# --- 6. subscriptions over HTTP -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_400_bad_user_input(actors: Actors, tenant: Tenant, method: str) -> None:
    query = "subscription { userEvents { id type } }"
    headers = {"Authorization": f"Bearer {actors.token(tenant)}"}
    if method == "POST":
        response = await actors.http.post("/graphql", json={"query": query}, headers=headers)
    else:
        response = await actors.http.get("/graphql", params={"query": query}, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "websocket" in error["message"]


# --- 8. no suggestions in production -----------------------------------------------------------


async def test_production_validation_messages_suggest_no_names(migrated: str, settings: Any) -> None:
    import httpx

    from app.config import load_settings
    from app.main import create_app

    production = load_settings(
        {"JOURNEYS_ENV": "production", "JOURNEYS_JWT_SECRET": TEST_SECRET, "JOURNEYS_DATA_DIR": str(settings.data_dir)}
    )
    development = create_app(settings, migrated)
    app = create_app(production, migrated)
    for target, suggests in ((app, False), (development, True)):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=target), base_url="http://test") as http:
            body = (
                await http.post("/graphql", json={"query": "{ viewr { id } journeys(frist: 2) { edges { cursor } } }"})
            ).json()
        messages = " ".join(e["message"] for e in body["errors"])
        assert ("Did you mean" in messages) is suggests, messages
        assert ("viewer" in messages) is suggests, messages
        assert _codes(body) == ["BAD_USER_INPUT", "BAD_USER_INPUT"]
        await target.state.runtime.close()


# --- 9. reward resources belong to the tenant --------------------------------------------------

CREATE_REWARD = """
mutation R($input: RewardInput!) {
  createReward(input: $input) { reward { id resourceId } errors { code field } }
}
"""


async def test_a_reward_names_only_its_own_tenant_s_journey(actors: Actors, tenant: Tenant, db: Any) -> None:
    other = await actors.tenant()
    foreign = await published_journey(actors.admin(other))
    own = await published_journey(actors.admin(tenant))
    admin = actors.admin(tenant)
    for resource_id in (foreign["id"], "Sm91cm5leTpub3RoaW5n", "not-an-id"):
        data = await admin.data(
            CREATE_REWARD,
            {"input": {"title": "Badge", "requiredLevel": 1, "resourceType": "journey", "resourceId": resource_id}},
        )
        payload = data["createReward"]
        assert payload["reward"] is None, (resource_id, payload)
        assert payload["errors"][0]["code"] in {"NOT_FOUND", "BAD_USER_INPUT"}, payload
        assert payload["errors"][0]["field"] == ["input", "resourceId"]
    # the foreign journey's id in particular is NOT_FOUND (it must not show that it exists)
    data = await admin.data(
        CREATE_REWARD,
        {"input": {"title": "Badge", "requiredLevel": 1, "resourceType": "journey", "resourceId": foreign["id"]}},
    )
    assert data["createReward"]["errors"][0]["code"] == "NOT_FOUND"
    data = await admin.data(
        CREATE_REWARD,
        {"input": {"title": "Badge", "requiredLevel": 1, "resourceType": "journey", "resourceId": own["id"]}},
    )
    assert data["createReward"]["errors"] == [] and data["createReward"]["reward"]["resourceId"] == own["id"]


@pytest.mark.parametrize("kind", list(BAD_STRINGS))
async def test_nul_and_lone_surrogates_in_a_subscription_s_variables_are_refused(
    actors: Actors, tenant: Tenant, kind: str
) -> None:
    async with graphql_socket(actors.http, actors.token(tenant)) as socket:
        message = json.dumps(
            {
                "id": "s1",
                "type": "subscribe",
                "payload": {
                    "query": "subscription S($t: [String!]) { userEvents(types: $t) { id } }",
                    "variables": {"t": [BAD_STRINGS[kind]]},
                },
            }
        )
        await socket.ws.send_text(message)
        answer = await socket.message("s1")
    # then the operation fails with BAD_USER_INPUT naming the variable; the socket stays open
    assert answer["type"] == "error", answer
    (error,) = answer["payload"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", answer
    assert error["extensions"]["fields"][0]["field"] == ["variables", "t", "0"]


async def test_the_subscription_limit_of_a_socket_answers_with_a_code(actors: Actors, tenant: Tenant) -> None:
    async with graphql_socket(actors.http, actors.token(tenant)) as socket:
        for index in range(100):
            await socket.subscribe(f"s{index}", "subscription { userEvents { id } }")
        await socket.subscribe("one-too-many", "subscription { userEvents { id } }")
        answer = await socket.message("one-too-many")
    assert answer["type"] == "error", answer
    assert [e["extensions"]["code"] for e in answer["payload"]] == ["QUERY_TOO_COMPLEX"], answer
