"""Onboarding through the HTTP API: admins authoring onboardings, steps and classification
forms (shapes, field-level user errors, NOT_FOUND and FORBIDDEN), what users may see, a run
through every transition and error code, another user's or tenant's run, logs as they were
logged, the listings and their filters, real concurrent requests, the classification preview
and completion, the admin report, and statement counts that do not grow with page sizes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.graphql.relay import local_id, to_global_id
from app.onboarding.lifecycle import progress_onboarding, start_onboarding
from app.onboarding.models import OnboardingStatus
from app.tenancy.models import Tenant
from tests.catalog_support import create_journey, mutate, published_journey
from tests.conftest import Actors, GraphQLClient, StatementCounter
from tests.onboarding_support import MadeOnboarding, make_onboarding
from tests.progress_support import count, make_user

USER_ERRORS = "errors { code message field }"
STEP_FIELDS = "id order name description metadata"
FORM_FIELDS = (
    "questions { key prompt kind required options { value label scores } min max weights } "
    "segments { key name description insight priority recommendedJourneys { id title } }"
)
ONBOARDING_FIELDS = (
    f"id slug name description status xpReward publishedAt steps {{ {STEP_FIELDS} }} form {{ {FORM_FIELDS} }}"
)
RUN_FIELDS = (
    "id userId currentStep status startedAt suspendedAt completedAt metadata onboarding { id } "
    "currentStepDetail { id order name } progress { percent completedSteps totalSteps currentStep } "
    "logs { stepId stepName stepOrder action metadata loggedAt }"
)
RESULT_FIELDS = (
    "segment { key name description } scores { segmentKey score } "
    "reasons { questionKey value segmentKey points } insight recommendedJourneys { id title }"
)
CLASSIFICATION_FIELDS = f"id {RESULT_FIELDS} responses {{ questionKey values }} classifiedAt onboarding {{ id }}"

CREATE_ONBOARDING = f"""
mutation CreateOnboarding($input: OnboardingInput!) {{
  createOnboarding(input: $input) {{ onboarding {{ {ONBOARDING_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPDATE_ONBOARDING = f"""
mutation UpdateOnboarding($id: ID!, $input: OnboardingInput!) {{
  updateOnboarding(id: $id, input: $input) {{ onboarding {{ {ONBOARDING_FIELDS} }} {USER_ERRORS} }}
}}
"""
PUBLISH_ONBOARDING = f"""
mutation PublishOnboarding($id: ID!) {{
  publishOnboarding(id: $id) {{ onboarding {{ {ONBOARDING_FIELDS} }} {USER_ERRORS} }}
}}
"""
ARCHIVE_ONBOARDING = f"""
mutation ArchiveOnboarding($id: ID!) {{
  archiveOnboarding(id: $id) {{ onboarding {{ {ONBOARDING_FIELDS} }} {USER_ERRORS} }}
}}
"""
ADD_STEP = f"""
mutation AddStep($onboardingId: ID!, $input: OnboardingStepInput!) {{
  addOnboardingStep(onboardingId: $onboardingId, input: $input) {{ step {{ {STEP_FIELDS} }} {USER_ERRORS} }}
}}
"""
UPGRADE_RUNS = """
mutation Upgrade($onboardingId: ID!, $fromVersion: Int) {
  upgradeOnboardingJourneys(onboardingId: $onboardingId, fromVersion: $fromVersion) { upgraded errors { code } }
}
"""
UPDATE_STEP = f"""
mutation UpdateStep($id: ID!, $input: OnboardingStepInput!) {{
  updateOnboardingStep(id: $id, input: $input) {{ step {{ {STEP_FIELDS} }} {USER_ERRORS} }}
}}
"""
REMOVE_STEP = f"""
mutation RemoveStep($id: ID!) {{ removeOnboardingStep(id: $id) {{ step {{ {STEP_FIELDS} }} {USER_ERRORS} }} }}
"""
REORDER_STEPS = f"""
mutation ReorderSteps($onboardingId: ID!, $stepIds: [ID!]!) {{
  reorderOnboardingSteps(onboardingId: $onboardingId, stepIds: $stepIds) {{
    onboarding {{ {ONBOARDING_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
SET_FORM = f"""
mutation SetForm($onboardingId: ID!, $input: ClassificationFormInput!) {{
  setClassificationForm(onboardingId: $onboardingId, input: $input) {{
    onboarding {{ {ONBOARDING_FIELDS} }} {USER_ERRORS}
  }}
}}
"""

START = f"""
mutation Start($onboardingId: ID!, $metadata: JSON) {{
  startOnboarding(onboardingId: $onboardingId, metadata: $metadata) {{ onboardingJourney {{ {RUN_FIELDS} }} {USER_ERRORS} }}
}}
"""
PROGRESS, SUSPEND, RESUME, ABANDON = (
    f"""
mutation Change($journeyId: ID!, $metadata: JSON) {{
  {name}(journeyId: $journeyId, metadata: $metadata) {{ onboardingJourney {{ {RUN_FIELDS} }} {USER_ERRORS} }}
}}
"""
    for name in ("progressOnboarding", "suspendOnboarding", "resumeOnboarding", "abandonOnboarding")
)
LOG = f"""
mutation Log($journeyId: ID!, $action: String!, $metadata: JSON) {{
  logOnboardingStep(journeyId: $journeyId, action: $action, metadata: $metadata) {{
    onboardingJourney {{ {RUN_FIELDS} }} {USER_ERRORS}
  }}
}}
"""
COMPLETE = f"""
mutation Complete($onboardingId: ID!, $responses: [FormResponseInput!]!, $startRecommended: Boolean! = true) {{
  completeOnboarding(onboardingId: $onboardingId, responses: $responses, startRecommended: $startRecommended) {{
    classification {{ {CLASSIFICATION_FIELDS} }}
    onboardingJourney {{ id status currentStep completedAt progress {{ percent }} }}
    startedJourneys {{ id status journey {{ id }} }}
    xpAwarded
    {USER_ERRORS}
  }}
}}
"""

ONBOARDING = f"query Onboarding($id: ID!) {{ onboarding(id: $id) {{ {ONBOARDING_FIELDS} }} }}"
ONBOARDINGS = "query { onboardings(first: 100) { edges { node { id status } } } }"
ADMIN_ONBOARDINGS = """
query AdminOnboardings($status: OnboardingStatus) {
  adminOnboardings(first: 100, status: $status) { edges { node { id status } } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id } }"
RUN = f"query Run($id: ID!) {{ onboardingJourney(id: $id) {{ {RUN_FIELDS} }} }}"
MY_RUNS = """
query MyRuns($status: OnboardingJourneyStatus, $onboardingId: ID) {
  myOnboardingJourneys(first: 100, status: $status, onboardingId: $onboardingId) { edges { node { id status } } }
}
"""
ADMIN_RUNS = """
query AdminRuns(
  $onboardingId: ID, $userId: ID, $status: OnboardingJourneyStatus, $startedFrom: DateTime, $startedTo: DateTime
) {
  onboardingJourneys(
    first: 100, onboardingId: $onboardingId, userId: $userId, status: $status,
    startedFrom: $startedFrom, startedTo: $startedTo
  ) { edges { node { id userId status } } }
}
"""
MY_RUNS_DEEP = """
query MyRunsDeep($first: Int!) {
  myOnboardingJourneys(first: $first) {
    edges {
      node {
        id
        onboarding { name steps { name } }
        currentStepDetail { name }
        progress { percent }
        logs { action }
      }
    }
    pageInfo { hasNextPage }
  }
}
"""
REPORT = """
query Report($onboardingId: ID!, $from: DateTime, $to: DateTime) {
  onboardingReport(onboardingId: $onboardingId, from: $from, to: $to) {
    total active suspended completed abandoned completionRate medianSecondsToComplete
    steps { step { id order name } reached completed dropOff }
  }
}
"""
PREVIEW = f"""
query Preview($onboardingId: ID!, $responses: [FormResponseInput!]!) {{
  previewClassification(onboardingId: $onboardingId, responses: $responses) {{ {RESULT_FIELDS} }}
}}
"""
VIEWER = "query { viewer { id classification { id segment { key } } } }"
MY_CLASSIFICATIONS = "query { myClassifications(first: 10) { edges { node { id segment { key } classifiedAt } } } }"
MY_XP = "query { myXp { balance } }"
START_JOURNEY = "mutation($id: ID!) { startJourney(journeyId: $id) { instance { id } errors { code } } }"

NOT_ACTIVE = [("NOT_ACTIVE", ("journeyId",))]
NOT_SUSPENDED = [("NOT_SUSPENDED", ("journeyId",))]
RUN_NOT_FOUND = [("NOT_FOUND", ("journeyId",))]
ALREADY_ACTIVE = [("ALREADY_ACTIVE", ("onboardingId",))]
RUN_TABLES = ("onboarding_journeys", "onboarding_logs", "classifications", "journey_instances", "xp_entries")


# --- helpers ----------------------------------------------------------------------------------


def _codes(payload: dict[str, Any]) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(e["code"], tuple(e["field"]) if e["field"] is not None else None) for e in payload["errors"]]


def _onboarding_id(made: MadeOnboarding) -> str:
    return to_global_id("Onboarding", made.id)


def _step_ids(made: MadeOnboarding) -> list[str]:
    return [to_global_id("OnboardingStep", s.id) for s in made.steps]


async def _ok(client: GraphQLClient, document: str, variables: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``name`` object of a mutation payload that succeeded."""
    payload = await mutate(client, document, variables)
    assert payload["errors"] == [], payload
    found: dict[str, Any] = payload[name]
    return found


async def _start(client: GraphQLClient, onboarding_id: str, **variables: Any) -> dict[str, Any]:
    return await _ok(client, START, {"onboardingId": onboarding_id, **variables}, "onboardingJourney")


async def _change(client: GraphQLClient, document: str, journey_id: str, **variables: Any) -> dict[str, Any]:
    return await mutate(client, document, {"journeyId": journey_id, **variables})


async def _log(client: GraphQLClient, journey_id: str, action: str, **variables: Any) -> dict[str, Any]:
    return await mutate(client, LOG, {"journeyId": journey_id, "action": action, **variables})


async def _run(client: GraphQLClient, journey_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await client.data(RUN, {"id": journey_id}))["onboardingJourney"]
    return found


def _ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def _my_runs(client: GraphQLClient, **variables: Any) -> list[str]:
    return _ids((await client.data(MY_RUNS, variables))["myOnboardingJourneys"])


async def _admin_runs(client: GraphQLClient, **variables: Any) -> list[str]:
    return _ids((await client.data(ADMIN_RUNS, variables))["onboardingJourneys"])


async def _counts(db: Any) -> dict[str, int]:
    return {table: await count(db, f"SELECT count(*) FROM {table}") for table in RUN_TABLES}


def _logs(run: dict[str, Any]) -> list[tuple[str, str, int, dict[str, Any]]]:
    return [(log["action"], log["stepName"], log["stepOrder"], log["metadata"]) for log in run["logs"]]


def _option(value: str, **scores: float) -> dict[str, Any]:
    return {"value": value, "label": value.title(), "scores": scores}


def _form_input(starter: list[str], builder: list[str], expert: list[str]) -> dict[str, Any]:
    """A form of every question kind and three segments recommending these journey ids."""
    return {
        "questions": [
            {
                "key": "goal",
                "prompt": "What brings you here?",
                "kind": "SINGLE_CHOICE",
                "required": True,
                "options": [_option("learn", starter=3), _option("build", builder=3), _option("master", expert=3)],
            },
            {
                "key": "tools",
                "prompt": "Which tools do you use?",
                "kind": "MULTI_CHOICE",
                "options": [
                    _option("sql", builder=1, expert=1),
                    _option("python", builder=1),
                    _option("rust", expert=2),
                ],
            },
            {
                "key": "confidence",
                "prompt": "How confident are you?",
                "kind": "SCALE",
                "min": 1,
                "max": 5,
                "weights": {"expert": 0.5, "starter": -0.5},
            },
            {"key": "notes", "prompt": "Anything else?", "kind": "TEXT"},
        ],
        "segments": [
            {
                "key": "starter",
                "name": "Starter",
                "description": "New here",
                "insight": "Start small",
                "recommendedJourneys": starter,
                "priority": 1,
            },
            {
                "key": "builder",
                "name": "Builder",
                "description": "Makes things",
                "insight": "Ship often",
                "recommendedJourneys": builder,
                "priority": 2,
            },
            {"key": "expert", "name": "Expert", "recommendedJourneys": expert, "priority": 3},
        ],
    }


BUILDER_ANSWERS = [
    {"questionKey": "goal", "values": ["build"]},
    {"questionKey": "tools", "values": ["sql", "python"]},
    {"questionKey": "confidence", "values": ["2"]},
    {"questionKey": "notes", "values": ["hi"]},
]
STARTER_ANSWERS = [{"questionKey": "goal", "values": ["learn"]}]


async def _form_onboarding(
    actors: Actors, tenant: Tenant, *, xp_reward: int = 0, steps: int = 2
) -> tuple[MadeOnboarding, list[dict[str, Any]]]:
    """A published onboarding whose form (set through the API) recommends journey 0 to
    starters and journeys 1 and 2 to builders; and those three published journeys."""
    admin = actors.admin(tenant)
    journeys = [await published_journey(admin, title=f"Journey {i}") for i in range(3)]
    made = await make_onboarding(actors.db, tenant, steps=steps, xp_reward=xp_reward)
    form = _form_input([journeys[0]["id"]], [journeys[1]["id"], journeys[2]["id"]], [])
    await _ok(admin, SET_FORM, {"onboardingId": _onboarding_id(made), "input": form}, "onboarding")
    await _ok(admin, PUBLISH_ONBOARDING, {"id": _onboarding_id(made)}, "onboarding")
    return made, journeys


# --- authoring --------------------------------------------------------------------------------


async def test_an_admin_authors_an_onboarding_with_steps_and_a_form(actors: Actors) -> None:
    tenant = await actors.tenant()
    admin, alice = actors.admin(tenant), actors.user(tenant)
    j1, j2 = await published_journey(admin, title="Basics"), await published_journey(admin, title="Projects")
    draft_journey = await create_journey(admin, title="Draft")

    # create: a DRAFT with no steps and no form
    created = await _ok(
        admin,
        CREATE_ONBOARDING,
        {"input": {"slug": "welcome", "name": " Welcome ", "description": "Hello", "xpReward": 20}},
        "onboarding",
    )
    oid = created["id"]
    assert local_id(oid, "Onboarding") is not None
    assert {k: created[k] for k in ("slug", "name", "description", "status", "xpReward", "publishedAt")} == {
        "slug": "welcome",
        "name": "Welcome",
        "description": "Hello",
        "status": "DRAFT",
        "xpReward": 20,
        "publishedAt": None,
    }
    assert (created["steps"], created["form"]) == ([], None)

    # steps go last, numbered 1..n
    steps = [
        await _ok(admin, ADD_STEP, {"onboardingId": oid, "input": {"name": name, "metadata": {"n": i}}}, "step")
        for i, name in enumerate(["Profile", "Team", "Tour"], start=1)
    ]
    assert [(s["order"], s["name"], s["description"], s["metadata"]) for s in steps] == [
        (1, "Profile", "", {"n": 1}),
        (2, "Team", "", {"n": 2}),
        (3, "Tour", "", {"n": 3}),
    ]
    profile, team, tour = (s["id"] for s in steps)
    assert all(local_id(s, "OnboardingStep") for s in (profile, team, tour))

    # an update changes only the given fields
    updated = await _ok(admin, UPDATE_STEP, {"id": team, "input": {"description": "Invite people"}}, "step")
    assert (updated["id"], updated["order"], updated["name"], updated["description"], updated["metadata"]) == (
        team,
        2,
        "Team",
        "Invite people",
        {"n": 2},
    )
    renamed = await _ok(admin, UPDATE_ONBOARDING, {"id": oid, "input": {"name": "Hello there"}}, "onboarding")
    assert (renamed["slug"], renamed["name"], renamed["description"], renamed["xpReward"]) == (
        "welcome",
        "Hello there",
        "Hello",
        20,
    )

    # reorder sets the orders; remove returns the step as it was and moves later ones up
    reordered = await _ok(admin, REORDER_STEPS, {"onboardingId": oid, "stepIds": [tour, profile, team]}, "onboarding")
    assert [(s["order"], s["id"]) for s in reordered["steps"]] == [(1, tour), (2, profile), (3, team)]
    removed = await _ok(admin, REMOVE_STEP, {"id": profile}, "step")
    assert (removed["id"], removed["order"], removed["name"]) == (profile, 2, "Profile")

    # a form of every question kind, with journeys named by their global ids
    form = _form_input([j1["id"]], [j2["id"], j1["id"]], [draft_journey["id"]])
    with_form = await _ok(admin, SET_FORM, {"onboardingId": oid, "input": form}, "onboarding")
    assert [(s["order"], s["name"]) for s in with_form["steps"]] == [(1, "Tour"), (2, "Team")]
    questions = with_form["form"]["questions"]
    assert [(q["key"], q["kind"], q["required"], q["min"], q["max"]) for q in questions] == [
        ("goal", "SINGLE_CHOICE", True, None, None),
        ("tools", "MULTI_CHOICE", False, None, None),
        ("confidence", "SCALE", False, 1, 5),
        ("notes", "TEXT", False, None, None),
    ]
    assert questions[1]["options"] == [
        {"value": "sql", "label": "Sql", "scores": {"builder": 1, "expert": 1}},
        {"value": "python", "label": "Python", "scores": {"builder": 1}},
        {"value": "rust", "label": "Rust", "scores": {"expert": 2}},
    ]
    assert [q["weights"] for q in questions] == [{}, {}, {"expert": 0.5, "starter": -0.5}, {}]
    assert questions[3]["options"] == []
    segments = with_form["form"]["segments"]
    assert [(s["key"], s["name"], s["description"], s["insight"], s["priority"]) for s in segments] == [
        ("starter", "Starter", "New here", "Start small", 1),
        ("builder", "Builder", "Makes things", "Ship often", 2),
        ("expert", "Expert", "", "", 3),
    ]
    # an admin sees every recommended journey, the draft too, as Journey objects
    assert [[(j["id"], j["title"]) for j in s["recommendedJourneys"]] for s in segments] == [
        [(j1["id"], j1["title"])],
        [(j2["id"], j2["title"]), (j1["id"], j1["title"])],
        [(draft_journey["id"], "Draft")],
    ]
    # the form stores the journeys' keys, not their global ids
    async with actors.db() as session:
        stored = (
            await session.execute(
                text("SELECT form FROM onboardings WHERE id = :id"), {"id": local_id(oid, "Onboarding")}
            )
        ).scalar_one()
    assert stored["segments"][1]["recommendedJourneys"] == [
        str(local_id(j2["id"], "Journey")),
        str(local_id(j1["id"], "Journey")),
    ]

    # users see it once published (without the draft journey), and not once archived
    assert (await alice.data(ONBOARDING, {"id": oid}))["onboarding"] is None
    published = await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    assert published["status"] == "PUBLISHED" and published["publishedAt"] is not None
    seen = (await alice.data(ONBOARDING, {"id": oid}))["onboarding"]
    assert seen is not None and seen["name"] == "Hello there"
    assert [[j["id"] for j in s["recommendedJourneys"]] for s in seen["form"]["segments"]] == [
        [j1["id"]],
        [j2["id"], j1["id"]],
        [],
    ]
    assert _ids((await alice.data(ONBOARDINGS))["onboardings"]) == [oid]
    archived = await _ok(admin, ARCHIVE_ONBOARDING, {"id": oid}, "onboarding")
    assert archived["status"] == "ARCHIVED"
    assert (await alice.data(ONBOARDING, {"id": oid}))["onboarding"] is None
    assert (await alice.data(ONBOARDINGS))["onboardings"]["edges"] == []
    assert (await admin.data(ONBOARDING, {"id": oid}))["onboarding"]["status"] == "ARCHIVED"

    # an empty form removes it from the draft; the next version is published without it
    cleared = await _ok(
        admin, SET_FORM, {"onboardingId": oid, "input": {"questions": [], "segments": []}}, "onboarding"
    )
    assert cleared["form"] is not None  # the published version keeps its form
    assert (await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding"))["form"] is None


async def test_invalid_authoring_input_is_listed_field_by_field_and_changes_nothing(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    admin = actors.admin(tenant)
    journey = await published_journey(admin)
    foreign_journey = await published_journey(actors.admin(other_tenant))
    oid = (await _ok(admin, CREATE_ONBOARDING, {"input": {"slug": "taken", "name": "One"}}, "onboarding"))["id"]

    def refused(payload: dict[str, Any], key: str = "onboarding") -> list[tuple[str, tuple[str, ...] | None]]:
        assert payload[key] is None
        return _codes(payload)

    # every bad field of an onboarding at once
    payload = await mutate(admin, CREATE_ONBOARDING, {"input": {"slug": "Not A Slug", "name": "  ", "xpReward": -1}})
    assert sorted(refused(payload)) == [
        ("BAD_USER_INPUT", ("input", "name")),
        ("BAD_USER_INPUT", ("input", "slug")),
        ("BAD_USER_INPUT", ("input", "xpReward")),
    ]
    payload = await mutate(admin, CREATE_ONBOARDING, {"input": {"slug": "taken", "name": "Two"}})
    assert refused(payload) == [("BAD_USER_INPUT", ("input", "slug"))]
    payload = await mutate(admin, UPDATE_ONBOARDING, {"id": oid, "input": {"name": "x" * 201, "xpReward": 1_000_001}})
    assert sorted(refused(payload)) == [
        ("BAD_USER_INPUT", ("input", "name")),
        ("BAD_USER_INPUT", ("input", "xpReward")),
    ]
    # publishing needs a step; a step needs a name
    assert refused(await mutate(admin, PUBLISH_ONBOARDING, {"id": oid})) == [("BAD_USER_INPUT", ("id",))]
    payload = await mutate(admin, ADD_STEP, {"onboardingId": oid, "input": {"description": "no name"}})
    assert refused(payload, "step") == [("BAD_USER_INPUT", ("input", "name"))]
    only = await _ok(admin, ADD_STEP, {"onboardingId": oid, "input": {"name": "Only"}}, "step")
    second = await _ok(admin, ADD_STEP, {"onboardingId": oid, "input": {"name": "Second"}}, "step")
    payload = await mutate(admin, UPDATE_STEP, {"id": only["id"], "input": {"name": ""}})
    assert refused(payload, "step") == [("BAD_USER_INPUT", ("input", "name"))]
    # a reorder must list each step exactly once
    for step_ids in ([only["id"]], [only["id"], only["id"]], [only["id"], second["id"], second["id"]]):
        payload = await mutate(admin, REORDER_STEPS, {"onboardingId": oid, "stepIds": step_ids})
        assert refused(payload) == [("BAD_USER_INPUT", ("stepIds",))], step_ids
    # a published onboarding keeps at least one step
    await _ok(admin, REMOVE_STEP, {"id": second["id"]}, "step")
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    assert refused(await mutate(admin, REMOVE_STEP, {"id": only["id"]}), "step") == [("BAD_USER_INPUT", ("id",))]

    # a malformed form: every problem with its path under input
    bad_form = {
        "questions": [
            {"key": "Bad Key", "prompt": "Why?", "kind": "TEXT"},
            {"key": "pick", "prompt": "Pick", "kind": "SINGLE_CHOICE", "options": [_option("a", nosuch=1)]},
            {"key": "scale", "prompt": "How much?", "kind": "SCALE", "min": 5, "max": 1},
        ],
        "segments": [{"key": "a", "name": "A", "recommendedJourneys": [oid]}],
    }
    payload = await mutate(admin, SET_FORM, {"onboardingId": oid, "input": bad_form})
    assert sorted(refused(payload)) == [
        ("BAD_USER_INPUT", ("input", "questions", "0", "key")),
        ("BAD_USER_INPUT", ("input", "questions", "1", "options")),
        ("BAD_USER_INPUT", ("input", "questions", "1", "options", "0", "scores", "nosuch")),
        ("BAD_USER_INPUT", ("input", "questions", "2", "max")),
        ("BAD_USER_INPUT", ("input", "segments", "0", "recommendedJourneys", "0")),
    ]
    # a well-formed form recommending journeys the tenant does not have
    unknown_journey = to_global_id("Journey", uuid.uuid4())
    form = _form_input([journey["id"]], [foreign_journey["id"], journey["id"], unknown_journey], [])
    payload = await mutate(admin, SET_FORM, {"onboardingId": oid, "input": form})
    assert refused(payload) == [
        ("BAD_USER_INPUT", ("input", "segments", "1", "recommendedJourneys", "0")),
        ("BAD_USER_INPUT", ("input", "segments", "1", "recommendedJourneys", "2")),
    ]

    # and nothing of it stuck
    found = (await admin.data(ONBOARDING, {"id": oid}))["onboarding"]
    assert (found["name"], found["xpReward"], found["form"]) == ("One", 0, None)
    assert [(s["order"], s["name"]) for s in found["steps"]] == [(1, "Only")]
    assert await count(actors.db, "SELECT count(*) FROM onboardings") == 1


async def test_authoring_unknown_or_foreign_ids_is_not_found_and_users_are_forbidden(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    admin, alice = actors.admin(tenant), actors.user(tenant)
    mine = await make_onboarding(actors.db, tenant, steps=2)
    foreign = await make_onboarding(actors.db, other_tenant, steps=2)
    form = _form_input([], [], [])
    step_input = {"input": {"name": "Renamed"}}
    onboarding_ids = [_onboarding_id(foreign), to_global_id("Onboarding", uuid.uuid4()), "garbage", _step_ids(mine)[0]]
    step_ids = [_step_ids(foreign)[0], to_global_id("OnboardingStep", uuid.uuid4()), "garbage", _onboarding_id(mine)]

    cases = [
        (document, variables, key, field)
        for bad in onboarding_ids
        for document, variables, key, field in (
            (UPDATE_ONBOARDING, {"id": bad, "input": {"name": "X"}}, "onboarding", "id"),
            (PUBLISH_ONBOARDING, {"id": bad}, "onboarding", "id"),
            (ARCHIVE_ONBOARDING, {"id": bad}, "onboarding", "id"),
            (ADD_STEP, {"onboardingId": bad, "input": {"name": "X"}}, "step", "onboardingId"),
            (REORDER_STEPS, {"onboardingId": bad, "stepIds": _step_ids(foreign)}, "onboarding", "onboardingId"),
            (SET_FORM, {"onboardingId": bad, "input": form}, "onboarding", "onboardingId"),
        )
    ] + [
        (document, variables, "step", "id")
        for bad in step_ids
        for document, variables in ((UPDATE_STEP, {"id": bad, **step_input}), (REMOVE_STEP, {"id": bad}))
    ]
    payloads = await asyncio.gather(*(mutate(admin, document, variables) for document, variables, _, _ in cases))
    for (document, variables, key, field), payload in zip(cases, payloads, strict=True):
        assert (payload[key], _codes(payload)) == (None, [("NOT_FOUND", (field,))]), (document, variables)
    for bad in onboarding_ids:
        assert (await admin.data(ONBOARDING, {"id": bad}))["onboarding"] is None
    # a step id that is no step at all is NOT_FOUND; another onboarding's step is a bad list
    payload = await mutate(admin, REORDER_STEPS, {"onboardingId": _onboarding_id(mine), "stepIds": ["garbage"]})
    assert _codes(payload) == [("NOT_FOUND", ("stepIds",))]
    other_steps = [_step_ids(mine)[1], _step_ids(foreign)[0]]
    payload = await mutate(admin, REORDER_STEPS, {"onboardingId": _onboarding_id(mine), "stepIds": other_steps})
    assert _codes(payload) == [("BAD_USER_INPUT", ("stepIds",))]

    # a user calling any authoring operation: one top-level FORBIDDEN
    oid, (sid, _) = _onboarding_id(mine), _step_ids(mine)
    user_calls: list[tuple[str, dict[str, Any]]] = [
        (CREATE_ONBOARDING, {"input": {"slug": "mine", "name": "Mine"}}),
        (UPDATE_ONBOARDING, {"id": oid, "input": {"name": "X"}}),
        (PUBLISH_ONBOARDING, {"id": oid}),
        (ARCHIVE_ONBOARDING, {"id": oid}),
        (ADD_STEP, {"onboardingId": oid, "input": {"name": "X"}}),
        (UPDATE_STEP, {"id": sid, **step_input}),
        (REMOVE_STEP, {"id": sid}),
        (REORDER_STEPS, {"onboardingId": oid, "stepIds": list(reversed(_step_ids(mine)))}),
        (SET_FORM, {"onboardingId": oid, "input": form}),
        (ADMIN_ONBOARDINGS, {}),
    ]
    for document, variables in user_calls:
        body = await alice.post(document, variables)
        assert body["data"] is None, document
        assert [(e["extensions"]["code"], e["extensions"]["status"]) for e in body["errors"]] == [("FORBIDDEN", 403)]

    # nothing changed
    found = (await admin.data(ONBOARDING, {"id": oid}))["onboarding"]
    assert (found["name"], found["status"], found["form"]) == ("Onboarding", "PUBLISHED", None)
    assert [(s["order"], s["name"]) for s in found["steps"]] == [(1, "Step 1"), (2, "Step 2")]
    assert await count(actors.db, "SELECT count(*) FROM onboardings") == 2
    assert await count(actors.db, "SELECT count(*) FROM onboarding_steps") == 4


async def test_users_see_published_onboardings_and_admins_every_one(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    draft = await make_onboarding(actors.db, tenant, status=OnboardingStatus.DRAFT)
    published = await make_onboarding(actors.db, tenant)
    archived = await make_onboarding(actors.db, tenant, status=OnboardingStatus.ARCHIVED)
    foreign = await make_onboarding(actors.db, other_tenant)
    alice, admin = actors.user(tenant), actors.admin(tenant)
    made = {"draft": draft, "published": published, "archived": archived, "foreign": foreign}
    ids = {name: _onboarding_id(m) for name, m in made.items()}

    assert _ids((await alice.data(ONBOARDINGS))["onboardings"]) == [ids["published"]]
    for name, oid in ids.items():
        visible = name == "published"
        assert ((await alice.data(ONBOARDING, {"id": oid}))["onboarding"] is not None) == visible, name
        assert ((await alice.data(NODE, {"id": oid}))["node"] is not None) == visible, name
        step_id = _step_ids(made[name])[0]
        assert ((await alice.data(NODE, {"id": step_id}))["node"] is not None) == visible, name
    # only a published one can be started
    for name in ("draft", "archived", "foreign"):
        payload = await mutate(alice, START, {"onboardingId": ids[name]})
        assert (payload["onboardingJourney"], _codes(payload)) == (None, [("NOT_FOUND", ("onboardingId",))]), name

    # admins list every onboarding of their tenant, newest first, optionally of one status
    assert _ids((await admin.data(ADMIN_ONBOARDINGS))["adminOnboardings"]) == [
        ids["archived"],
        ids["published"],
        ids["draft"],
    ]
    assert _ids((await admin.data(ADMIN_ONBOARDINGS, {"status": "DRAFT"}))["adminOnboardings"]) == [ids["draft"]]
    assert (await admin.data(ONBOARDING, {"id": ids["draft"]}))["onboarding"]["status"] == "DRAFT"
    assert (await admin.data(ONBOARDING, {"id": ids["foreign"]}))["onboarding"] is None
    assert _ids((await admin.data(ONBOARDINGS))["onboardings"]) == [ids["published"]]


# --- a run ------------------------------------------------------------------------------------


async def test_a_run_through_every_transition_and_error_code(actors: Actors) -> None:
    tenant = await actors.tenant()
    made = await make_onboarding(actors.db, tenant, steps=3, xp_reward=30)
    oid, step_ids = _onboarding_id(made), _step_ids(made)
    alice = actors.user(tenant)
    viewer_id = (await alice.data(VIEWER))["viewer"]["id"]

    # start: ACTIVE on step 1, logged with its metadata
    run = await _start(alice, oid, metadata={"source": "signup"})
    rid = run["id"]
    assert local_id(rid, "OnboardingJourney") is not None
    assert (run["status"], run["currentStep"], run["userId"], run["metadata"], run["onboarding"]) == (
        "ACTIVE",
        1,
        viewer_id,
        {"source": "signup"},
        {"id": oid},
    )
    assert (run["suspendedAt"], run["completedAt"]) == (None, None)
    assert run["currentStepDetail"] == {"id": step_ids[0], "order": 1, "name": "Step 1"}
    assert run["progress"] == {"percent": 0, "completedSteps": [], "totalSteps": 3, "currentStep": 1}
    assert [(log["stepId"], log["action"]) for log in run["logs"]] == [(step_ids[0], "started")]
    assert _codes(await mutate(alice, START, {"onboardingId": oid})) == ALREADY_ACTIVE

    # logs stay on the current step; the action is 1..64 characters
    logged = await _log(alice, rid, "watched_video", metadata={"seconds": 30})
    assert logged["errors"] == [] and logged["onboardingJourney"]["currentStep"] == 1
    assert (await _log(alice, rid, "a" * 64))["errors"] == []
    for action in ("", "   ", "a" * 65):
        payload = await _log(alice, rid, action)
        assert (payload["onboardingJourney"], _codes(payload)) == (None, [("BAD_USER_INPUT", ("action",))]), action
    # resume is refused while ACTIVE
    assert _codes(await _change(alice, RESUME, rid)) == NOT_SUSPENDED

    # progress moves on, logging completed then started
    moved = (await _change(alice, PROGRESS, rid, metadata={"score": 1}))["onboardingJourney"]
    assert (moved["status"], moved["currentStep"], moved["currentStepDetail"]["name"]) == ("ACTIVE", 2, "Step 2")
    assert moved["progress"] == {"percent": 33, "completedSteps": [1], "totalSteps": 3, "currentStep": 2}

    # SUSPENDED: still blocks a start; nothing but resume or abandon works
    suspended = (await _change(alice, SUSPEND, rid, metadata={"why": "later"}))["onboardingJourney"]
    assert suspended["status"] == "SUSPENDED" and suspended["suspendedAt"] is not None
    assert _codes(await mutate(alice, START, {"onboardingId": oid})) == ALREADY_ACTIVE
    for payload in (
        await _change(alice, PROGRESS, rid),
        await _log(alice, rid, "poke"),
        await _change(alice, SUSPEND, rid),
    ):
        assert (payload["onboardingJourney"], _codes(payload)) == (None, NOT_ACTIVE)
    resumed = (await _change(alice, RESUME, rid))["onboardingJourney"]
    assert (resumed["status"], resumed["suspendedAt"], resumed["currentStep"]) == ("ACTIVE", None, 2)

    # the last step completes the run and awards its XP once
    await _change(alice, PROGRESS, rid)
    done = (await _change(alice, PROGRESS, rid))["onboardingJourney"]
    assert (done["status"], done["currentStep"]) == ("COMPLETED", 3) and done["completedAt"] is not None
    assert done["progress"] == {"percent": 100, "completedSteps": [1, 2, 3], "totalSteps": 3, "currentStep": 3}
    assert (await alice.data(MY_XP))["myXp"]["balance"] == 30
    # COMPLETED: every change is refused
    assert _codes(await _change(alice, PROGRESS, rid)) == NOT_ACTIVE
    assert _codes(await _log(alice, rid, "late")) == NOT_ACTIVE
    assert _codes(await _change(alice, SUSPEND, rid)) == NOT_ACTIVE
    assert _codes(await _change(alice, RESUME, rid)) == NOT_SUSPENDED
    assert _codes(await _change(alice, ABANDON, rid)) == NOT_ACTIVE

    found = await _run(alice, rid)
    assert found is not None and found["status"] == "COMPLETED"
    assert _logs(found) == [
        ("started", "Step 1", 1, {"source": "signup"}),
        ("watched_video", "Step 1", 1, {"seconds": 30}),
        ("a" * 64, "Step 1", 1, {}),
        ("completed", "Step 1", 1, {"score": 1}),
        ("started", "Step 2", 2, {}),
        ("suspended", "Step 2", 2, {"why": "later"}),
        ("resumed", "Step 2", 2, {}),
        ("completed", "Step 2", 2, {}),
        ("started", "Step 3", 3, {}),
        ("completed", "Step 3", 3, {}),
    ]
    logged_at = [log["loggedAt"] for log in found["logs"]]
    assert logged_at == sorted(logged_at)

    # after a completed run a new one may start; abandoned it can be neither resumed nor abandoned again
    second = await _start(alice, oid)
    assert second["id"] != rid and second["currentStep"] == 1
    abandoned = (await _change(alice, ABANDON, second["id"], metadata={"why": "bored"}))["onboardingJourney"]
    assert abandoned["status"] == "ABANDONED"
    assert _logs(abandoned)[-1] == ("abandoned", "Step 1", 1, {"why": "bored"})
    assert _codes(await _change(alice, ABANDON, second["id"])) == NOT_ACTIVE
    assert _codes(await _change(alice, RESUME, second["id"])) == NOT_SUSPENDED
    # a suspended run may be abandoned
    third = await _start(alice, oid)
    assert (await _change(alice, SUSPEND, third["id"]))["errors"] == []
    assert (await _change(alice, ABANDON, third["id"]))["onboardingJourney"]["status"] == "ABANDONED"

    # metadata that is not a small JSON object is a top-level BAD_USER_INPUT
    assert await alice.error_codes(START, {"onboardingId": oid, "metadata": {"x": "y" * 17_000}}) == ["BAD_USER_INPUT"]
    assert await alice.error_codes(PROGRESS, {"journeyId": rid, "metadata": [1, 2]}) == ["BAD_USER_INPUT"]
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 3
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 1


async def test_another_users_or_tenants_run_does_not_exist_for_them(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    made = await make_onboarding(actors.db, tenant, steps=2)
    alice = actors.user(tenant, "alice")
    run = await _start(alice, _onboarding_id(made))
    rid = run["id"]
    admin, foreign_admin = actors.admin(tenant), actors.admin(other_tenant)
    outsiders = [actors.user(tenant, "bob"), actors.user(other_tenant, "alice"), foreign_admin]

    def attempts(client: GraphQLClient, journey_id: str) -> list[Any]:
        return [
            _change(client, PROGRESS, journey_id),
            _log(client, journey_id, "peek"),
            _change(client, SUSPEND, journey_id),
            _change(client, RESUME, journey_id),
            _change(client, ABANDON, journey_id),
        ]

    for outsider in outsiders:
        for payload in await asyncio.gather(*attempts(outsider, rid)):
            assert (payload["onboardingJourney"], _codes(payload)) == (None, RUN_NOT_FOUND)
        assert await _run(outsider, rid) is None
        assert (await outsider.data(NODE, {"id": rid}))["node"] is None
        assert await _my_runs(outsider) == []
    # ids that name no run of the viewer
    for bad in (to_global_id("OnboardingJourney", uuid.uuid4()), "garbage", _onboarding_id(made)):
        for payload in await asyncio.gather(*attempts(alice, bad)):
            assert _codes(payload) == RUN_NOT_FOUND, bad
        assert await _run(alice, bad) is None

    # the tenant's admin reads it (and may act on it: tests/test_acting.py); another tenant's admin cannot
    seen = await _run(admin, rid)
    assert seen is not None and (seen["id"], seen["userId"], seen["status"]) == (rid, run["userId"], "ACTIVE")
    assert [log["action"] for log in seen["logs"]] == ["started"]
    assert (await admin.data(NODE, {"id": rid}))["node"] == {"id": rid}
    assert _codes(await _change(foreign_admin, PROGRESS, rid)) == RUN_NOT_FOUND
    assert await _admin_runs(admin) == [rid]
    assert await _admin_runs(foreign_admin) == []
    assert await alice.error_codes(ADMIN_RUNS) == ["FORBIDDEN"]

    found = await _run(alice, rid)
    assert found is not None and (found["status"], found["currentStep"]) == ("ACTIVE", 1)
    assert await count(actors.db, "SELECT count(*) FROM onboarding_logs") == 1


async def test_logs_keep_the_step_name_and_order_they_were_logged_with(actors: Actors) -> None:
    tenant = await actors.tenant()
    made = await make_onboarding(actors.db, tenant, steps=3)
    step_ids = _step_ids(made)
    admin, alice = actors.admin(tenant), actors.user(tenant)
    rid = (await _start(alice, _onboarding_id(made)))["id"]

    # the admin renames step 1 after it was logged: the run keeps its version's step
    oid = _onboarding_id(made)
    await _ok(admin, UPDATE_STEP, {"id": step_ids[0], "input": {"name": "Welcome!"}}, "step")
    run = (await _log(alice, rid, "clicked"))["onboardingJourney"]
    assert run["currentStepDetail"] == {"id": step_ids[0], "order": 1, "name": "Step 1"}
    # then publishes that, moves step 3 first, publishes again and moves the run on: it stays on
    # its step (by id), now at order 2
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    await _ok(
        admin, REORDER_STEPS, {"onboardingId": oid, "stepIds": [step_ids[2], step_ids[0], step_ids[1]]}, "onboarding"
    )
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    assert await mutate(admin, UPGRADE_RUNS, {"onboardingId": oid}) == {"upgraded": 1, "errors": []}
    run = await _run(alice, rid)
    assert run is not None
    assert run["currentStepDetail"] == {"id": step_ids[0], "order": 2, "name": "Welcome!"}
    assert [(log["stepId"], log["stepName"], log["stepOrder"], log["action"]) for log in run["logs"]] == [
        (step_ids[0], "Step 1", 1, "started"),
        (step_ids[0], "Step 1", 1, "clicked"),
        (step_ids[0], "Welcome!", 2, "upgraded"),
    ]
    # and removes that step, publishes and moves the run on: the logs keep the step as it was, the
    # run goes to the first step it has not completed
    await _ok(admin, REMOVE_STEP, {"id": step_ids[0]}, "step")
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    assert await mutate(admin, UPGRADE_RUNS, {"onboardingId": oid}) == {"upgraded": 1, "errors": []}
    found = await _run(alice, rid)
    assert found is not None
    assert [(log["stepId"], log["stepName"], log["stepOrder"]) for log in found["logs"]] == [
        (step_ids[0], "Step 1", 1),
        (step_ids[0], "Step 1", 1),
        (step_ids[0], "Welcome!", 2),
        (step_ids[1], "Step 2", 2),
    ]
    assert found["currentStepDetail"] == {"id": step_ids[1], "order": 2, "name": "Step 2"}
    assert found["progress"] == {"percent": 50, "completedSteps": [1], "totalSteps": 2, "currentStep": 2}


async def test_run_listings_filter_by_status_onboarding_user_and_start(actors: Actors) -> None:
    tenant = await actors.tenant()
    first, second = await make_onboarding(actors.db, tenant, steps=1), await make_onboarding(actors.db, tenant, steps=1)
    a, b = _onboarding_id(first), _onboarding_id(second)
    alice, bob, admin = actors.user(tenant, "alice"), actors.user(tenant, "bob"), actors.admin(tenant)
    a1 = (await _start(alice, a))["id"]
    await _change(alice, ABANDON, a1)
    b1 = (await _start(alice, b))["id"]
    await _change(alice, PROGRESS, b1)
    a2 = (await _start(alice, a))["id"]
    bob_run = await _start(bob, a)
    # alice's first run started ten days ago
    async with actors.db() as session:
        await session.execute(
            text("UPDATE onboarding_journeys SET started_at = now() - interval '10 days' WHERE id = :id"),
            {"id": local_id(a1, "OnboardingJourney")},
        )

    # the viewer's own, newest started first
    assert await _my_runs(alice) == [a2, b1, a1]
    assert await _my_runs(alice, status="ACTIVE") == [a2]
    assert await _my_runs(alice, status="COMPLETED") == [b1]
    assert await _my_runs(alice, onboardingId=a) == [a2, a1]
    assert await _my_runs(alice, onboardingId=a, status="ABANDONED") == [a1]
    assert await _my_runs(alice, onboardingId=b, status="ABANDONED") == []
    assert await _my_runs(alice, onboardingId="garbage") == []
    assert await _my_runs(bob) == [bob_run["id"]]

    # admins: every run of the tenant, filtered
    alice_id = (await alice.data(VIEWER))["viewer"]["id"]
    ago = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    assert await _admin_runs(admin) == [bob_run["id"], a2, b1, a1]
    assert await _admin_runs(admin, onboardingId=a) == [bob_run["id"], a2, a1]
    assert await _admin_runs(admin, userId=alice_id) == [a2, b1, a1]
    assert await _admin_runs(admin, userId=bob_run["userId"]) == [bob_run["id"]]
    assert await _admin_runs(admin, status="ACTIVE") == [bob_run["id"], a2]
    assert await _admin_runs(admin, startedTo=ago) == [a1]
    assert await _admin_runs(admin, startedFrom=ago) == [bob_run["id"], a2, b1]
    assert await _admin_runs(admin, startedFrom=ago, userId=alice_id, onboardingId=a) == [a2]
    assert await _admin_runs(admin, userId="garbage") == []
    assert await bob.error_codes(ADMIN_RUNS, {"status": "ACTIVE"}) == ["FORBIDDEN"]


# --- concurrency through HTTP -----------------------------------------------------------------


async def test_twenty_concurrent_progresses_walk_three_steps_exactly_once(actors: Actors) -> None:
    tenant = await actors.tenant()
    made = await make_onboarding(actors.db, tenant, steps=3, xp_reward=25)
    alice = actors.user(tenant)
    rid = (await _start(alice, _onboarding_id(made)))["id"]

    payloads = await asyncio.gather(*(_change(alice, PROGRESS, rid) for _ in range(20)))

    moved = [p["onboardingJourney"] for p in payloads if p["onboardingJourney"] is not None]
    assert sorted((r["status"], r["currentStep"]) for r in moved) == [("ACTIVE", 2), ("ACTIVE", 3), ("COMPLETED", 3)]
    assert [p["errors"] for p in payloads if p["onboardingJourney"] is not None] == [[]] * 3
    assert [_codes(p) for p in payloads if p["onboardingJourney"] is None] == [NOT_ACTIVE] * 17
    found = await _run(alice, rid)
    assert found is not None and found["status"] == "COMPLETED"
    assert [(log["action"], log["stepOrder"]) for log in found["logs"]] == [
        ("started", 1),
        ("completed", 1),
        ("started", 2),
        ("completed", 2),
        ("started", 3),
        ("completed", 3),
    ]
    assert await count(actors.db, "SELECT count(*) FROM onboarding_logs WHERE action = 'completed'") == 3
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 1
    assert (await alice.data(MY_XP))["myXp"]["balance"] == 25


async def test_ten_concurrent_completions_give_one_result(actors: Actors) -> None:
    tenant = await actors.tenant()
    made, journeys = await _form_onboarding(actors, tenant, xp_reward=40)
    alice = actors.user(tenant, "newcomer")  # never seen before

    payloads = await asyncio.gather(
        *(
            mutate(alice, COMPLETE, {"onboardingId": _onboarding_id(made), "responses": BUILDER_ANSWERS})
            for _ in range(10)
        )
    )

    assert [p["errors"] for p in payloads] == [[]] * 10
    assert len({p["classification"]["id"] for p in payloads}) == 1
    assert {p["classification"]["segment"]["key"] for p in payloads} == {"builder"}
    assert len({p["onboardingJourney"]["id"] for p in payloads}) == 1
    assert {p["onboardingJourney"]["status"] for p in payloads} == {"COMPLETED"}
    assert sorted(p["xpAwarded"] for p in payloads) == [0] * 9 + [40]
    started = [j["journey"]["id"] for p in payloads for j in p["startedJourneys"]]
    assert sorted(started) == sorted([journeys[1]["id"], journeys[2]["id"]])
    assert await count(actors.db, "SELECT count(*) FROM classifications") == 1
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 2
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 1
    assert await count(actors.db, "SELECT count(*) FROM users WHERE tenant_id = :t", t=tenant.id) == 2


# --- classification ---------------------------------------------------------------------------


async def test_preview_explains_the_result_and_writes_nothing(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    made, journeys = await _form_onboarding(actors, tenant)
    oid = _onboarding_id(made)
    alice = actors.user(tenant)
    before = await _counts(actors.db)
    outbox_before = await count(actors.db, "SELECT count(*) FROM outbox_events")

    result = (await alice.data(PREVIEW, {"onboardingId": oid, "responses": BUILDER_ANSWERS}))["previewClassification"]

    assert result["segment"] == {"key": "builder", "name": "Builder", "description": "Makes things"}
    assert result["scores"] == [
        {"segmentKey": "starter", "score": -1.0},
        {"segmentKey": "builder", "score": 5.0},
        {"segmentKey": "expert", "score": 2.0},
    ]
    assert [(r["questionKey"], r["value"], r["segmentKey"], r["points"]) for r in result["reasons"]] == [
        ("goal", "build", "builder", 3.0),
        ("tools", "sql", "builder", 1.0),
        ("tools", "sql", "expert", 1.0),
        ("tools", "python", "builder", 1.0),
        ("confidence", "2", "starter", -1.0),
        ("confidence", "2", "expert", 1.0),
    ]
    assert result["insight"] == "Ship often"
    assert result["recommendedJourneys"] == [
        {"id": journeys[1]["id"], "title": "Journey 1"},
        {"id": journeys[2]["id"], "title": "Journey 2"},
    ]
    assert await _counts(actors.db) == before
    assert await count(actors.db, "SELECT count(*) FROM outbox_events") == outbox_before

    # invalid answers: one top-level BAD_USER_INPUT listing every problem
    bad = [
        {"questionKey": "nope", "values": ["x"]},
        {"questionKey": "tools", "values": ["sql", "cobol"]},
        {"questionKey": "confidence", "values": ["9"]},
    ]
    body = await alice.post(PREVIEW, {"onboardingId": oid, "responses": bad})
    assert body["data"] is None
    (error,) = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["status"]) == ("BAD_USER_INPUT", 400)
    assert [f["field"] for f in error["extensions"]["fields"]] == [
        ["responses", "0", "questionKey"],
        ["responses", "1", "values", "1"],
        ["responses", "2", "values", "0"],
        ["responses", "goal"],
    ]
    assert all(f["message"] for f in error["extensions"]["fields"])

    # unknown, foreign, unpublished or form-less onboardings
    foreign = await make_onboarding(actors.db, other_tenant)
    draft = await make_onboarding(actors.db, tenant, status=OnboardingStatus.DRAFT)
    for missing in (
        to_global_id("Onboarding", uuid.uuid4()),
        "garbage",
        _onboarding_id(foreign),
        _onboarding_id(draft),
    ):
        body = await alice.post(PREVIEW, {"onboardingId": missing, "responses": STARTER_ANSWERS})
        assert body["data"] is None
        assert [(e["extensions"]["code"], e["extensions"]["fields"]) for e in body["errors"]] == [
            ("NOT_FOUND", [{"field": ["onboardingId"], "message": "Onboarding not found"}])
        ], missing
    formless = await make_onboarding(actors.db, tenant)
    body = await alice.post(PREVIEW, {"onboardingId": _onboarding_id(formless), "responses": STARTER_ANSWERS})
    assert [(e["extensions"]["code"], [f["field"] for f in e["extensions"]["fields"]]) for e in body["errors"]] == [
        ("BAD_USER_INPUT", [["onboardingId"]])
    ]
    assert await _counts(actors.db) == before


async def test_completing_returns_the_classification_and_a_retry_changes_nothing(actors: Actors) -> None:
    tenant = await actors.tenant()
    made, journeys = await _form_onboarding(actors, tenant, xp_reward=40)
    oid = _onboarding_id(made)
    alice = actors.user(tenant)
    # alice already runs one of the builder's journeys, and is on step 2 of the onboarding
    already = await mutate(alice, START_JOURNEY, {"id": journeys[2]["id"]})
    assert already["errors"] == []
    rid = (await _start(alice, oid))["id"]
    await _change(alice, PROGRESS, rid)

    # payload errors: bad answers (every one), unknown onboarding; nothing written
    before = await _counts(actors.db)
    payload = await mutate(
        alice, COMPLETE, {"onboardingId": oid, "responses": [{"questionKey": "tools", "values": []}]}
    )
    assert (
        payload["classification"],
        payload["onboardingJourney"],
        payload["startedJourneys"],
        payload["xpAwarded"],
    ) == (None, None, [], 0)
    assert _codes(payload) == [
        ("BAD_USER_INPUT", ("responses", "0", "values")),
        ("BAD_USER_INPUT", ("responses", "goal")),
    ]
    payload = await mutate(
        alice, COMPLETE, {"onboardingId": to_global_id("Onboarding", uuid.uuid4()), "responses": STARTER_ANSWERS}
    )
    assert _codes(payload) == [("NOT_FOUND", ("onboardingId",))]
    assert await _counts(actors.db) == before

    # completing: the classification, the completed run, the journeys it started, the XP
    first = await mutate(alice, COMPLETE, {"onboardingId": oid, "responses": BUILDER_ANSWERS})
    assert first["errors"] == []
    done = first["classification"]
    assert local_id(done["id"], "Classification") is not None
    assert done["segment"] == {"key": "builder", "name": "Builder", "description": "Makes things"}
    assert done["insight"] == "Ship often"
    assert done["responses"] == BUILDER_ANSWERS
    assert done["onboarding"] == {"id": oid}
    assert done["classifiedAt"] is not None
    assert [(r["questionKey"], r["segmentKey"], r["points"]) for r in done["reasons"]][:2] == [
        ("goal", "builder", 3.0),
        ("tools", "builder", 1.0),
    ]
    assert [j["id"] for j in done["recommendedJourneys"]] == [journeys[1]["id"], journeys[2]["id"]]
    run = first["onboardingJourney"]
    assert (run["id"], run["status"], run["currentStep"], run["progress"]) == (rid, "COMPLETED", 2, {"percent": 100})
    assert run["completedAt"] is not None
    # the journey alice already runs is not started again
    assert [(j["status"], j["journey"]["id"]) for j in first["startedJourneys"]] == [("ACTIVE", journeys[1]["id"])]
    assert first["xpAwarded"] == 40

    # a retry answers the same classification and changes nothing
    retry = await mutate(alice, COMPLETE, {"onboardingId": oid, "responses": BUILDER_ANSWERS})
    assert retry["errors"] == []
    assert retry["classification"] == done
    assert (retry["startedJourneys"], retry["xpAwarded"]) == ([], 0)
    assert (retry["onboardingJourney"]["id"], retry["onboardingJourney"]["status"]) == (rid, "COMPLETED")
    assert await count(actors.db, "SELECT count(*) FROM classifications") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 2
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 1
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 1
    assert (await alice.data(MY_XP))["myXp"]["balance"] == 40
    assert (await alice.data(VIEWER))["viewer"]["classification"] == {"id": done["id"], "segment": {"key": "builder"}}

    # a second run, completed differently: the latest wins, the history keeps both
    second_run = (await _start(alice, oid))["id"]
    again = await mutate(alice, COMPLETE, {"onboardingId": oid, "responses": STARTER_ANSWERS})
    assert again["errors"] == []
    assert again["classification"]["segment"]["key"] == "starter"
    assert again["classification"]["id"] != done["id"]
    assert (again["onboardingJourney"]["id"], again["onboardingJourney"]["status"]) == (second_run, "COMPLETED")
    assert again["onboardingJourney"]["progress"] == {"percent": 100}
    assert [(j["status"], j["journey"]["id"]) for j in again["startedJourneys"]] == [("ACTIVE", journeys[0]["id"])]
    assert again["xpAwarded"] == 40
    assert (await alice.data(VIEWER))["viewer"]["classification"]["segment"]["key"] == "starter"
    history = (await alice.data(MY_CLASSIFICATIONS))["myClassifications"]["edges"]
    assert [(e["node"]["id"], e["node"]["segment"]["key"]) for e in history] == [
        (again["classification"]["id"], "starter"),
        (done["id"], "builder"),
    ]
    assert await _my_runs(alice, onboardingId=oid, status="COMPLETED") == [second_run, rid]


async def test_completing_starts_only_recommended_journeys_not_already_active(actors: Actors) -> None:
    tenant = await actors.tenant()
    made, journeys = await _form_onboarding(actors, tenant, xp_reward=10)
    alice = actors.user(tenant)
    instance = await mutate(alice, START_JOURNEY, {"id": journeys[1]["id"]})

    payload = await mutate(alice, COMPLETE, {"onboardingId": _onboarding_id(made), "responses": BUILDER_ANSWERS})

    assert payload["errors"] == []
    assert [(j["status"], j["journey"]["id"]) for j in payload["startedJourneys"]] == [("ACTIVE", journeys[2]["id"])]
    assert payload["startedJourneys"][0]["id"] != instance["instance"]["id"]
    # no run was open: a COMPLETED one was made for the completion, with its XP
    assert (
        payload["onboardingJourney"]["status"],
        payload["onboardingJourney"]["currentStep"],
        payload["xpAwarded"],
    ) == ("COMPLETED", 1, 10)
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 2
    # without startRecommended, nothing is started
    bob = actors.user(tenant, "bob")
    quiet = await mutate(
        bob, COMPLETE, {"onboardingId": _onboarding_id(made), "responses": BUILDER_ANSWERS, "startRecommended": False}
    )
    assert (quiet["errors"], quiet["startedJourneys"], quiet["xpAwarded"]) == ([], [], 10)
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 2


# --- the report -------------------------------------------------------------------------------


async def test_the_report_gives_an_admin_the_figures_of_the_runs(actors: Actors) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    made = await make_onboarding(actors.db, tenant, steps=3)
    oid, step_ids = _onboarding_id(made), _step_ids(made)
    admin = actors.admin(tenant)
    finisher, midway, paused, quitter = (actors.user(tenant, name) for name in ("u1", "u2", "u3", "u4"))
    done = await _start(finisher, oid)
    for _ in range(3):
        done = (await _change(finisher, PROGRESS, done["id"]))["onboardingJourney"]
    await _change(midway, PROGRESS, (await _start(midway, oid))["id"])
    paused_id = (await _start(paused, oid))["id"]
    await _change(paused, PROGRESS, paused_id)
    await _change(paused, SUSPEND, paused_id)
    await _change(quitter, ABANDON, (await _start(quitter, oid))["id"])

    report = (await admin.data(REPORT, {"onboardingId": oid}))["onboardingReport"]

    expected_seconds = (
        datetime.fromisoformat(done["completedAt"]) - datetime.fromisoformat(done["startedAt"])
    ).total_seconds()
    median = report.pop("medianSecondsToComplete")
    assert median is not None and abs(median - expected_seconds) < 0.01
    assert {k: v for k, v in report.items() if k != "steps"} == {
        "total": 4,
        "active": 1,
        "suspended": 1,
        "completed": 1,
        "abandoned": 1,
        "completionRate": 0.25,
    }
    assert [
        (s["step"]["id"], s["step"]["order"], s["reached"], s["completed"], s["dropOff"]) for s in report["steps"]
    ] == [
        (step_ids[0], 1, 4, 3, 1),
        (step_ids[1], 2, 3, 1, 0),
        (step_ids[2], 3, 1, 1, 0),
    ]

    # runs started in a window that has none
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = (await admin.data(REPORT, {"onboardingId": oid, "from": later}))["onboardingReport"]
    assert (empty["total"], empty["completionRate"], empty["medianSecondsToComplete"]) == (0, 0.0, None)
    assert [(s["reached"], s["completed"], s["dropOff"]) for s in empty["steps"]] == [(0, 0, 0)] * 3
    before = (await admin.data(REPORT, {"onboardingId": oid, "to": later}))["onboardingReport"]
    assert before["total"] == 4

    # users may not read it; unknown or foreign onboardings are null
    assert await finisher.error_codes(REPORT, {"onboardingId": oid}) == ["FORBIDDEN"]
    foreign = await make_onboarding(actors.db, other_tenant)
    for missing in (to_global_id("Onboarding", uuid.uuid4()), "garbage", _onboarding_id(foreign)):
        assert (await admin.data(REPORT, {"onboardingId": missing}))["onboardingReport"] is None, missing


# --- performance ------------------------------------------------------------------------------


async def test_my_onboarding_journeys_statements_do_not_grow_with_the_page_size(
    actors: Actors, statements: StatementCounter
) -> None:
    # given a user with one run of each of 40 three-step onboardings, some moved on
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant, "alice")
    made = [await make_onboarding(actors.db, tenant, steps=3) for _ in range(40)]
    async with actors.db() as session:
        for index, onboarding in enumerate(made):
            run = await start_onboarding(session, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id)
            if index % 2:
                await progress_onboarding(session, tenant=tenant, user_id=user.id, journey_id=run.id)
    alice = actors.user(tenant, "alice")
    await alice.data(MY_RUNS_DEEP, {"first": 5})  # warm up

    async with statements.measure() as counter:
        small = await alice.data(MY_RUNS_DEEP, {"first": 5})
    small_count = counter.count
    async with statements.measure() as counter:
        large = await alice.data(MY_RUNS_DEEP, {"first": 40})
    large_count = counter.count

    assert len(small["myOnboardingJourneys"]["edges"]) == 5
    edges = large["myOnboardingJourneys"]["edges"]
    assert len(edges) == 40 and large["myOnboardingJourneys"]["pageInfo"]["hasNextPage"] is False
    assert all([s["name"] for s in e["node"]["onboarding"]["steps"]] == ["Step 1", "Step 2", "Step 3"] for e in edges)
    shapes = [
        (
            e["node"]["currentStepDetail"]["name"],
            e["node"]["progress"]["percent"],
            [log["action"] for log in e["node"]["logs"]],
        )
        for e in edges
    ]
    assert shapes.count(("Step 1", 0, ["started"])) == 20
    assert shapes.count(("Step 2", 33, ["started", "completed", "started"])) == 20
    # newest started first: the last one started (index 39, moved on) leads
    assert shapes[0] == ("Step 2", 33, ["started", "completed", "started"])
    assert small_count == large_count, (small_count, large_count)
