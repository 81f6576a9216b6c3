"""Versioned onboardings through the HTTP API (SPEC §14): publishing snapshots the fields,
steps and classification form as a version; users, previews and runs see versions; a run is
scored with its own version's form; admins see the draft; open runs move on only when an admin
upgrades them."""

from __future__ import annotations

from typing import Any

from tests.catalog_support import mutate
from tests.conftest import Actors, GraphQLClient
from tests.progress_support import count
from tests.test_onboarding_api import (
    ADD_STEP,
    COMPLETE,
    PREVIEW,
    PROGRESS,
    PUBLISH_ONBOARDING,
    REMOVE_STEP,
    SET_FORM,
    START,
    UPDATE_ONBOARDING,
    UPDATE_STEP,
    UPGRADE_RUNS,
    _ok,
)

SERVED = (
    "id name version xpReward steps { id order name } "
    "form { segments { key } questions { key options { value scores } } }"
)
ADMIN_ONBOARDING = f"""
query AdminOnboarding($id: ID!) {{
  onboarding(id: $id) {{
    {SERVED}
    draft {{ name xpReward steps {{ id order name }} form {{ segments {{ key }} }} }}
    versions(first: 10) {{ edges {{ node {{ version name steps {{ name }} form {{ segments {{ key }} }} }} }} }}
  }}
}}
"""
USER_ONBOARDING = f"query UserOnboarding($id: ID!) {{ onboarding(id: $id) {{ {SERVED} draft {{ name }} }} }}"
USER_VERSIONS = "query Versions($id: ID!) { onboarding(id: $id) { versions { edges { node { version } } } } }"
LISTING = "query Listing { onboardings(first: 20) { edges { node { id name version } } } }"
RUN = """
query Run($id: ID!) {
  onboardingJourney(id: $id) {
    status currentStep onboardingVersion
    onboarding { name version steps { name } }
    currentStepDetail { id order name }
    progress { percent completedSteps totalSteps currentStep }
    logs { stepId stepName stepOrder action metadata }
  }
}
"""
MY_XP = "query { myXp { balance } }"
ANSWERS = [{"questionKey": "goal", "values": ["calm"]}]


def _form(calm_goes_to: str) -> dict[str, Any]:
    """One question whose answer `calm` scores for ``calm_goes_to``."""
    return {
        "questions": [
            {
                "key": "goal",
                "prompt": "Why are you here?",
                "kind": "SINGLE_CHOICE",
                "required": True,
                "options": [
                    {"value": "calm", "label": "Calm", "scores": {calm_goes_to: 3}},
                    {"value": "fit", "label": "Fit", "scores": {"active": 3}},
                ],
            }
        ],
        "segments": [
            {"key": "relaxed", "name": "Relaxed", "priority": 1},
            {"key": "active", "name": "Active", "priority": 2},
        ],
    }


async def _authored(admin: GraphQLClient, *, steps: int, form: dict[str, Any] | None) -> tuple[str, list[str]]:
    """A new onboarding with ``steps`` steps and ``form``, published as version 1: its id and step ids."""
    created = await mutate(
        admin,
        """mutation($input: OnboardingInput!) { createOnboarding(input: $input) { onboarding { id } errors { code } } }""",
        {"input": {"slug": "welcome", "name": "Welcome v1", "xpReward": 30}},
    )
    oid: str = created["onboarding"]["id"]
    step_ids = [
        (await _ok(admin, ADD_STEP, {"onboardingId": oid, "input": {"name": f"Step {i + 1}"}}, "step"))["id"]
        for i in range(steps)
    ]
    if form is not None:
        await _ok(admin, SET_FORM, {"onboardingId": oid, "input": form}, "onboarding")
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    return oid, step_ids


async def _start(client: GraphQLClient, oid: str) -> str:
    run_id: str = (await _ok(client, START, {"onboardingId": oid}, "onboardingJourney"))["id"]
    return run_id


async def _run(client: GraphQLClient, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.data(RUN, {"id": run_id}))["onboardingJourney"]
    return found


