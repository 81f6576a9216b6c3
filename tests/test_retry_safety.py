"""Retry safety (SPEC §15) over real HTTP: ``expectedStep`` on ``progressOnboarding`` (equal,
lower, higher, 20 racing calls at one step), and the ``Idempotency-Key`` header — a repeat gets
the first response's bytes and changes nothing, 20 concurrent duplicates run once (on one
server process or spread over two), another
request with the key is refused, keys are per user, invalid keys are refused, queries ignore
it, a key whose first request died is run again, persisted queries keep their key, and the
purge deletes expired keys."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from app.config import Settings
from app.idempotency import KeyPurge, purge_expired
from app.tenancy.credentials import Role
from app.tenancy.models import Tenant
from tests.conftest import Actors, LiveServer
from tests.process_support import process_directory, process_environment, server_process
from tests.progress_support import count
from tests.webhook_support import CREATE_ENDPOINT

USER_ERRORS = "errors { code message field }"
RUN = "id currentStep status"

CREATE = f"""
mutation Create($input: OnboardingInput!) {{ createOnboarding(input: $input) {{ onboarding {{ id }} {USER_ERRORS} }} }}
"""
ADD_STEP = f"""
mutation AddStep($id: ID!, $name: String!) {{
  addOnboardingStep(onboardingId: $id, input: {{ name: $name }}) {{ {USER_ERRORS} }}
}}
"""
PUBLISH = f"mutation Publish($id: ID!) {{ publishOnboarding(id: $id) {{ {USER_ERRORS} }} }}"
START = f"""
mutation Start($id: ID!) {{ startOnboarding(onboardingId: $id) {{ onboardingJourney {{ {RUN} }} {USER_ERRORS} }} }}
"""
PROGRESS = f"""
mutation Progress($id: ID!, $step: Int) {{
  progressOnboarding(journeyId: $id, expectedStep: $step) {{ onboardingJourney {{ {RUN} }} {USER_ERRORS} }}
}}
"""
LOG = f"""
mutation Log($id: ID!, $action: String!) {{
  logOnboardingStep(journeyId: $id, action: $action) {{ onboardingJourney {{ {RUN} }} {USER_ERRORS} }}
}}
"""
VIEWER = "query Viewer { viewer { externalId } }"
# Another server process on the test database: the real app under uvicorn.
LAUNCH = """
import sys, uvicorn
from app.main import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""

COUNTS = {
    "logs": "SELECT count(*) FROM onboarding_logs",
    "xp": "SELECT count(*) FROM xp_entries",
    "events": "SELECT count(*) FROM outbox_events",
    "runs": "SELECT count(*) FROM onboarding_journeys",
    "steps": "SELECT coalesce(sum(current_step), 0) FROM onboarding_journeys",
}


async def _post(
    client: httpx.AsyncClient,
    token: str,
    query: str | None,
    variables: dict[str, Any] | None = None,
    *,
    key: str | bytes | None = None,
    extensions: dict[str, Any] | None = None,
) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    body: dict[str, Any] = {"query": query, "variables": variables or {}}
    if extensions is not None:
        body["extensions"] = extensions
    return await client.post("/graphql", json=body, headers=headers)


