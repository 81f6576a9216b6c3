"""Every connection of the schema through the HTTP API: `totalCount`, and pages both ways
(`first`/`after` and `last`/`before`) that stay correct while rows are added between pages;
`first` with `last`, foreign `before` cursors and bad page sizes refused; the COUNT statement
run only when `totalCount` is asked for, and statement counts that do not grow with page sizes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.tenancy.models import Tenant
from tests.catalog_support import UPDATE_JOURNEY, add_event, create_journey, mutate, publish, published_journey
from tests.conftest import Actors, GraphQLClient, LiveServer, StatementCounter

VARIABLES = "$first: Int, $after: String, $last: Int, $before: String"
ARGUMENTS = "first: $first, after: $after, last: $last, before: $before"
PAGE = "totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
ROWS = 5  # rows each list starts with
SIZE = 2  # page size of the walks

START_JOURNEY = "mutation($id: ID!) { startJourney(journeyId: $id) { instance { id } errors { code } } }"
CHANGE_EVENT = """
mutation($instanceId: ID!, $eventId: ID!) {
  startEvent(instanceId: $instanceId, journeyEventId: $eventId) { errors { code } }
  completeEvent(instanceId: $instanceId, journeyEventId: $eventId) { errors { code } }
}
"""
SUSPEND = "mutation($id: ID!) { suspendJourney(instanceId: $id) { errors { code } } }"
RESUME = "mutation($id: ID!) { resumeJourney(instanceId: $id) { errors { code } } }"
CREATE_ONBOARDING = "mutation($input: OnboardingInput!) { createOnboarding(input: $input) { onboarding { id } } }"
ADD_STEP = """
mutation($id: ID!) { addOnboardingStep(onboardingId: $id, input: { name: "Step" }) { errors { code } } }
"""
SET_FORM = """
mutation($id: ID!, $input: ClassificationFormInput!) {
  setClassificationForm(onboardingId: $id, input: $input) { errors { code message field } }
}
"""
UPDATE_ONBOARDING = """
mutation($id: ID!, $input: OnboardingInput!) { updateOnboarding(id: $id, input: $input) { errors { code } } }
"""
PUBLISH_ONBOARDING = "mutation($id: ID!) { publishOnboarding(id: $id) { errors { code } } }"
START_ONBOARDING = "mutation($id: ID!) { startOnboarding(onboardingId: $id) { errors { code } } }"
COMPLETE_ONBOARDING = """
mutation($id: ID!) {
  completeOnboarding(onboardingId: $id, responses: [{ questionKey: "goal", values: ["learn"] }]) {
    classification { id } errors { code }
  }
}
"""
FORM = {
    "questions": [
        {
            "key": "goal",
            "prompt": "Why are you here?",
            "kind": "SINGLE_CHOICE",
            "required": True,
            "options": [
                {"value": "learn", "label": "Learn", "scores": {"starter": 1}},
                {"value": "play", "label": "Play", "scores": {"starter": 0}},
            ],
        }
    ],
    "segments": [{"key": "starter", "name": "Starter", "recommendedJourneys": [], "priority": 1}],
}
CREATE_AVATAR = """
mutation($name: String!) {
  createAvatar(input: { name: $name, provider: "tavus", modes: [VOICE] }) { errors { code } }
}
"""
CREATE_API_KEY = "mutation($name: String!) { createApiKey(name: $name) { errors { code } } }"
CREATE_REWARD = """
mutation($title: String!) { createReward(input: { title: $title, requiredLevel: 1 }) { errors { code } } }
"""


def _document(field: str, extra_variables: str = "") -> str:
    """A query of one connection: ``field`` with ``ARGS`` and ``PAGE`` filled in."""
    variables = f"{extra_variables}, {VARIABLES}" if extra_variables else VARIABLES
    return f"query Page({variables}) {{ {field.replace('ARGS', ARGUMENTS).replace('PAGE', PAGE)} }}"


@dataclass
class Case:
    """One connection: who reads it, the query and the path to it, and how to add a row."""

    connection: str
    client: GraphQLClient
    document: str
    path: tuple[str, ...]
    add: Callable[[], Awaitable[None]]
    variables: dict[str, Any]

    async def page(self, **arguments: Any) -> dict[str, Any]:
        data = await self.client.data(self.document, self.variables | arguments)
        for name in self.path:
            data = data[name]
        return data

    async def body(self, **arguments: Any) -> dict[str, Any]:
        return await self.client.post(self.document, self.variables | arguments)


async def _ok(client: GraphQLClient, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    data = await client.data(document, variables)
    for payload in data.values():
        assert payload["errors"] == [], data
    return data


async def _start_journey(user: GraphQLClient, admin: GraphQLClient, *, events: int = 1) -> tuple[str, dict[str, Any]]:
    journey = await published_journey(admin, events=events)
    data = await _ok(user, START_JOURNEY, {"id": journey["id"]})
    return data["startJourney"]["instance"]["id"], journey


async def _event_ids(user: GraphQLClient, instance_id: str) -> list[str]:
    query = "query($id: ID!) { journeyInstance(id: $id) { events(first: 100) { nodes { journeyEvent { id } } } } }"
    data = await user.data(query, {"id": instance_id})
    return [n["journeyEvent"]["id"] for n in data["journeyInstance"]["events"]["nodes"]]


async def _onboarding(admin: GraphQLClient, *, form: bool = False) -> str:
    slug = f"o-{uuid.uuid4().hex[:10]}"
    data = await admin.data(CREATE_ONBOARDING, {"input": {"slug": slug, "name": slug}})
    onboarding_id: str = data["createOnboarding"]["onboarding"]["id"]
    await _ok(admin, ADD_STEP, {"id": onboarding_id})
    if form:
        await _ok(admin, SET_FORM, {"id": onboarding_id, "input": FORM})
    await _ok(admin, PUBLISH_ONBOARDING, {"id": onboarding_id})
    return onboarding_id


# --- one case per connection type -------------------------------------------------------------


async def _journeys(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)

    async def add() -> None:
        await published_journey(admin)

    return Case("JourneyConnection", user, _document("journeys(ARGS) { PAGE }"), ("journeys",), add, {})


async def _admin_journeys(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)

    async def add() -> None:
        await published_journey(admin)

    document = _document("adminJourneys(ARGS) { PAGE }")
    return Case("JourneyConnection", admin, document, ("adminJourneys",), add, {})


async def _instances(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)

    async def add() -> None:
        await _start_journey(user, admin)

    document = _document("myJourneys(ARGS) { PAGE }")
    return Case("JourneyInstanceConnection", user, document, ("myJourneys",), add, {})


async def _instance_events(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)
    instance_id, journey = await _start_journey(user, admin, events=ROWS)

    async def add() -> None:
        await add_event(admin, journey["id"], title="Later")

    document = _document("journeyInstance(id: $id) { events(ARGS) { PAGE } }", "$id: ID!")
    return Case("EventInstanceConnection", user, document, ("journeyInstance", "events"), add, {"id": instance_id})


async def _instance_logs(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)
    instance_id, _ = await _start_journey(user, admin, events=3)
    for event_id in (await _event_ids(user, instance_id))[:2]:
        await _ok(user, CHANGE_EVENT, {"instanceId": instance_id, "eventId": event_id})  # two entries each
    suspended = False

    async def add() -> None:
        nonlocal suspended
        await _ok(user, RESUME if suspended else SUSPEND, {"id": instance_id})
        suspended = not suspended

    document = _document("journeyInstance(id: $id) { logs(ARGS) { PAGE } }", "$id: ID!")
    return Case("JourneyLogConnection", user, document, ("journeyInstance", "logs"), add, {"id": instance_id})


async def _onboardings(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)

    async def add() -> None:
        await _onboarding(admin)

    document = _document("onboardings(ARGS) { PAGE }")
    return Case("OnboardingConnection", user, document, ("onboardings",), add, {})


async def _onboarding_journeys(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)

    async def add() -> None:
        await _ok(user, START_ONBOARDING, {"id": await _onboarding(admin)})

    document = _document("myOnboardingJourneys(ARGS) { PAGE }")
    return Case("OnboardingJourneyConnection", user, document, ("myOnboardingJourneys",), add, {})


async def _classifications(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)
    onboarding_id = await _onboarding(admin, form=True)

    async def add() -> None:
        await _ok(user, START_ONBOARDING, {"id": onboarding_id})
        await _ok(user, COMPLETE_ONBOARDING, {"id": onboarding_id})

    document = _document("myClassifications(ARGS) { PAGE }")
    return Case("ClassificationConnection", user, document, ("myClassifications",), add, {})


async def _avatars(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)

    async def add() -> None:
        await _ok(admin, CREATE_AVATAR, {"name": f"Avatar {uuid.uuid4().hex[:6]}"})

    return Case("AvatarConnection", user, _document("avatars(ARGS) { PAGE }"), ("avatars",), add, {})


async def _api_keys(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)

    async def add() -> None:
        await _ok(admin, CREATE_API_KEY, {"name": f"key {uuid.uuid4().hex[:6]}"})

    return Case("ApiKeyConnection", admin, _document("apiKeys(ARGS) { PAGE }"), ("apiKeys",), add, {})


async def _rewards(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)

    async def add() -> None:
        await _ok(admin, CREATE_REWARD, {"title": f"Reward {uuid.uuid4().hex[:6]}"})

    return Case("RewardConnection", user, _document("myRewards(ARGS) { PAGE }"), ("myRewards",), add, {})


async def _xp_history(actors: Actors, tenant: Tenant) -> Case:
    admin, user = actors.admin(tenant), actors.user(tenant)
    journey = await create_journey(admin)
    for index in range(3 * ROWS):
        await add_event(admin, journey["id"], title=f"Step {index}", xpReward=5)
    await publish(admin, journey["id"])
    data = await _ok(user, START_JOURNEY, {"id": journey["id"]})
    instance_id = data["startJourney"]["instance"]["id"]
    pending = await _event_ids(user, instance_id)

    async def add() -> None:
        await _ok(user, CHANGE_EVENT, {"instanceId": instance_id, "eventId": pending.pop(0)})

    document = _document("myXp { history(ARGS) { PAGE } }")
    return Case("XpEntryConnection", user, document, ("myXp", "history"), add, {})


async def _users(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)

    async def add() -> None:
        await actors.user(tenant, f"u-{uuid.uuid4().hex[:8]}").data("query { viewer { id } }")

    return Case("UserConnection", admin, _document("users(ARGS) { PAGE }"), ("users",), add, {})


async def _journey_versions(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)
    journey = await published_journey(admin)

    async def add() -> None:
        await mutate(admin, UPDATE_JOURNEY, {"id": journey["id"], "input": {"title": uuid.uuid4().hex}})
        await publish(admin, journey["id"])

    document = _document("journey(id: $id) { versions(ARGS) { PAGE } }", "$id: ID!")
    return Case("JourneyVersionConnection", admin, document, ("journey", "versions"), add, {"id": journey["id"]})


async def _onboarding_versions(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)
    onboarding_id = await _onboarding(admin)

    async def add() -> None:
        await _ok(admin, UPDATE_ONBOARDING, {"id": onboarding_id, "input": {"name": uuid.uuid4().hex}})
        await _ok(admin, PUBLISH_ONBOARDING, {"id": onboarding_id})

    document = _document("onboarding(id: $id) { versions(ARGS) { PAGE } }", "$id: ID!")
    return Case("OnboardingVersionConnection", admin, document, ("onboarding", "versions"), add, {"id": onboarding_id})


CREATE_ENDPOINT = """
mutation($url: String!) { createWebhookEndpoint(input: { url: $url }) { endpoint { id } errors { code message } } }
"""
SEND_TEST = "mutation($id: ID!) { sendTestWebhook(endpointId: $id) { errors { code } } }"
HOOK_URL = "http://127.0.0.1:9/hooks"  # nothing listens: deliveries stay listed whatever becomes of them


async def _webhook_endpoints(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)

    async def add() -> None:
        await _ok(admin, CREATE_ENDPOINT, {"url": HOOK_URL})

    document = _document("webhookEndpoints(ARGS) { PAGE }")
    return Case("WebhookEndpointConnection", admin, document, ("webhookEndpoints",), add, {})


async def _webhook_deliveries(actors: Actors, tenant: Tenant) -> Case:
    admin = actors.admin(tenant)
    data = await _ok(admin, CREATE_ENDPOINT, {"url": HOOK_URL})
    endpoint_id = data["createWebhookEndpoint"]["endpoint"]["id"]

    async def add() -> None:
        await _ok(admin, SEND_TEST, {"id": endpoint_id})

    document = _document("webhookEndpoint(id: $id) { deliveries(ARGS) { PAGE } }", "$id: ID!")
    return Case(
        "WebhookDeliveryConnection", admin, document, ("webhookEndpoint", "deliveries"), add, {"id": endpoint_id}
    )


CASES: dict[str, Callable[[Actors, Tenant], Awaitable[Case]]] = {
    "journeys": _journeys,
    "adminJourneys": _admin_journeys,
    "myJourneys": _instances,
    "JourneyInstance.events": _instance_events,
    "JourneyInstance.logs": _instance_logs,
    "onboardings": _onboardings,
    "myOnboardingJourneys": _onboarding_journeys,
    "myClassifications": _classifications,
    "avatars": _avatars,
    "apiKeys": _api_keys,
    "myRewards": _rewards,
    "myXp.history": _xp_history,
    "users": _users,
    "Journey.versions": _journey_versions,
    "Onboarding.versions": _onboarding_versions,
    "webhookEndpoints": _webhook_endpoints,
    "WebhookEndpoint.deliveries": _webhook_deliveries,
}


async def _case(actors: Actors, name: str) -> Case:
    """The case's list with ROWS rows in it (JourneyInstance.events: made with them)."""
    tenant = await actors.tenant()
    case = await CASES[name](actors, tenant)
    for _ in range(ROWS):
        if (await case.page(first=100))["totalCount"] >= ROWS:
            return case
        await case.add()
    assert (await case.page(first=100))["totalCount"] >= ROWS, name
    return case