async def test_a_run_keeps_its_version_and_is_scored_with_its_form(actors: Actors) -> None:
    # given version 1 (two steps; answering `calm` classifies as relaxed), a run on it at step 2,
    # and a run completed on it
    tenant = await actors.tenant()
    admin, alice, bob, carol = (
        actors.admin(tenant),
        actors.user(tenant, "alice"),
        actors.user(tenant, "bob"),
        actors.user(tenant, "carol"),
    )
    oid, (one, two) = await _authored(admin, steps=2, form=_form("relaxed"))
    alice_run = await _start(alice, oid)
    await _ok(alice, PROGRESS, {"journeyId": alice_run}, "onboardingJourney")
    bob_run = await _start(bob, oid)
    for _ in range(2):
        await _ok(bob, PROGRESS, {"journeyId": bob_run}, "onboardingJourney")
    assert (await bob.data(MY_XP))["myXp"]["balance"] == 30

    # when the admin renames it and step 1, removes step 2, adds step 3, sends `calm` to active
    await _ok(admin, UPDATE_ONBOARDING, {"id": oid, "input": {"name": "Welcome v2", "xpReward": 90}}, "onboarding")
    await _ok(admin, UPDATE_STEP, {"id": one, "input": {"name": "Hello"}}, "step")
    await _ok(admin, REMOVE_STEP, {"id": two}, "step")
    three = (await _ok(admin, ADD_STEP, {"onboardingId": oid, "input": {"name": "Step 3"}}, "step"))["id"]
    await _ok(admin, SET_FORM, {"onboardingId": oid, "input": _form("active")}, "onboarding")

    # then, unpublished, users see version 1 and no draft; admins see the draft
    seen = (await carol.data(USER_ONBOARDING, {"id": oid}))["onboarding"]
    assert (seen["name"], seen["version"], [s["name"] for s in seen["steps"]], seen["draft"]) == (
        "Welcome v1",
        1,
        ["Step 1", "Step 2"],
        None,
    )
    preview = await carol.data(PREVIEW, {"onboardingId": oid, "responses": ANSWERS})
    assert preview["previewClassification"]["segment"]["key"] == "relaxed"
    authored = (await admin.data(ADMIN_ONBOARDING, {"id": oid}))["onboarding"]
    assert authored["version"] == 1
    assert authored["draft"]["name"] == "Welcome v2" and authored["draft"]["xpReward"] == 90
    assert [(s["id"], s["order"], s["name"]) for s in authored["draft"]["steps"]] == [
        (one, 1, "Hello"),
        (three, 2, "Step 3"),
    ]
    assert await carol.error_codes(USER_VERSIONS, {"id": oid}) == ["FORBIDDEN"]

    # when it is published as version 2
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")

    # then users list and preview version 2
    listed = [e["node"] for e in (await carol.data(LISTING))["onboardings"]["edges"]]
    assert [(o["name"], o["version"]) for o in listed] == [("Welcome v2", 2)]
    preview = await carol.data(PREVIEW, {"onboardingId": oid, "responses": ANSWERS})
    assert preview["previewClassification"]["segment"]["key"] == "active"
    authored = (await admin.data(ADMIN_ONBOARDING, {"id": oid}))["onboarding"]
    assert authored["draft"] is None
    assert [(v["node"]["version"], v["node"]["name"]) for v in authored["versions"]["edges"]] == [
        (2, "Welcome v2"),
        (1, "Welcome v1"),
    ]
    # alice's run is still version 1: its onboarding, steps, current step and progress
    run = await _run(alice, alice_run)
    assert (run["onboardingVersion"], run["onboarding"]["name"], [s["name"] for s in run["onboarding"]["steps"]]) == (
        1,
        "Welcome v1",
        ["Step 1", "Step 2"],
    )
    assert run["currentStepDetail"] == {"id": two, "order": 2, "name": "Step 2"}
    assert run["progress"] == {"percent": 50, "completedSteps": [1], "totalSteps": 2, "currentStep": 2}
    # bob's completed run keeps its figures and XP
    done = await _run(bob, bob_run)
    assert (done["status"], done["progress"]["percent"], done["onboardingVersion"]) == ("COMPLETED", 100, 1)
    assert (await bob.data(MY_XP))["myXp"]["balance"] == 30
    # completing alice's run scores her answers with version 1's form and awards version 1's XP
    finished = await mutate(alice, COMPLETE, {"onboardingId": oid, "responses": ANSWERS})
    assert finished["errors"] == []
    assert finished["classification"]["segment"]["key"] == "relaxed"
    assert finished["xpAwarded"] == 30
    # while carol, starting now, follows version 2: its steps, its form, its XP
    carol_run = await _start(carol, oid)
    assert (await _run(carol, carol_run))["currentStepDetail"] == {"id": one, "order": 1, "name": "Hello"}
    carol_done = await mutate(carol, COMPLETE, {"onboardingId": oid, "responses": ANSWERS})
    assert (carol_done["classification"]["segment"]["key"], carol_done["xpAwarded"]) == ("active", 90)

    # publishing again without a change is a no-op
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")
    assert await count(actors.db, "SELECT count(*) FROM onboarding_versions") == 2