async def _data(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await _post(client, token, query, variables)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def _onboarding(client: httpx.AsyncClient, admin: str, *, steps: int = 3, xp: int = 25) -> str:
    """A published onboarding with ``steps`` steps, authored through the API."""
    slug = f"o-{uuid.uuid4().hex[:10]}"
    created = await _data(client, admin, CREATE, {"input": {"slug": slug, "name": "Welcome", "xpReward": xp}})
    onboarding_id: str = created["createOnboarding"]["onboarding"]["id"]
    for order in range(1, steps + 1):
        added = await _data(client, admin, ADD_STEP, {"id": onboarding_id, "name": f"Step {order}"})
        assert added["addOnboardingStep"]["errors"] == []
    published = await _data(client, admin, PUBLISH, {"id": onboarding_id})
    assert published["publishOnboarding"]["errors"] == []
    return onboarding_id


async def _start(client: httpx.AsyncClient, token: str, onboarding_id: str) -> str:
    started = await _data(client, token, START, {"id": onboarding_id})
    journey_id: str = started["startOnboarding"]["onboardingJourney"]["id"]
    return journey_id


async def _counts(db: Any) -> dict[str, int]:
    return {name: await count(db, sql) for name, sql in COUNTS.items()}


class Setup:
    """A tenant, an admin, a user ``alice`` with a run of a three-step onboarding (25 XP)."""

    def __init__(self, client: httpx.AsyncClient, actors: Actors, tenant: Tenant) -> None:
        self.client = client
        self.actors = actors
        self.tenant = tenant
        self.admin = actors.token(tenant, "ada", role=Role.ADMIN)
        self.alice = actors.token(tenant, "alice")
        self.onboarding_id = ""
        self.journey_id = ""

    async def ready(self, *, steps: int = 3) -> Setup:
        self.onboarding_id = await _onboarding(self.client, self.admin, steps=steps)
        self.journey_id = await _start(self.client, self.alice, self.onboarding_id)
        return self


async def _setup(client: httpx.AsyncClient, actors: Actors, *, steps: int = 3) -> Setup:
    return await Setup(client, actors, await actors.tenant()).ready(steps=steps)


# --------------------------------------------------------------------------- expectedStep


async def test_expected_step_equal_progresses_lower_changes_nothing_higher_is_step_mismatch(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given alice's run at step 1 of 3
    s = await _setup(client, actors)

    # when she progresses at step 1, then retries that call
    first = await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 1})
    before = await _counts(db)
    retry = await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 1})

    # then the first moved the run to step 2; the retry returned it unchanged and wrote nothing
    assert first["progressOnboarding"]["onboardingJourney"]["currentStep"] == 2
    assert retry["progressOnboarding"] == {
        "onboardingJourney": {"id": s.journey_id, "currentStep": 2, "status": "ACTIVE"},
        "errors": [],
    }
    assert await _counts(db) == before

    # when she sends a step ahead of the run
    ahead = await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 3})
    # then STEP_MISMATCH on expectedStep, and nothing changed
    assert ahead["progressOnboarding"]["onboardingJourney"] is None
    assert [(e["code"], e["field"]) for e in ahead["progressOnboarding"]["errors"]] == [
        ("STEP_MISMATCH", ["expectedStep"])
    ]
    # and a step below 1 is bad input
    zero = await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 0})
    assert [(e["code"], e["field"]) for e in zero["progressOnboarding"]["errors"]] == [
        ("BAD_USER_INPUT", ["expectedStep"])
    ]
    assert await _counts(db) == before

    # when she completes the last step and retries that call
    await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 2})
    done = await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 3})
    completed = await _counts(db)
    again = await _data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 3})

    # then the run is COMPLETED once, with its XP once; the retry returns it and awards nothing
    assert done["progressOnboarding"]["onboardingJourney"]["status"] == "COMPLETED"
    assert again["progressOnboarding"] == {
        "onboardingJourney": {"id": s.journey_id, "currentStep": 3, "status": "COMPLETED"},
        "errors": [],
    }
    assert completed["xp"] == before["xp"] + 1
    assert await _counts(db) == completed


async def test_twenty_concurrent_calls_at_one_step_progress_one_step(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given alice's run at step 1 of 3
    s = await _setup(client, actors)
    logs_before = await count(db, COUNTS["logs"])

    # when 20 requests progress it at expectedStep 1 at once
    results = await asyncio.gather(
        *(_data(client, s.alice, PROGRESS, {"id": s.journey_id, "step": 1}) for _ in range(20))
    )

    # then every one succeeds and sees step 2, and the run moved exactly one step
    assert {r["progressOnboarding"]["onboardingJourney"]["currentStep"] for r in results} == {2}
    assert all(r["progressOnboarding"]["errors"] == [] for r in results)
    assert await count(db, COUNTS["steps"]) == 2
    assert await count(db, COUNTS["logs"]) == logs_before + 2  # step 1 completed, step 2 started


# --------------------------------------------------------------------------- Idempotency-Key


async def test_a_repeat_returns_the_first_response_byte_for_byte_and_changes_nothing(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given alice's run at step 1 of 2 (its XP awarded on completing step 2)
    s = await _setup(client, actors, steps=2)

    # when she progresses without expectedStep, twice with the same key
    first = await _post(client, s.alice, PROGRESS, {"id": s.journey_id}, key="progress-1")
    before = await _counts(db)
    repeat = await _post(client, s.alice, PROGRESS, {"id": s.journey_id}, key="progress-1")

    # then the repeat is the first response, byte for byte, and nothing ran again
    assert first.status_code == repeat.status_code == 200
    assert first.content == repeat.content
    assert first.headers["content-type"] == repeat.headers["content-type"]
    assert repeat.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert first.json()["data"]["progressOnboarding"]["onboardingJourney"]["currentStep"] == 2
    assert await _counts(db) == before

    # when she completes the run with another key, and repeats that
    completing = await _post(client, s.alice, PROGRESS, {"id": s.journey_id}, key="progress-2")
    completed = await _counts(db)
    again = await _post(client, s.alice, PROGRESS, {"id": s.journey_id}, key="progress-2")

    # then the repeat is the completion's response (not NOT_ACTIVE), with XP awarded once
    assert completing.json()["data"]["progressOnboarding"]["onboardingJourney"]["status"] == "COMPLETED"
    assert again.content == completing.content
    assert completed["xp"] == before["xp"] + 1
    assert await _counts(db) == completed


async def test_twenty_concurrent_duplicates_run_once_and_get_the_same_bytes(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given alice's run
    s = await _setup(client, actors)
    before = await _counts(db)

    # when 20 identical keyed log requests arrive at once
    responses = await asyncio.gather(
        *(_post(client, s.alice, LOG, {"id": s.journey_id, "action": "tapped"}, key="log-once") for _ in range(20))
    )

    # then all get one response, and one log (one realtime event) was written
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    after = await _counts(db)
    assert after["logs"] == before["logs"] + 1
    assert after["events"] == before["events"] + 1


async def test_the_same_key_with_another_request_is_refused_and_runs_nothing(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given a keyed log request that ran
    s = await _setup(client, actors)
    await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "first"}, key="k-1")
    before = await _counts(db)

    # when the key comes again with other variables, or another operation
    other_variables = await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "second"}, key="k-1")
    other_document = await _post(client, s.alice, PROGRESS, {"id": s.journey_id}, key="k-1")

    # then both are a top-level IDEMPOTENCY_KEY_REUSED (422), and nothing ran
    for response in (other_variables, other_document):
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert [(e["extensions"]["code"], e["extensions"]["status"]) for e in errors] == [
            ("IDEMPOTENCY_KEY_REUSED", 422)
        ]
        assert "data" not in response.json()
    assert await _counts(db) == before

    # but the same request with the key in another layout is the same request (a replay)
    relaid = await _post(
        client, s.alice, "# again\n" + LOG.replace("\n", "\n  "), {"id": s.journey_id, "action": "first"}, key="k-1"
    )
    assert relaid.headers.get("idempotent-replayed") == "true"
    assert await _counts(db) == before