def _schema_connections() -> set[str]:
    text = (Path(__file__).parent.parent / "schema.graphql").read_text()
    return set(re.findall(r"^type (\w+Connection) ", text, flags=re.MULTILINE))


# --- the schema -------------------------------------------------------------------------------


def test_every_connection_of_the_schema_has_a_total_count_and_pages_both_ways() -> None:
    text = (Path(__file__).parent.parent / "schema.graphql").read_text()
    connections = _schema_connections()
    assert len(connections) >= 11
    for name in connections:
        body = re.search(rf"^type {name} {{(.*?)^}}", text, flags=re.MULTILINE | re.DOTALL)
        assert body is not None and re.search(r"^  totalCount: Int!$", body.group(1), flags=re.MULTILINE), name
    # every field returning a connection takes the four paging arguments, page sizes nullable
    fields = re.findall(r"^  (\w+)\(\n((?:    .*\n|\n)*?)  \): (\w+Connection)!$", text, flags=re.MULTILINE)
    assert {connection for _, _, connection in fields} == connections
    for field, arguments, _ in fields:
        assert re.search(r"^    first: Int = 20$", arguments, flags=re.MULTILINE), field
        assert re.search(r"^    after: String = null$", arguments, flags=re.MULTILINE), field
        assert re.search(r"^    last: Int = null$", arguments, flags=re.MULTILINE), field
        assert re.search(r"^    before: String = null$", arguments, flags=re.MULTILINE), field
    # and each connection type is walked by a case below
    covered = {"JourneyConnection", "JourneyInstanceConnection", "EventInstanceConnection", "JourneyLogConnection"}
    covered |= {"OnboardingConnection", "OnboardingJourneyConnection", "ClassificationConnection"}
    covered |= {"AvatarConnection", "ApiKeyConnection", "RewardConnection", "XpEntryConnection"}
    covered |= {"UserConnection", "JourneyVersionConnection", "OnboardingVersionConnection"}
    covered |= {"WebhookEndpointConnection", "WebhookDeliveryConnection"}
    assert connections <= covered, connections - covered