async def test_upgrade_moves_open_runs_to_their_step_by_id(actors: Actors) -> None:
    # given version 1 with three steps, a run on step 2, one on step 3, and a completed run
    tenant = await actors.tenant()
    admin = actors.admin(tenant)
    alice, bob, dave = actors.user(tenant, "alice"), actors.user(tenant, "bob"), actors.user(tenant, "dave")
    oid, (one, two, three) = await _authored(admin, steps=3, form=None)
    on_two = await _start(alice, oid)
    await _ok(alice, PROGRESS, {"journeyId": on_two}, "onboardingJourney")
    on_three = await _start(bob, oid)
    for _ in range(2):
        await _ok(bob, PROGRESS, {"journeyId": on_three}, "onboardingJourney")
    completed = await _start(dave, oid)
    for _ in range(3):
        await _ok(dave, PROGRESS, {"journeyId": completed}, "onboardingJourney")
    # and version 2: a new step first, step 3 removed
    zero = (await _ok(admin, ADD_STEP, {"onboardingId": oid, "input": {"name": "Step 0"}}, "step"))["id"]
    await mutate(
        admin,
        """mutation($id: ID!, $ids: [ID!]!) { reorderOnboardingSteps(onboardingId: $id, stepIds: $ids) { errors { code } } }""",
        {"id": oid, "ids": [zero, one, two, three]},
    )
    await _ok(admin, REMOVE_STEP, {"id": three}, "step")
    await _ok(admin, PUBLISH_ONBOARDING, {"id": oid}, "onboarding")

    # when the admin moves the open runs on
    moved = await mutate(admin, UPGRADE_RUNS, {"onboardingId": oid})

    # then alice stays on step 2 (now order 3); bob's step 3 is gone: he goes to the first step he
    # had not completed, the new one; dave's completed run stays on version 1
    assert moved == {"upgraded": 2, "errors": []}
    alice_run = await _run(alice, on_two)
    assert (alice_run["onboardingVersion"], alice_run["currentStepDetail"]) == (
        2,
        {"id": two, "order": 3, "name": "Step 2"},
    )
    assert alice_run["logs"][-1]["action"] == "upgraded" and alice_run["logs"][-1]["metadata"] == {"from": 1, "to": 2}
    bob_run = await _run(bob, on_three)
    assert bob_run["currentStepDetail"] == {"id": zero, "order": 1, "name": "Step 0"}
    assert (bob_run["logs"][-2]["stepId"], bob_run["logs"][-2]["stepName"]) == (three, "Step 3")  # kept as logged
    assert (await _run(dave, completed))["onboardingVersion"] == 1
    assert await mutate(admin, UPGRADE_RUNS, {"onboardingId": oid}) == {"upgraded": 0, "errors": []}
    assert await alice.error_codes(UPGRADE_RUNS, {"onboardingId": oid}) == ["FORBIDDEN"]
    refused = await mutate(admin, UPGRADE_RUNS, {"onboardingId": oid, "fromVersion": 0})
    assert [e["code"] for e in refused["errors"]] == ["BAD_USER_INPUT"]