async def test_keys_are_per_user(server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any) -> None:
    # given an onboarding that alice starts with a key
    s = await _setup(client, actors)
    alice_run = await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "x"}, key="shared")
    bob = actors.token(s.tenant, "bob")
    other = await _onboarding(client, s.admin)
    alice_start = await _post(client, s.alice, START, {"id": other}, key="start")

    # when bob sends the very same start request with the very same key
    bob_start = await _post(client, bob, START, {"id": other}, key="start")

    # then it ran for bob: his own run, not alice's response
    alice_journey = alice_start.json()["data"]["startOnboarding"]["onboardingJourney"]
    bob_journey = bob_start.json()["data"]["startOnboarding"]["onboardingJourney"]
    assert "idempotent-replayed" not in bob_start.headers
    assert bob_journey["id"] != alice_journey["id"] and bob_journey["currentStep"] == 1
    assert await count(db, COUNTS["runs"]) == 3

    # and bob's "shared" key is his own, whatever alice sent with hers
    bob_run = await _start(client, bob, s.onboarding_id)
    bob_log = await _post(client, bob, LOG, {"id": bob_run, "action": "y"}, key="shared")
    assert bob_log.status_code == 200 and "idempotent-replayed" not in bob_log.headers
    assert bob_log.json()["data"]["logOnboardingStep"]["errors"] == []
    assert alice_run.json()["data"]["logOnboardingStep"]["errors"] == []


async def test_duplicates_spread_over_two_processes_run_once(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any, migrated: str, settings: Settings
) -> None:
    # given alice's run, and a second server process on the same database
    s = await _setup(client, actors)
    before = await _counts(db)
    environment = process_environment(migrated, settings)
    async with (
        server_process(("-c", LAUNCH, "{port}"), environment, process_directory(settings, "retry-"), "b") as other,
        httpx.AsyncClient(base_url=other.url, timeout=30) as other_client,
    ):
        # when 10 identical keyed requests go to each process at once
        variables = {"id": s.journey_id, "action": "both"}
        responses = await asyncio.gather(
            *(_post(http, s.alice, LOG, variables, key="two-processes") for http in (client, other_client) * 10)
        )

    # then the request ran once, and all 20 got its response
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert (await _counts(db))["logs"] == before["logs"] + 1


async def test_an_invalid_key_is_bad_user_input_and_queries_ignore_the_header(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    s = await _setup(client, actors)
    before = await _counts(db)

    # when a mutation comes with an empty key, one too long, or one with non-ASCII bytes
    for key in ("", "k" * 256, "clé".encode()):
        response = await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "x"}, key=key)
        # then it is refused with BAD_USER_INPUT (400), and nothing ran
        assert response.status_code == 400, key
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]
    assert await _counts(db) == before

    # and a key of 255 printable characters is fine
    longest = await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "x"}, key="~ " + "k" * 253)
    assert longest.status_code == 200 and longest.json()["data"]["logOnboardingStep"]["errors"] == []

    # when a query comes with any key, even an invalid one: it is answered as usual, every time
    for _ in range(2):
        query = await _post(client, s.alice, VIEWER, key="")
        assert query.status_code == 200 and query.json() == {"data": {"viewer": {"externalId": "alice"}}}
        assert "idempotent-replayed" not in query.headers
    assert await count(db, "SELECT count(*) FROM idempotency_keys") == 1