# --- walking both ways while rows are added ---------------------------------------------------


async def _walk_forward(case: Case) -> list[str]:
    seen: list[str] = []
    after: str | None = None
    for _ in range(20):
        page = await case.page(first=SIZE, **({"after": after} if after else {}))
        cursors = [edge["cursor"] for edge in page["edges"]]
        info = page["pageInfo"]
        assert len(cursors) <= SIZE
        assert info["hasPreviousPage"] is (after is not None), (case.connection, info)
        assert (info["startCursor"], info["endCursor"]) == ((cursors[0], cursors[-1]) if cursors else (None, None))
        seen.extend(cursors)
        if not info["hasNextPage"]:
            return seen
        after = info["endCursor"]
        await case.add()
    raise AssertionError("paging forward does not end")


async def _walk_backward(case: Case) -> list[str]:
    seen: list[str] = []
    before: str | None = None
    for _ in range(20):
        page = await case.page(last=SIZE, **({"before": before} if before else {}))
        cursors = [edge["cursor"] for edge in page["edges"]]
        info = page["pageInfo"]
        assert len(cursors) <= SIZE
        assert info["hasNextPage"] is (before is not None), (case.connection, info)
        assert (info["startCursor"], info["endCursor"]) == ((cursors[0], cursors[-1]) if cursors else (None, None))
        seen[:0] = cursors  # a page back comes before what was seen, in list order
        if not info["hasPreviousPage"]:
            return seen
        before = info["startCursor"]
        await case.add()
    raise AssertionError("paging back does not end")


