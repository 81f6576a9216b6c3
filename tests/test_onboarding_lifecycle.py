"""Users' runs through onboardings, through the services on a real database: starting (and
racing to), progressing step by step (and racing to), logging, the transition table and its
error codes, logs that keep what the step was, progress figures and the batched reads."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.errors import DomainError, ErrorCode
from app.onboarding.lifecycle import (
    ProgressResult,
    log_onboarding_step,
    progress_onboarding,
    start_onboarding,
)
from app.onboarding.models import OnboardingJourney, OnboardingJourneyStatus, OnboardingStatus
from app.onboarding.reads import (
    OnboardingProgress,
    current_steps,
    list_onboarding_journeys,
    logs_of_journeys,
    onboarding_journeys_by_ids,
    progress_of_journeys,
)
from app.onboarding.transitions import abandon_onboarding, resume_onboarding, suspend_onboarding
from app.tenancy.models import Tenant, User
from tests.conftest import Actors, LiveServer, StatementCounter
from tests.onboarding_support import MadeOnboarding, make_onboarding, publish_and_upgrade
from tests.progress_support import count, make_user, outbox_events, race, run

ACTIVE = OnboardingJourneyStatus.ACTIVE
SUSPENDED = OnboardingJourneyStatus.SUSPENDED
COMPLETED = OnboardingJourneyStatus.COMPLETED
ABANDONED = OnboardingJourneyStatus.ABANDONED


async def _error(coro: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await coro
    return caught.value


async def _start(server: LiveServer, tenant: Tenant, user: User, onboarding: MadeOnboarding, **kwargs: Any) -> Any:
    return await run(
        server.runtime.sessions,
        lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id, **kwargs),
    )


async def _progress(server: LiveServer, tenant: Tenant, user: User, journey_id: uuid.UUID, **kwargs: Any) -> Any:
    return await run(
        server.runtime.sessions,
        lambda s: progress_onboarding(s, tenant=tenant, user_id=user.id, journey_id=journey_id, **kwargs),
    )


async def _logs(db: Any, tenant: Tenant, journey_id: uuid.UUID) -> list[tuple[str, int, str, dict[str, Any]]]:
    async with db() as session:
        logs = (await logs_of_journeys(session, tenant_id=tenant.id, journey_ids=[journey_id]))[journey_id]
    return [(log.action, log.step_order, log.step_name, log.metadata_) for log in logs]


async def _xp_rows(db: Any) -> list[tuple[int, str, str, str]]:
    async with db() as session:
        rows = await session.execute(
            text("SELECT amount, resource_type, resource_id, idempotency_key FROM xp_entries ORDER BY created_at")
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


# --- starting -------------------------------------------------------------------------------


async def test_start_makes_an_active_run_at_step_one_logged_and_announced(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=2)

    journey = await _start(server, tenant, user, onboarding, metadata={"source": "app"})

    assert (journey.status, journey.current_step, journey.metadata_) == (ACTIVE, 1, {"source": "app"})
    assert await _logs(actors.db, tenant, journey.id) == [("started", 1, "Step 1", {"source": "app"})]
    assert await outbox_events(actors.db, "onboarding.started") == [
        {
            "onboardingJourneyId": str(journey.id),
            "onboardingId": str(onboarding.id),
            "onboardingVersion": 1,
            "status": "ACTIVE",
            "currentStep": 1,
        }
    ]


async def test_only_a_published_onboarding_with_steps_of_the_tenant_can_be_started(
    actors: Actors, server: LiveServer
) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    user = await make_user(actors.db, tenant)
    unusable = [
        await make_onboarding(actors.db, tenant, status=OnboardingStatus.DRAFT),
        await make_onboarding(actors.db, tenant, status=OnboardingStatus.ARCHIVED),
        await make_onboarding(actors.db, tenant, steps=0),
        await make_onboarding(actors.db, other_tenant),
    ]

    errors = [await _error(_start(server, tenant, user, onboarding)) for onboarding in unusable]
    unknown = await _error(
        run(
            server.runtime.sessions,
            lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=uuid.uuid4()),
        )
    )

    assert [(e.code, e.field) for e in [*errors, unknown]] == [(ErrorCode.NOT_FOUND, ("onboardingId",))] * 5
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 0


async def test_metadata_must_be_a_small_json_object(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant)

    too_big = await _error(_start(server, tenant, user, onboarding, metadata={"x": "y" * 17_000}))
    not_object = await _error(_start(server, tenant, user, onboarding, metadata=["a"]))

    assert [(e.code, e.field) for e in (too_big, not_object)] == [(ErrorCode.BAD_USER_INPUT, ("metadata",))] * 2
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 0


async def test_twenty_concurrent_starts_make_one_run_and_nineteen_already_active(
    actors: Actors, server: LiveServer
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant)

    results = await race(
        server.runtime.sessions,
        lambda s: start_onboarding(s, tenant_id=tenant.id, user_id=user.id, onboarding_id=onboarding.id),
    )

    started = [r for r in results if isinstance(r, OnboardingJourney)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(started) == 1
    assert [(e.code, e.field) for e in refused] == [(ErrorCode.ALREADY_ACTIVE, ("onboardingId",))] * 19
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 1
    assert await count(actors.db, "SELECT count(*) FROM onboarding_logs") == 1
    assert len(await outbox_events(actors.db, "onboarding.started")) == 1


async def test_start_is_refused_while_open_and_allowed_after_abandoned_or_completed(
    actors: Actors, server: LiveServer
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=1)
    factory = server.runtime.sessions
    first = await _start(server, tenant, user, onboarding)
    ids = {"tenant_id": tenant.id, "user_id": user.id, "journey_id": first.id}

    while_active = await _error(_start(server, tenant, user, onboarding))
    await run(factory, lambda s: suspend_onboarding(s, **ids))
    while_suspended = await _error(_start(server, tenant, user, onboarding))
    await run(factory, lambda s: abandon_onboarding(s, **ids))
    second = await _start(server, tenant, user, onboarding)
    await _progress(server, tenant, user, second.id)
    third = await _start(server, tenant, user, onboarding)

    assert [e.code for e in (while_active, while_suspended)] == [ErrorCode.ALREADY_ACTIVE] * 2
    assert len({first.id, second.id, third.id}) == 3
    assert await count(actors.db, "SELECT count(*) FROM onboarding_journeys") == 3


# --- progressing ----------------------------------------------------------------------------


async def test_progress_moves_step_by_step_and_completes_on_the_last_awarding_xp_once(
    actors: Actors, server: LiveServer
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=2, xp_reward=40)
    journey = await _start(server, tenant, user, onboarding)

    moved: ProgressResult = await _progress(server, tenant, user, journey.id, metadata={"answer": 1})
    assert (moved.journey.status, moved.journey.current_step, moved.award) == (ACTIVE, 2, None)

    done: ProgressResult = await _progress(server, tenant, user, journey.id, metadata={"answer": 2})
    assert (done.journey.status, done.journey.current_step) == (COMPLETED, 2)
    assert done.journey.completed_at is not None
    assert done.award is not None and done.award.xp_awarded == 40

    again = await _error(_progress(server, tenant, user, journey.id))
    assert (again.code, again.field) == (ErrorCode.NOT_ACTIVE, ("journeyId",))
    assert await _logs(actors.db, tenant, journey.id) == [
        ("started", 1, "Step 1", {}),
        ("completed", 1, "Step 1", {"answer": 1}),
        ("started", 2, "Step 2", {}),
        ("completed", 2, "Step 2", {"answer": 2}),
    ]
    assert await _xp_rows(actors.db) == [(40, "onboarding", str(onboarding.id), f"onboarding:{journey.id}")]
    assert [e["currentStep"] for e in await outbox_events(actors.db, "onboarding.progressed")] == [2]
    assert [e["status"] for e in await outbox_events(actors.db, "onboarding.completed")] == ["COMPLETED"]


async def test_twenty_concurrent_progresses_walk_three_steps_exactly_once(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=3, xp_reward=25)
    journey = await _start(server, tenant, user, onboarding)

    results = await race(
        server.runtime.sessions,
        lambda s: progress_onboarding(s, tenant=tenant, user_id=user.id, journey_id=journey.id),
    )

    moved = [r for r in results if isinstance(r, ProgressResult)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert sorted((r.journey.status.value, r.journey.current_step) for r in moved) == [
        ("ACTIVE", 2),
        ("ACTIVE", 3),
        ("COMPLETED", 3),
    ]
    assert [e.code for e in refused] == [ErrorCode.NOT_ACTIVE] * 17
    assert [(action, order) for action, order, _, _ in await _logs(actors.db, tenant, journey.id)] == [
        ("started", 1),
        ("completed", 1),
        ("started", 2),
        ("completed", 2),
        ("started", 3),
        ("completed", 3),
    ]
    async with actors.db() as session:
        stored = await session.get(OnboardingJourney, journey.id)
    assert stored is not None and stored.status is COMPLETED
    assert await _xp_rows(actors.db) == [(25, "onboarding", str(onboarding.id), f"onboarding:{journey.id}")]
    assert len(await outbox_events(actors.db, "onboarding.completed")) == 1


async def test_a_run_completes_when_steps_were_removed_under_it(actors: Actors, server: LiveServer) -> None:
    # given a run on step 2 of 3, and the admin then removes step 3, publishes and moves the run on
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=3)
    journey = await _start(server, tenant, user, onboarding)
    await _progress(server, tenant, user, journey.id)
    async with actors.db() as session:
        await session.execute(text("DELETE FROM onboarding_steps WHERE id = :id"), {"id": onboarding.steps[2].id})
    assert await publish_and_upgrade(actors.db, tenant, onboarding.id) == 1

    # when the user progresses, step 2 is now the last one
    done: ProgressResult = await _progress(server, tenant, user, journey.id)

    assert done.journey.status is COMPLETED


# --- logging --------------------------------------------------------------------------------


async def test_log_appends_on_the_current_step_without_moving(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant)
    journey = await _start(server, tenant, user, onboarding)
    factory = server.runtime.sessions
    ids = {"tenant_id": tenant.id, "user_id": user.id, "journey_id": journey.id}

    logged = await run(factory, lambda s: log_onboarding_step(s, **ids, action="  viewed_video ", metadata={"s": 3}))
    bad = [
        await _error(run(factory, lambda s, a=action: log_onboarding_step(s, **ids, action=a)))  # type: ignore[misc]
        for action in ("", "   ", "x" * 65)
    ]
    longest = await run(factory, lambda s: log_onboarding_step(s, **ids, action="x" * 64))

    assert (logged.status, logged.current_step, longest.current_step) == (ACTIVE, 1, 1)
    assert [(e.code, e.field) for e in bad] == [(ErrorCode.BAD_USER_INPUT, ("action",))] * 3
    assert await _logs(actors.db, tenant, journey.id) == [
        ("started", 1, "Step 1", {}),
        ("viewed_video", 1, "Step 1", {"s": 3}),
        ("x" * 64, 1, "Step 1", {}),
    ]
    assert [e["action"] for e in await outbox_events(actors.db, "onboarding.logged")] == ["viewed_video", "x" * 64]


async def test_logs_keep_the_step_as_it_was_when_logged(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=2)
    journey = await _start(server, tenant, user, onboarding)

    # when step 1 is renamed and moved to order 2 (and step 2 to 1) after it was logged, and the
    # run is moved to that version (it stays on its step, now order 2) and completes it
    async with actors.db() as session:
        await session.execute(
            text(
                "UPDATE onboarding_steps SET position = 3 - position, "
                "name = CASE WHEN position = 1 THEN 'Welcome' ELSE name END WHERE onboarding_id = :id"
            ),
            {"id": onboarding.id},
        )
    assert await publish_and_upgrade(actors.db, tenant, onboarding.id) == 1
    await _progress(server, tenant, user, journey.id)
    # and the step is then removed
    async with actors.db() as session:
        await session.execute(text("DELETE FROM onboarding_steps WHERE id = :id"), {"id": onboarding.steps[0].id})
    assert await publish_and_upgrade(actors.db, tenant, onboarding.id) == 0  # a completed run never moves

    async with actors.db() as session:
        logs = (await logs_of_journeys(session, tenant_id=tenant.id, journey_ids=[journey.id]))[journey.id]
    step = onboarding.steps[0].id
    assert [(log.action, log.step_order, log.step_name, log.step_id) for log in logs] == [
        ("started", 1, "Step 1", step),
        ("upgraded", 2, "Welcome", step),
        ("completed", 2, "Welcome", step),
    ]


# --- transitions ----------------------------------------------------------------------------


async def test_transitions_follow_the_table_and_refuse_the_rest(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=2)
    journey = await _start(server, tenant, user, onboarding)
    factory = server.runtime.sessions
    ids = {"tenant_id": tenant.id, "user_id": user.id, "journey_id": journey.id}

    async def code_of(action: Any) -> tuple[ErrorCode, tuple[str, ...] | None]:
        error = await _error(run(factory, lambda s: action(s, **ids)))
        return error.code, error.field

    async def progress_code() -> ErrorCode:
        return (await _error(_progress(server, tenant, user, journey.id))).code

    async def log_code() -> ErrorCode:
        return (await _error(run(factory, lambda s: log_onboarding_step(s, **ids, action="x")))).code

    # ACTIVE: resume is refused
    assert await code_of(resume_onboarding) == (ErrorCode.NOT_SUSPENDED, ("journeyId",))
    # ACTIVE -> SUSPENDED, and not twice; a suspended run neither progresses nor logs
    suspended = await run(factory, lambda s: suspend_onboarding(s, **ids, metadata={"why": "later"}))
    assert suspended.status is SUSPENDED and suspended.suspended_at is not None
    assert await code_of(suspend_onboarding) == (ErrorCode.NOT_ACTIVE, ("journeyId",))
    assert (await progress_code(), await log_code()) == (ErrorCode.NOT_ACTIVE, ErrorCode.NOT_ACTIVE)
    # SUSPENDED -> ACTIVE, moves a step, -> ABANDONED from ACTIVE
    resumed = await run(factory, lambda s: resume_onboarding(s, **ids, metadata={"why": "now"}))
    assert resumed.status is ACTIVE and resumed.suspended_at is None
    await _progress(server, tenant, user, journey.id)
    abandoned = await run(factory, lambda s: abandon_onboarding(s, **ids, metadata={"why": "bored"}))
    assert abandoned.status is ABANDONED and abandoned.abandoned_at is not None
    # ABANDONED: nothing more
    assert await code_of(suspend_onboarding) == (ErrorCode.NOT_ACTIVE, ("journeyId",))
    assert await code_of(resume_onboarding) == (ErrorCode.NOT_SUSPENDED, ("journeyId",))
    assert await code_of(abandon_onboarding) == (ErrorCode.NOT_ACTIVE, ("journeyId",))
    assert (await progress_code(), await log_code()) == (ErrorCode.NOT_ACTIVE, ErrorCode.NOT_ACTIVE)

    assert await _logs(actors.db, tenant, journey.id) == [
        ("started", 1, "Step 1", {}),
        ("suspended", 1, "Step 1", {"why": "later"}),
        ("resumed", 1, "Step 1", {"why": "now"}),
        ("completed", 1, "Step 1", {}),
        ("started", 2, "Step 2", {}),
        ("abandoned", 2, "Step 2", {"why": "bored"}),
    ]
    async with actors.db() as session:
        types = (await session.execute(text("SELECT type FROM outbox_events ORDER BY id"))).scalars().all()
    assert types == [
        "onboarding.started",
        "onboarding.suspended",
        "onboarding.resumed",
        "onboarding.progressed",
        "onboarding.abandoned",
    ]


async def test_a_suspended_run_can_be_abandoned_and_a_completed_one_cannot(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=1)
    factory = server.runtime.sessions
    first = await _start(server, tenant, user, onboarding)
    first_ids = {"tenant_id": tenant.id, "user_id": user.id, "journey_id": first.id}
    await run(factory, lambda s: suspend_onboarding(s, **first_ids))

    abandoned = await run(factory, lambda s: abandon_onboarding(s, **first_ids))
    second = await _start(server, tenant, user, onboarding)
    second_ids = {"tenant_id": tenant.id, "user_id": user.id, "journey_id": second.id}
    await _progress(server, tenant, user, second.id)
    errors = [
        await _error(run(factory, lambda s, action=action: action(s, **second_ids)))  # type: ignore[misc]
        for action in (suspend_onboarding, resume_onboarding, abandon_onboarding)
    ]

    assert abandoned.status is ABANDONED
    assert [e.code for e in errors] == [ErrorCode.NOT_ACTIVE, ErrorCode.NOT_SUSPENDED, ErrorCode.NOT_ACTIVE]


async def test_another_users_or_tenants_run_is_not_found(actors: Actors, server: LiveServer) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    owner, stranger = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant)
    journey = await _start(server, tenant, owner, onboarding)
    factory = server.runtime.sessions
    theirs = {"tenant_id": tenant.id, "user_id": stranger.id, "journey_id": journey.id}

    attempts: list[Any] = [
        lambda s: suspend_onboarding(s, **theirs),
        lambda s: resume_onboarding(s, **theirs),
        lambda s: abandon_onboarding(s, **theirs),
        lambda s: log_onboarding_step(s, **theirs, action="peek"),
        lambda s: progress_onboarding(s, tenant=tenant, user_id=stranger.id, journey_id=journey.id),
        lambda s: progress_onboarding(s, tenant=other_tenant, user_id=owner.id, journey_id=journey.id),
        lambda s: suspend_onboarding(s, tenant_id=other_tenant.id, user_id=owner.id, journey_id=journey.id),
        lambda s: suspend_onboarding(s, tenant_id=tenant.id, user_id=owner.id, journey_id=uuid.uuid4()),
    ]
    errors = [await _error(run(factory, attempt)) for attempt in attempts]

    assert [(e.code, e.field) for e in errors] == [(ErrorCode.NOT_FOUND, ("journeyId",))] * len(attempts)
    assert await _logs(actors.db, tenant, journey.id) == [("started", 1, "Step 1", {})]


# --- reads ----------------------------------------------------------------------------------


async def test_progress_counts_the_steps_before_the_current_one(
    actors: Actors, server: LiveServer, statements: StatementCounter
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=3)
    factory = server.runtime.sessions
    fresh = await _start(server, tenant, user, onboarding)
    await _progress(server, tenant, user, fresh.id)  # on step 2
    await run(
        factory, lambda s: abandon_onboarding(s, tenant_id=tenant.id, user_id=user.id, journey_id=fresh.id)
    )  # abandoned on step 2
    done = await _start(server, tenant, user, onboarding)
    for _ in range(3):
        await _progress(server, tenant, user, done.id)
    walking = await _start(server, tenant, user, onboarding)
    await _progress(server, tenant, user, walking.id)
    await _progress(server, tenant, user, walking.id)  # on step 3
    unknown = uuid.uuid4()

    async with actors.db() as session, statements.measure() as counter:
        found = await progress_of_journeys(
            session, tenant_id=tenant.id, journey_ids=[fresh.id, done.id, walking.id, unknown]
        )
        assert counter.count == 1
    assert found == {
        fresh.id: OnboardingProgress(percent=33, completed_steps=[1], total_steps=3, current_step=2),
        done.id: OnboardingProgress(percent=100, completed_steps=[1, 2, 3], total_steps=3, current_step=3),
        walking.id: OnboardingProgress(percent=66, completed_steps=[1, 2], total_steps=3, current_step=3),
    }

    # a step removed after completion, published, and the open runs moved on: the completed run
    # keeps its version's figures; the run on the removed last step goes to the new last one
    async with actors.db() as session:
        await session.execute(text("DELETE FROM onboarding_steps WHERE id = :id"), {"id": onboarding.steps[2].id})
    assert await publish_and_upgrade(actors.db, tenant, onboarding.id) == 1
    async with actors.db() as session:
        after = await progress_of_journeys(session, tenant_id=tenant.id, journey_ids=[done.id, walking.id])
    assert after[done.id] == OnboardingProgress(percent=100, completed_steps=[1, 2, 3], total_steps=3, current_step=3)
    assert after[walking.id] == OnboardingProgress(percent=50, completed_steps=[1], total_steps=2, current_step=2)


async def test_current_step_is_the_step_at_the_runs_order_in_its_version(
    actors: Actors, server: LiveServer, statements: StatementCounter
) -> None:
    tenant = await actors.tenant()
    user, other = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    onboarding = await make_onboarding(actors.db, tenant, steps=2)
    first = await _start(server, tenant, user, onboarding)
    second = await _start(server, tenant, other, onboarding)
    await _progress(server, tenant, other, second.id)
    async with actors.db() as session:
        await session.execute(
            text("UPDATE onboarding_steps SET position = 3 - position WHERE onboarding_id = :id"), {"id": onboarding.id}
        )
    assert await publish_and_upgrade(actors.db, tenant, onboarding.id) == 2  # each stays on its step

    async with actors.db() as session, statements.measure() as counter:
        steps = await current_steps(session, tenant_id=tenant.id, journey_ids=[first.id, second.id])
        journeys = await onboarding_journeys_by_ids(session, tenant_id=tenant.id, ids=[first.id, second.id])
        logs = await logs_of_journeys(session, tenant_id=tenant.id, journey_ids=[first.id, second.id, uuid.uuid4()])
        assert counter.count == 3
    assert {k: (s.id, s.position) if s else None for k, s in steps.items()} == {
        first.id: (onboarding.steps[0].id, 2),
        second.id: (onboarding.steps[1].id, 1),
    }
    assert set(journeys) == {first.id, second.id}
    assert [len(entries) for entries in logs.values()] == [2, 4, 0]

    # the draft losing its steps changes no run (its version keeps them)
    async with actors.db() as session:
        await session.execute(text("DELETE FROM onboarding_steps WHERE onboarding_id = :id"), {"id": onboarding.id})
        kept = await current_steps(session, tenant_id=tenant.id, journey_ids=[first.id])
        foreign = await onboarding_journeys_by_ids(session, tenant_id=uuid.uuid4(), ids=[first.id])
    assert {k: s.id if s else None for k, s in kept.items()} == {first.id: onboarding.steps[0].id}
    assert foreign == {}


async def test_listing_is_newest_first_filtered_and_paged(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    alice, bob = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    one, two = await make_onboarding(actors.db, tenant), await make_onboarding(actors.db, tenant)
    runs = [
        await _start(server, tenant, alice, one),
        await _start(server, tenant, alice, two),
        await _start(server, tenant, bob, one),
    ]
    await run(
        server.runtime.sessions,
        lambda s: suspend_onboarding(s, tenant_id=tenant.id, user_id=bob.id, journey_id=runs[2].id),
    )
    # spread the starts out: run i started i days ago
    async with actors.db() as session:
        for days, journey in enumerate(runs):
            await session.execute(
                text(
                    "UPDATE onboarding_journeys SET started_at = now() - make_interval(days => CAST(:d AS integer)) WHERE id = :id"
                ),
                {"d": days, "id": journey.id},
            )
        found = await onboarding_journeys_by_ids(session, tenant_id=tenant.id, ids=[r.id for r in runs])
        started = {j.id: j.started_at for j in found.values()}

    async def ids(**filters: Any) -> list[uuid.UUID]:
        async with actors.db() as session:
            page = await list_onboarding_journeys(session, tenant_id=tenant.id, first=10, after=None, **filters)
        return [j.id for j in page.items]

    assert await ids() == [runs[0].id, runs[1].id, runs[2].id]
    assert await ids(user_id=alice.id) == [runs[0].id, runs[1].id]
    assert await ids(onboarding_id=one.id) == [runs[0].id, runs[2].id]
    assert await ids(status=SUSPENDED) == [runs[2].id]
    assert await ids(started_from=started[runs[1].id]) == [runs[0].id, runs[1].id]
    assert await ids(started_to=started[runs[1].id]) == [runs[2].id]
    assert await ids(started_from=started[runs[2].id], started_to=started[runs[0].id] - timedelta(hours=1)) == [
        runs[1].id,
        runs[2].id,
    ]
    async with actors.db() as session:
        page = await list_onboarding_journeys(session, tenant_id=tenant.id, first=2, after=None)
        last = page.items[-1]
        rest = await list_onboarding_journeys(session, tenant_id=tenant.id, first=2, after=(last.started_at, last.id))
    assert page.has_next and not rest.has_next
    assert [j.id for j in page.items + rest.items] == [r.id for r in runs]