async def test_a_key_whose_first_request_died_is_run_by_the_repeat(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given a keyed request that ran and whose row we then hold as if a request were running it
    s = await _setup(client, actors)
    variables = {"id": s.journey_id, "action": "x"}
    await _post(client, s.alice, LOG, variables, key="held")
    engine = server.runtime.engine
    async with engine.connect() as holder:
        await holder.execute(text("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL"))
        await holder.commit()
        await holder.execute(text("SELECT 1 FROM idempotency_keys FOR UPDATE"))
        logs = await count(db, COUNTS["logs"])

        # when the repeat comes while the row is held
        repeat = asyncio.create_task(_post(client, s.alice, LOG, variables, key="held"))
        await asyncio.sleep(0.5)
        # then it waits
        assert not repeat.done()
        # until the holder dies without an answer (its transaction ends, releasing the row)
        await holder.rollback()

    # then the repeat ran the request itself, and stored its response for the next one
    response = await repeat
    assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert await count(db, COUNTS["logs"]) == logs + 1
    next_one = await _post(client, s.alice, LOG, variables, key="held")
    assert next_one.content == response.content and next_one.headers["idempotent-replayed"] == "true"


async def test_persisted_queries_keep_their_key(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given a keyed mutation sent as an automatic persisted query, with its text
    s = await _setup(client, actors)
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(LOG.encode()).hexdigest()}}
    variables = {"id": s.journey_id, "action": "apq"}
    first = await _post(client, s.alice, LOG, variables, key="apq", extensions=persisted)
    logs = await count(db, COUNTS["logs"])

    # when it is repeated by its hash alone
    repeat = await _post(client, s.alice, None, variables, key="apq", extensions=persisted)

    # then it is the same request: the first response, and nothing ran again
    assert first.json()["data"]["logOnboardingStep"]["errors"] == []
    assert repeat.content == first.content and repeat.headers["idempotent-replayed"] == "true"
    assert await count(db, COUNTS["logs"]) == logs


async def test_the_purge_deletes_expired_keys_and_an_expired_key_is_free_again(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given two keyed requests, one of them from more than a day ago
    s = await _setup(client, actors)
    await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "old"}, key="old")
    await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "new"}, key="new")
    expire = "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :key"
    async with db() as session:
        await session.execute(text(expire), {"key": "old"})
    keys = "SELECT key FROM idempotency_keys ORDER BY key"

    # when the expired key comes with another request before any purge: it runs
    reused = await _post(client, s.alice, LOG, {"id": s.journey_id, "action": "other"}, key="old")
    assert reused.status_code == 200 and "idempotent-replayed" not in reused.headers

    # when it has expired again and the purge runs
    async with db() as session:
        await session.execute(text(expire), {"key": "old"})
    assert await purge_expired(server.runtime.engine) == 1

    # then only the live key is left
    async with db() as session:
        assert list((await session.execute(text(keys))).scalars()) == ["new"]

    # and the serving process's background pass does the same by itself
    async with db() as session:
        await session.execute(text(expire), {"key": "new"})
    purge = KeyPurge(server.runtime.engine, interval=0.05)
    purge.start()
    try:
        for _ in range(100):
            if await count(db, "SELECT count(*) FROM idempotency_keys") == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await purge.stop()
    assert await count(db, "SELECT count(*) FROM idempotency_keys") == 0


async def test_a_kept_response_is_sealed_so_a_secret_shown_once_is_not_in_the_database(
    server: LiveServer, client: httpx.AsyncClient, actors: Actors, db: Any
) -> None:
    # given an admin creating a webhook endpoint (its secret is shown once) with a key
    tenant = await actors.tenant()
    admin = actors.token(tenant, "ada", role=Role.ADMIN)
    variables = {"input": {"url": "http://127.0.0.1:9/hooks"}}
    first = await _post(client, admin, CREATE_ENDPOINT, variables, key="endpoint-1")
    secret = first.json()["data"]["createWebhookEndpoint"]["secret"]
    assert secret.startswith("whsec_")

    # then the kept response does not hold the secret, nor any of the response's text
    async with db() as session:
        stored = (await session.execute(text("SELECT body FROM idempotency_keys"))).scalar_one()
    assert secret.encode() not in stored and b"createWebhookEndpoint" not in stored

    # and the repeat still answers the first response, secret included, creating nothing
    repeat = await _post(client, admin, CREATE_ENDPOINT, variables, key="endpoint-1")
    assert repeat.content == first.content
    assert await count(db, "SELECT count(*) FROM webhook_endpoints") == 1