def _assert_each_once(seen: list[str], expected: list[str], connection: str) -> None:
    assert len(seen) == len(set(seen)), connection
    assert [cursor for cursor in seen if cursor in expected] == expected, connection


async def _assert_walks(actors: Actors, name: str) -> None:
    # given a list of ROWS rows, read whole (cursors are the same whichever page they are on)
    case = await _case(actors, name)
    whole = await case.page(first=100)
    expected = [edge["cursor"] for edge in whole["edges"]]
    assert whole["totalCount"] == len(expected) >= ROWS, name
    assert (whole["pageInfo"]["hasNextPage"], whole["pageInfo"]["hasPreviousPage"]) == (False, False)
    # and the same from the end: `last` alone is not `first` with `last` (first has a default)
    assert [edge["cursor"] for edge in (await case.page(last=100))["edges"]] == expected, name

    # when walked forward two at a time while a row is added between pages,
    forward = await _walk_forward(case)
    # then every row there at the start came once, in order
    _assert_each_once(forward, expected, name)

    # and likewise walking back from the end
    before_back = [edge["cursor"] for edge in (await case.page(first=100))["edges"]]
    backward = await _walk_backward(case)
    _assert_each_once(backward, before_back, name)

    # and totalCount counts the whole list as it now is, whatever the page
    now = await case.page(first=100)
    assert now["totalCount"] == len(now["edges"]) >= len(before_back), name
    assert (await case.page(last=1))["totalCount"] == now["totalCount"], name
    assert (await case.page(first=1, after=now["edges"][0]["cursor"]))["totalCount"] == now["totalCount"], name


