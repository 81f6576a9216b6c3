"""Completing onboardings with a classification form, through the services on a real
database: which run a completion belongs to, what it stores, awards and starts, retries and
races that change nothing further, bad answers that write nothing, and the classification reads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.errors import DomainError, ErrorCode, InvalidInput
from app.onboarding.classification import Response
from app.onboarding.completion import (
    CompletionResult,
    classification_history,
    complete_onboarding,
    latest_classifications,
)
from app.onboarding.lifecycle import (
    progress_onboarding,
    start_onboarding,
)
from app.onboarding.models import OnboardingJourneyStatus, OnboardingStatus
from app.onboarding.reads import logs_of_journeys
from app.onboarding.transitions import abandon_onboarding, suspend_onboarding
from app.progress.service import start_journey
from app.tenancy.models import Tenant, User
from tests.conftest import Actors, LiveServer, StatementCounter
from tests.onboarding_support import BEGINNER, EXPERT, MadeOnboarding, make_onboarding, sample_form
from tests.progress_support import PublishedJourney, count, make_journey, make_user, outbox_events, race, run

COMPLETED = OnboardingJourneyStatus.COMPLETED
TABLES = (
    "onboarding_journeys",
    "onboarding_logs",
    "classifications",
    "journey_instances",
    "xp_entries",
    "outbox_events",
)


async def _counts(db: Any) -> dict[str, int]:
    """Rows per table (user events only: catalogue authoring made by the factories is left out)."""
    return {
        table: await count(
            db, f"SELECT count(*) FROM {table}" + (" WHERE user_id IS NOT NULL" if table == "outbox_events" else "")
        )
        for table in TABLES
    }


async def _complete(
    server: LiveServer, tenant: Tenant, user: User, onboarding: MadeOnboarding, responses: list[Response], **kw: Any
) -> CompletionResult:
    return await run(
        server.runtime.sessions,
        lambda s: complete_onboarding(
            s, tenant=tenant, user_id=user.id, onboarding_id=onboarding.id, responses=responses, **kw
        ),
    )


async def _error(coro: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await coro
    return caught.value


async def _logs(db: Any, tenant: Tenant, journey_id: uuid.UUID) -> list[tuple[str, int, dict[str, Any]]]:
    async with db() as session:
        logs = (await logs_of_journeys(session, tenant_id=tenant.id, journey_ids=[journey_id]))[journey_id]
    return [(log.action, log.step_order, log.metadata_) for log in logs]


async def _setting(
    actors: Actors, *, steps: int = 3, xp_reward: int = 50, expert_journeys: int = 2
) -> tuple[Tenant, User, MadeOnboarding, list[PublishedJourney]]:
    """A tenant, a user, and an onboarding whose "expert" segment recommends published journeys."""
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journeys = [await make_journey(actors.db, tenant) for _ in range(expert_journeys)]
    form = sample_form(expert_journeys=[j.journey.id for j in journeys])
    onboarding = await make_onboarding(actors.db, tenant, steps=steps, xp_reward=xp_reward, form=form)
    return tenant, user, onboarding, journeys


# --- which run ------------------------------------------------------------------------------


async def test_completing_without_a_run_creates_a_completed_one_and_stores_everything(
    actors: Actors, server: LiveServer
) -> None:
    tenant, user, onboarding, journeys = await _setting(actors)

    done = await _complete(server, tenant, user, onboarding, EXPERT, user_timezone="Europe/Berlin")

    # the run: created COMPLETED at step 1, logged there
    assert (done.journey.status, done.journey.current_step, done.repeated) == (COMPLETED, 1, False)
    assert done.journey.completed_at is not None
    assert await _logs(actors.db, tenant, done.journey.id) == [
        ("started", 1, {}),
        ("completed", 1, {"classification": "expert"}),
    ]
    # the classification: the answers and the result as computed now
    stored = done.classification
    assert (stored.user_id, stored.onboarding_id, stored.journey_id) == (user.id, onboarding.id, done.journey.id)
    assert stored.segment_key == "expert"
    assert stored.responses == [
        {"questionKey": "goal", "values": ["master"]},
        {"questionKey": "level", "values": ["4"]},
    ]
    assert stored.result["segment"]["key"] == "expert"
    assert stored.result["scores"] == [
        {"segmentKey": "beginner", "score": 0.0},
        {"segmentKey": "expert", "score": 7.0},
    ]
    assert stored.result["recommendedJourneys"] == [str(j.journey.id) for j in journeys]
    # XP once, the recommended journeys started in the viewer's zone
    assert done.award is not None and done.award.xp_awarded == 50
    assert [i.journey_id for i in done.started_journeys] == [j.journey.id for j in journeys]
    assert {i.timezone for i in done.started_journeys} == {"Europe/Berlin"}
    assert await _counts(actors.db) == {
        "onboarding_journeys": 1,
        "onboarding_logs": 2,
        "classifications": 1,
        "journey_instances": 2,
        "xp_entries": 1,
        "outbox_events": 5,  # onboarding.completed, xp.awarded, classification.completed, 2 journey.started
    }
    assert await outbox_events(actors.db, "classification.completed") == [
        {
            "classificationId": str(stored.id),
            "onboardingId": str(onboarding.id),
            "onboardingJourneyId": str(done.journey.id),
            "segmentKey": "expert",
            "recommendedJourneyIds": [str(j.journey.id) for j in journeys],
        }
    ]
    assert len(await outbox_events(actors.db, "onboarding.completed")) == 1
    assert await outbox_events(actors.db, "onboarding.started") == []


async def test_an_open_run_is_completed_on_its_current_step(actors: Actors, server: LiveServer) -> None:
    tenant, user, onboarding, _ = await _setting(actors, xp_reward=30)
    factory = server.runtime.sessions
    journey = await run(
        factory, lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id)
    )
    await run(factory, lambda s: progress_onboarding(s, tenant=tenant, user_id=user.id, journey_id=journey.id))
    await run(factory, lambda s: suspend_onboarding(s, tenant_id=tenant.id, user_id=user.id, journey_id=journey.id))

    done = await _complete(server, tenant, user, onboarding, BEGINNER)

    assert (done.journey.id, done.journey.status, done.journey.current_step) == (journey.id, COMPLETED, 2)
    assert done.classification.segment_key == "beginner"
    assert done.started_journeys == []  # the beginner segment recommends nothing
    assert await _logs(actors.db, tenant, journey.id) == [
        ("started", 1, {}),
        ("completed", 1, {}),
        ("started", 2, {}),
        ("suspended", 2, {}),
        ("completed", 2, {"classification": "beginner"}),
    ]
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 1
    assert await count(actors.db, "SELECT sum(amount) FROM xp_entries") == 30


async def test_a_run_finished_step_by_step_gets_the_classification_without_more_xp(
    actors: Actors, server: LiveServer
) -> None:
    tenant, user, onboarding, journeys = await _setting(actors, steps=1, xp_reward=30)
    factory = server.runtime.sessions
    journey = await run(
        factory, lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id)
    )
    await run(factory, lambda s: progress_onboarding(s, tenant=tenant, user_id=user.id, journey_id=journey.id))

    done = await _complete(server, tenant, user, onboarding, EXPERT)
    again = await _complete(server, tenant, user, onboarding, EXPERT)

    assert (done.journey.id, done.repeated, done.award) == (journey.id, False, None)
    assert len(done.started_journeys) == len(journeys)
    assert (again.repeated, again.classification.id) == (True, done.classification.id)
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 1
    assert await count(actors.db, "SELECT count(*) FROM classifications") == 1
    assert await count(actors.db, "SELECT sum(amount) FROM xp_entries") == 30


async def test_after_an_abandoned_run_a_new_completed_run_is_made(actors: Actors, server: LiveServer) -> None:
    tenant, user, onboarding, _ = await _setting(actors, xp_reward=10)
    factory = server.runtime.sessions
    abandoned = await run(
        factory, lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id)
    )
    await run(factory, lambda s: abandon_onboarding(s, tenant_id=tenant.id, user_id=user.id, journey_id=abandoned.id))

    done = await _complete(server, tenant, user, onboarding, BEGINNER)

    assert done.journey.id != abandoned.id and done.journey.status is COMPLETED
    assert done.award is not None and done.award.xp_awarded == 10
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys WHERE status = 'ABANDONED'") == 1


# --- retries and races ----------------------------------------------------------------------


async def test_a_retry_returns_the_first_result_and_changes_nothing(actors: Actors, server: LiveServer) -> None:
    tenant, user, onboarding, _ = await _setting(actors)
    first = await _complete(server, tenant, user, onboarding, EXPERT)
    before = await _counts(actors.db)

    # even with other answers: the completion already happened
    retry = await _complete(server, tenant, user, onboarding, BEGINNER)

    assert retry.repeated and (retry.started_journeys, retry.award) == ([], None)
    assert (retry.classification.id, retry.journey.id) == (first.classification.id, first.journey.id)
    assert retry.classification.segment_key == "expert"
    assert await _counts(actors.db) == before


async def test_ten_concurrent_completions_give_one_result(actors: Actors, server: LiveServer) -> None:
    tenant, user, onboarding, journeys = await _setting(actors, xp_reward=50)

    results = await race(
        server.runtime.sessions,
        lambda s: complete_onboarding(s, tenant=tenant, user_id=user.id, onboarding_id=onboarding.id, responses=EXPERT),
        times=10,
    )

    assert all(isinstance(r, CompletionResult) for r in results)
    done = [r for r in results if isinstance(r, CompletionResult)]
    first = [r for r in done if not r.repeated]
    repeated = [r for r in done if r.repeated]
    assert len(first) == 1 and len(repeated) == 9
    assert {(r.classification.id, r.journey.id, r.classification.segment_key) for r in repeated} == {
        (first[0].classification.id, first[0].journey.id, "expert")
    }
    assert all(r.started_journeys == [] and r.award is None for r in repeated)
    assert len(first[0].started_journeys) == len(journeys)
    counts = await _counts(actors.db)
    assert (counts["classifications"], counts["onboarding_journeys"], counts["xp_entries"]) == (1, 1, 1)
    assert counts["journey_instances"] == len(journeys)
    assert len(await outbox_events(actors.db, "classification.completed")) == 1


async def test_racing_completions_and_progresses_on_an_open_run_neither_deadlock_nor_repeat(
    actors: Actors, server: LiveServer
) -> None:
    tenant, user, onboarding, _ = await _setting(actors, steps=3, xp_reward=20)
    factory = server.runtime.sessions
    journey = await run(
        factory, lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id)
    )
    calls = iter(range(20))

    async def unit(session: Any) -> Any:
        if next(calls) % 2:
            return await progress_onboarding(session, tenant=tenant, user_id=user.id, journey_id=journey.id)
        return await complete_onboarding(
            session, tenant=tenant, user_id=user.id, onboarding_id=onboarding.id, responses=BEGINNER
        )

    results = await race(factory, unit)

    # progresses after the run completed are NOT_ACTIVE; every other call succeeded
    assert {e.code for e in results if isinstance(e, DomainError)} <= {ErrorCode.NOT_ACTIVE}
    completions = [r for r in results if isinstance(r, CompletionResult)]
    assert len(completions) == 10 and sum(not r.repeated for r in completions) == 1
    counts = await _counts(actors.db)
    assert (counts["classifications"], counts["onboarding_journeys"], counts["xp_entries"]) == (1, 1, 1)
    logs = await _logs(actors.db, tenant, journey.id)
    assert [action for action, _, _ in logs].count("completed") <= 3
    assert logs[-1][0] == "completed"


# --- recommended journeys -------------------------------------------------------------------


async def test_only_published_recommended_journeys_not_already_active_are_started(
    actors: Actors, server: LiveServer
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    running, fresh = await make_journey(actors.db, tenant), await make_journey(actors.db, tenant)
    draft = await make_journey(actors.db, tenant, publish=False)
    form = sample_form(expert_journeys=[running.journey.id, draft.journey.id, uuid.uuid4(), fresh.journey.id])
    onboarding = await make_onboarding(actors.db, tenant, form=form)
    await run(
        server.runtime.sessions,
        lambda s: start_journey(s, viewer_tenant=tenant, user_id=user.id, journey_id=running.journey.id),
    )

    done = await _complete(server, tenant, user, onboarding, EXPERT)

    assert [i.journey_id for i in done.started_journeys] == [fresh.journey.id]
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 2
    assert (
        await count(actors.db, "SELECT count(*) FROM journey_instances WHERE journey_id = :j", j=draft.journey.id) == 0
    )


async def test_recommended_journeys_are_not_started_when_not_asked(actors: Actors, server: LiveServer) -> None:
    tenant, user, onboarding, _ = await _setting(actors)

    done = await _complete(server, tenant, user, onboarding, EXPERT, start_recommended=False)

    assert done.started_journeys == [] and done.classification.segment_key == "expert"
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 0


# --- refusals -------------------------------------------------------------------------------


async def test_bad_answers_are_refused_all_at_once_and_nothing_is_written(actors: Actors, server: LiveServer) -> None:
    tenant, user, onboarding, _ = await _setting(actors)
    journey = await run(
        server.runtime.sessions,
        lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id),
    )
    before = await _counts(actors.db)
    responses = [Response("level", ("9",)), Response("nope", ("x",))]

    error = await _error(_complete(server, tenant, user, onboarding, responses))

    assert isinstance(error, InvalidInput) and error.code is ErrorCode.BAD_USER_INPUT
    assert [p.field for p in error.problems] == [
        ("responses", "0", "values", "0"),
        ("responses", "1", "questionKey"),
        ("responses", "goal"),
    ]
    assert await _counts(actors.db) == before
    assert await _logs(actors.db, tenant, journey.id) == [("started", 1, {})]


async def test_an_onboarding_without_a_form_or_unpublished_is_refused(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    formless = await make_onboarding(actors.db, tenant)
    draft = await make_onboarding(actors.db, tenant, form=sample_form(), status=OnboardingStatus.DRAFT)
    other_tenant = await actors.tenant()
    foreign = await make_onboarding(actors.db, other_tenant, form=sample_form())

    errors = [await _error(_complete(server, tenant, user, o, BEGINNER)) for o in (formless, draft, foreign)]

    assert [(e.code, e.field) for e in errors] == [
        (ErrorCode.BAD_USER_INPUT, ("onboardingId",)),
        (ErrorCode.NOT_FOUND, ("onboardingId",)),
        (ErrorCode.NOT_FOUND, ("onboardingId",)),
    ]
    assert await _counts(actors.db) == dict.fromkeys(TABLES, 0)


# --- reads ----------------------------------------------------------------------------------


async def test_latest_classification_wins_and_history_is_kept(
    actors: Actors, server: LiveServer, statements: StatementCounter
) -> None:
    tenant, alice, onboarding, _ = await _setting(actors, expert_journeys=0)
    bob, carol = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    factory = server.runtime.sessions
    first = await _complete(server, tenant, alice, onboarding, BEGINNER)
    # a new run of the same onboarding, completed with other answers
    await run(
        factory, lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=alice.id, onboarding_id=onboarding.id)
    )
    second = await _complete(server, tenant, alice, onboarding, EXPERT)
    bobs = await _complete(server, tenant, bob, onboarding, EXPERT)

    assert second.journey.id != first.journey.id and not second.repeated
    async with actors.db() as session:
        async with statements.measure() as counter:
            latest = await latest_classifications(session, tenant_id=tenant.id, user_ids=[alice.id, bob.id, carol.id])
        assert counter.count == 1
        page = await classification_history(session, tenant_id=tenant.id, user_id=alice.id, first=1, after=None)
        last = page.items[-1]
        rest = await classification_history(
            session, tenant_id=tenant.id, user_id=alice.id, first=1, after=(last.created_at, last.id)
        )
        foreign = await latest_classifications(session, tenant_id=uuid.uuid4(), user_ids=[alice.id])
    assert {k: c.id for k, c in latest.items()} == {alice.id: second.classification.id, bob.id: bobs.classification.id}
    assert [c.id for c in page.items + rest.items] == [second.classification.id, first.classification.id]
    assert page.has_next and not rest.has_next
    assert foreign == {}