async def test_journeys_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "journeys")
    await _assert_walks(actors, "adminJourneys")


async def test_journey_instances_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "myJourneys")


async def test_instance_events_and_logs_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "JourneyInstance.events")
    await _assert_walks(actors, "JourneyInstance.logs")


async def test_onboardings_runs_and_classifications_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "onboardings")
    await _assert_walks(actors, "myOnboardingJourneys")
    await _assert_walks(actors, "myClassifications")


async def test_users_and_versions_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "users")
    await _assert_walks(actors, "Journey.versions")
    await _assert_walks(actors, "Onboarding.versions")


async def test_webhook_endpoints_and_deliveries_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "webhookEndpoints")
    await _assert_walks(actors, "WebhookEndpoint.deliveries")


async def test_avatars_api_keys_rewards_and_xp_page_both_ways(actors: Actors) -> None:
    await _assert_walks(actors, "avatars")
    await _assert_walks(actors, "apiKeys")
    await _assert_walks(actors, "myRewards")
    await _assert_walks(actors, "myXp.history")


async def test_a_range_between_after_and_before(actors: Actors) -> None:
    # given five journeys
    case = await _case(actors, "journeys")
    cursors = [edge["cursor"] for edge in (await case.page(first=100))["edges"]]
    # when asked for what lies strictly between the first and the last, either way
    between = {"after": cursors[0], "before": cursors[-1]}
    first = await case.page(first=2, **between)
    last = await case.page(last=2, **between)
    # then the first two and the last two of the three in between
    assert [e["cursor"] for e in first["edges"]] == cursors[1:3]
    assert (first["pageInfo"]["hasPreviousPage"], first["pageInfo"]["hasNextPage"]) == (True, True)
    assert [e["cursor"] for e in last["edges"]] == cursors[2:4]
    assert (last["pageInfo"]["hasPreviousPage"], last["pageInfo"]["hasNextPage"]) == (True, True)
    whole = await case.page(first=10, **between)
    assert [e["cursor"] for e in whole["edges"]] == cursors[1:4]
    assert whole["pageInfo"]["hasNextPage"] is False


# --- refused arguments ------------------------------------------------------------------------


def _assert_bad_input(body: dict[str, Any], field: str) -> None:
    assert body["data"] is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["status"] == 400, body
    message = body["errors"][0]["message"]
    assert field in message and "None" not in message and "'" not in message, message


async def test_first_with_last_sizes_and_foreign_before_cursors_are_bad_input(actors: Actors) -> None:
    # given two lists of one tenant, and the same list of another tenant
    journeys = await _case(actors, "journeys")
    rewards = await _case(actors, "myRewards")
    other = await _case(actors, "journeys")
    cursor = (await journeys.page(first=1))["pageInfo"]["endCursor"]
    assert (await journeys.page(last=1, before=cursor))["edges"] == []  # nothing before the first

    for case in (journeys, rewards):
        # first with last, even the default page size sent explicitly, is refused
        _assert_bad_input(await case.body(first=2, last=2), "last")
        _assert_bad_input(await case.body(first=20, last=2), "last")
        # page sizes stay 1..100 both ways
        for size in (0, -1, 101):
            _assert_bad_input(await case.body(first=size), "first")
            _assert_bad_input(await case.body(last=size), "last")
        # `first: null` is the default page size, and with `last` is `last` alone (Relay sends both)
        assert len((await case.page(first=None))["edges"]) == ROWS
        assert len((await case.page(first=None, last=2))["edges"]) == 2

    # a page size of the wrong type is refused quoting the value as it was sent (JSON), not as Python writes it
    for value, shown in (("ten", '"ten"'), (True, "true"), ({"n": None}, '{"n": null}')):
        body = await journeys.body(first=value)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
        message = body["errors"][0]["message"]
        assert message.endswith(f"value: {shown}"), message
        assert not re.search(r"'ten'|True|None", message), message

    # a before cursor of another list, of another tenant, or forged, is refused like an after one
    _assert_bad_input(await rewards.body(last=1, before=cursor), "before")
    _assert_bad_input(await other.body(last=1, before=cursor), "before")
    _assert_bad_input(await journeys.body(last=1, before=cursor[:-3] + "AAA"), "before")
    _assert_bad_input(await journeys.body(last=1, before="not a cursor"), "before")
    _assert_bad_input(await rewards.body(first=1, after=cursor), "after")


# --- statements -------------------------------------------------------------------------------

NESTED = """
query Runs($first: Int, $last: Int) {
  myJourneys(first: $first) {
    edges { node { id events(last: $last) { edges { cursor } } logs(last: $last) { edges { cursor } } } }
  }
}
"""
NESTED_COUNTED = """
query Runs($first: Int, $last: Int) {
  myJourneys(first: $first) {
    totalCount
    edges { node { id events(last: $last) { totalCount edges { cursor } } logs(last: $last) { totalCount } } }
  }
}
"""


class _Counts:
    """The server's SQL, while a block runs: how many statements, and how many are COUNTs."""

    def __init__(self, server: LiveServer) -> None:
        self.engine = server.runtime.engine.sync_engine
        self.statements: list[str] = []

    def _capture(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.statements.append(statement)

    async def of(self, client: GraphQLClient, document: str, variables: dict[str, Any]) -> tuple[int, int]:
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._capture)
        try:
            await client.data(document, variables)
        finally:
            event.remove(self.engine, "before_cursor_execute", self._capture)
        counts = [s for s in self.statements if re.search(r"\bcount\(\*\)", s, flags=re.IGNORECASE)]
        return len(self.statements), len(counts)


async def test_count_runs_only_when_asked_for_and_statements_do_not_grow_with_page_sizes(
    actors: Actors, server: LiveServer, statements: StatementCounter
) -> None:
    # given a user with six runs of journeys of four events, each with a few log entries
    tenant = await actors.tenant()
    admin, user = actors.admin(tenant), actors.user(tenant)
    for _ in range(6):
        instance_id, _ = await _start_journey(user, admin, events=4)
        for event_id in (await _event_ids(user, instance_id))[:2]:
            await _ok(user, CHANGE_EVENT, {"instanceId": instance_id, "eventId": event_id})
    sql = _Counts(server)

    # when the runs are read with their events and logs, without totalCount, at several page sizes
    plain = {
        (first, last): await sql.of(user, NESTED, {"first": first, "last": last})
        for first, last in ((2, 1), (6, 1), (2, 4), (6, 4))
    }
    # then no COUNT runs, and the statements are the same however large the pages
    assert {counts for _, counts in plain.values()} == {0}, plain
    assert len({total for total, _ in plain.values()}) == 1, plain

    # when totalCount is asked for on the runs and each run's events and logs
    counted = {
        (first, last): await sql.of(user, NESTED_COUNTED, {"first": first, "last": last})
        for first, last in ((2, 1), (6, 1), (2, 4), (6, 4))
    }
    # then one COUNT per list (the nested ones batched for every run), whatever the page sizes
    assert {counts for _, counts in counted.values()} == {3}, counted
    assert {total for total, _ in counted.values()} == {next(iter(plain.values()))[0] + 3}, counted
    data = await user.data(NESTED_COUNTED, {"first": 2, "last": 1})
    assert data["myJourneys"]["totalCount"] == 6
    assert [e["node"]["events"]["totalCount"] for e in data["myJourneys"]["edges"]] == [4, 4]
    assert [e["node"]["logs"]["totalCount"] for e in data["myJourneys"]["edges"]] == [5, 5]

    # and a top-level list pages back in as many round trips as forward
    case = await _case(actors, "journeys")
    trips: dict[str, int] = {}
    for label, arguments in (("first", {"first": 2}), ("last", {"last": 2}), ("last all", {"last": 100})):
        async with statements.measure() as counter:
            await case.page(**arguments)
        trips[label] = counter.round_trips
    assert len(set(trips.values())) == 1, trips
