"""Journey progress through the services on a real database: starting runs (and racing to),
transitions and their error codes, events started and completed concurrently, XP awarded
once, schedules shifted by suspensions, and today's events in local days."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, ErrorCode
from app.progress.clock import local_date, resolve_timezone, viewer_local_date, whole_local_days
from app.progress.events import complete_event, start_event
from app.progress.models import EventStatus, InstanceStatus, JourneyInstance, event_instance_id
from app.progress.reads import (
    instance_events,
    journey_logs,
    my_instances,
    progress,
)
from app.progress.service import abandon_journey, resume_journey, start_journey, suspend_journey
from app.progress.today import today_events
from app.tenancy.models import Tenant, User
from tests.conftest import Actors, LiveServer, StatementCounter
from tests.progress_support import (
    PublishedJourney,
    count,
    make_journey,
    make_user,
    outbox_events,
    outbox_types,
    race,
    run,
)

BERLIN = "Europe/Berlin"


async def _start(
    server: LiveServer, tenant: Tenant, user: User, journey: PublishedJourney | uuid.UUID, **kwargs: Any
) -> JourneyInstance:
    journey_id = journey.journey.id if isinstance(journey, PublishedJourney) else journey

    async def unit(session: AsyncSession) -> JourneyInstance:
        return await start_journey(session, viewer_tenant=tenant, user_id=user.id, journey_id=journey_id, **kwargs)

    return await run(server.runtime.sessions, unit)


async def _error(coro: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await coro
    return caught.value


async def _shift_start(db: Any, instance_id: uuid.UUID, days: int) -> None:
    """Pretend the run started ``days`` earlier."""
    async with db() as session:
        await session.execute(
            text(
                "UPDATE journey_instances SET started_on = started_on - CAST(:days AS integer), "
                "started_at = started_at - make_interval(days => CAST(:days AS integer)) WHERE id = :id"
            ),
            {"days": days, "id": instance_id},
        )


# --- starting -------------------------------------------------------------------------------


async def test_start_creates_an_active_run_on_todays_local_day(actors: Actors, server: LiveServer) -> None:
    # given a tenant in Berlin and a published journey
    tenant = await actors.tenant(timezone=BERLIN)
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)

    # when the user starts it with metadata
    instance = await _start(server, tenant, user, journey, metadata={"source": "test"})

    # then the run is ACTIVE, dated in the tenant's zone, logged and announced
    assert instance.status is InstanceStatus.ACTIVE
    assert instance.timezone == BERLIN
    assert instance.started_on == instance.started_at.astimezone(ZoneInfo(BERLIN)).date()
    assert instance.metadata_ == {"source": "test"}
    assert instance.shift_days == 0
    async with actors.db() as session:
        logs = await journey_logs(session, tenant_id=tenant.id, instance_id=instance.id, first=10, after=None)
    assert [(log.action, log.metadata_) for log in logs.items] == [("started", {"source": "test"})]
    started = await outbox_events(actors.db, "journey.started")
    assert started == [
        {
            "instanceId": str(instance.id),
            "journeyId": str(journey.journey.id),
            "journeyVersion": 1,
            "status": "ACTIVE",
            "startedOn": instance.started_on.isoformat(),
        }
    ]


async def test_timezone_comes_from_the_first_of_argument_token_user_tenant_utc(
    actors: Actors, server: LiveServer
) -> None:
    tenant = await actors.tenant(timezone="Asia/Tokyo")
    user = await make_user(actors.db, tenant, timezone="America/New_York")
    journeys = [await make_journey(actors.db, tenant) for _ in range(4)]

    chosen = [
        (
            await _start(server, tenant, user, journeys[0], timezone="Pacific/Kiritimati", token_timezone=BERLIN)
        ).timezone,
        (await _start(server, tenant, user, journeys[1], token_timezone=BERLIN, user_timezone=user.timezone)).timezone,
        (await _start(server, tenant, user, journeys[2], user_timezone=user.timezone)).timezone,
        (await _start(server, tenant, user, journeys[3])).timezone,
    ]

    assert chosen == ["Pacific/Kiritimati", BERLIN, "America/New_York", "Asia/Tokyo"]
    assert resolve_timezone() == "UTC"


async def test_an_unknown_timezone_is_bad_input(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)

    error = await _error(_start(server, tenant, user, journey, timezone="Mars/Olympus_Mons"))

    assert (error.code, error.field) == (ErrorCode.BAD_USER_INPUT, ("timezone",))
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 0


async def test_only_published_journeys_of_the_tenant_can_be_started(actors: Actors, server: LiveServer) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    user = await make_user(actors.db, tenant)
    draft = await make_journey(actors.db, tenant, publish=False)
    foreign = await make_journey(actors.db, other)
    errors = [await _error(_start(server, tenant, user, j)) for j in (draft, foreign, uuid.uuid4())]

    assert [(e.code, e.field) for e in errors] == [(ErrorCode.NOT_FOUND, ("journeyId",))] * 3


async def test_twenty_concurrent_starts_make_exactly_one_run(actors: Actors, server: LiveServer) -> None:
    # given a user and a journey
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)

    # when twenty requests start it at once
    async def unit(session: AsyncSession) -> JourneyInstance:
        return await start_journey(session, viewer_tenant=tenant, user_id=user.id, journey_id=journey.journey.id)

    results = await race(server.runtime.sessions, unit)

    # then one succeeds and nineteen are ALREADY_ACTIVE, with nothing half-written
    started = [r for r in results if isinstance(r, JourneyInstance)]
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(started) == 1
    assert [e.code for e in errors] == [ErrorCode.ALREADY_ACTIVE] * 19
    assert await count(actors.db, "SELECT count(*) FROM journey_instances") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs") == 1
    assert await outbox_types(actors.db) == ["journey.started"]


async def test_restart_after_completed_or_abandoned_makes_a_new_run(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)
    factory = server.runtime.sessions
    first = await _start(server, tenant, user, journey)

    # a suspended run still blocks a new start
    await run(factory, lambda s: suspend_journey(s, tenant_id=tenant.id, user_id=user.id, instance_id=first.id))
    assert (await _error(_start(server, tenant, user, journey))).code is ErrorCode.ALREADY_ACTIVE

    # an abandoned one does not
    await run(factory, lambda s: abandon_journey(s, tenant_id=tenant.id, user_id=user.id, instance_id=first.id))
    second = await _start(server, tenant, user, journey)
    assert second.id != first.id

    # nor does a completed one
    await run(
        factory,
        lambda s: complete_event(
            s, tenant=tenant, user_id=user.id, instance_id=second.id, journey_event_id=journey.events[0].id
        ),
    )
    third = await _start(server, tenant, user, journey)
    assert len({first.id, second.id, third.id}) == 3
    async with actors.db() as session:
        page = await my_instances(session, tenant_id=tenant.id, user_id=user.id, first=10, after=None)
    assert [(i.id, i.status) for i in page.items] == [
        (third.id, InstanceStatus.ACTIVE),
        (second.id, InstanceStatus.COMPLETED),
        (first.id, InstanceStatus.ABANDONED),
    ]


# --- transitions ----------------------------------------------------------------------------


async def test_transitions_follow_the_table_and_refuse_the_rest(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)
    instance = await _start(server, tenant, user, journey)
    factory = server.runtime.sessions
    ids = {"tenant_id": tenant.id, "user_id": user.id, "instance_id": instance.id}

    async def code_of(action: Any) -> ErrorCode:
        return (await _error(run(factory, lambda s: action(s, **ids)))).code

    # ACTIVE: resume is refused
    assert await code_of(resume_journey) is ErrorCode.NOT_SUSPENDED
    # ACTIVE -> SUSPENDED, and not twice
    suspended = await run(factory, lambda s: suspend_journey(s, **ids, metadata={"why": "holiday"}))
    assert suspended.status is InstanceStatus.SUSPENDED and suspended.suspended_at is not None
    assert await code_of(suspend_journey) is ErrorCode.NOT_ACTIVE
    # SUSPENDED: events cannot be started or completed
    event_id = journey.events[0].id
    assert (
        await _error(run(factory, lambda s: start_event(s, **ids, journey_event_id=event_id)))
    ).code is ErrorCode.NOT_ACTIVE
    assert (
        await _error(
            run(
                factory,
                lambda s: complete_event(
                    s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event_id
                ),
            )
        )
    ).code is ErrorCode.NOT_ACTIVE
    # SUSPENDED -> ACTIVE -> SUSPENDED -> ABANDONED
    resumed = await run(factory, lambda s: resume_journey(s, **ids))
    assert resumed.status is InstanceStatus.ACTIVE and resumed.suspended_at is None
    await run(factory, lambda s: suspend_journey(s, **ids))
    abandoned = await run(factory, lambda s: abandon_journey(s, **ids, metadata={"why": "bored"}))
    assert abandoned.status is InstanceStatus.ABANDONED and abandoned.ended_at is not None
    # ABANDONED: nothing more
    assert await code_of(suspend_journey) is ErrorCode.NOT_ACTIVE
    assert await code_of(resume_journey) is ErrorCode.NOT_SUSPENDED
    assert await code_of(abandon_journey) is ErrorCode.NOT_ACTIVE

    async with actors.db() as session:
        logs = await journey_logs(session, tenant_id=tenant.id, instance_id=instance.id, first=3, after=None)
        rest = await journey_logs(
            session, tenant_id=tenant.id, instance_id=instance.id, first=10, after=(logs.items[-1].id,)
        )
    assert logs.has_next and not rest.has_next
    assert [(log.action, log.metadata_) for log in logs.items + rest.items] == [
        ("started", {}),
        ("suspended", {"why": "holiday"}),
        ("resumed", {}),
        ("suspended", {}),
        ("abandoned", {"why": "bored"}),
    ]
    assert await outbox_types(actors.db) == [
        "journey.started",
        "journey.suspended",
        "journey.resumed",
        "journey.suspended",
        "journey.abandoned",
    ]


async def test_another_users_or_tenants_run_is_not_found(actors: Actors, server: LiveServer) -> None:
    tenant, other_tenant = await actors.tenant(), await actors.tenant()
    owner, stranger = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)
    instance = await _start(server, tenant, owner, journey)
    factory = server.runtime.sessions
    event_id = journey.events[0].id

    attempts: list[Any] = [
        lambda s: suspend_journey(s, tenant_id=tenant.id, user_id=stranger.id, instance_id=instance.id),
        lambda s: resume_journey(s, tenant_id=tenant.id, user_id=stranger.id, instance_id=instance.id),
        lambda s: abandon_journey(s, tenant_id=tenant.id, user_id=stranger.id, instance_id=instance.id),
        lambda s: start_event(
            s, tenant_id=tenant.id, user_id=stranger.id, instance_id=instance.id, journey_event_id=event_id
        ),
        lambda s: complete_event(
            s, tenant=tenant, user_id=stranger.id, instance_id=instance.id, journey_event_id=event_id
        ),
        lambda s: suspend_journey(s, tenant_id=other_tenant.id, user_id=owner.id, instance_id=instance.id),
        lambda s: suspend_journey(s, tenant_id=tenant.id, user_id=owner.id, instance_id=uuid.uuid4()),
    ]
    errors = [await _error(run(factory, attempt)) for attempt in attempts]

    assert [(e.code, e.field) for e in errors] == [(ErrorCode.NOT_FOUND, ("instanceId",))] * len(attempts)
    async with actors.db() as session:
        assert (await session.get(JourneyInstance, instance.id)).status is InstanceStatus.ACTIVE  # type: ignore[union-attr]


# --- events ---------------------------------------------------------------------------------


async def test_twenty_concurrent_event_starts_create_one_row_with_one_id(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[0, None])
    instance = await _start(server, tenant, user, journey)
    event = journey.events[1]

    async def unit(session: AsyncSession) -> Any:
        return await start_event(
            session, tenant_id=tenant.id, user_id=user.id, instance_id=instance.id, journey_event_id=event.id
        )

    results = await race(server.runtime.sessions, unit)

    assert {r.id for r in results} == {event_instance_id(instance.id, event.id)}
    assert {r.status for r in results} == {EventStatus.IN_PROGRESS}
    assert len({r.started_at for r in results}) == 1
    assert await count(actors.db, "SELECT count(*) FROM event_instances") == 1
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'event_started'") == 1
    assert (await outbox_types(actors.db)).count("event.started") == 1


async def test_an_event_of_another_journey_is_not_found(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey, other = await make_journey(actors.db, tenant), await make_journey(actors.db, tenant)
    instance = await _start(server, tenant, user, journey)
    factory = server.runtime.sessions

    for event_id in (other.events[0].id, uuid.uuid4()):
        started = await _error(
            run(
                factory,
                lambda s, e=event_id: start_event(
                    s, tenant_id=tenant.id, user_id=user.id, instance_id=instance.id, journey_event_id=e
                ),
            )
        )
        completed = await _error(
            run(
                factory,
                lambda s, e=event_id: complete_event(
                    s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=e
                ),
            )
        )
        assert (started.code, started.field) == (ErrorCode.NOT_FOUND, ("journeyEventId",))
        assert (completed.code, completed.field) == (ErrorCode.NOT_FOUND, ("journeyEventId",))


async def test_twenty_concurrent_completions_award_the_events_xp_once(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[0, 1], event_xp=30, xp_reward=500)
    instance = await _start(server, tenant, user, journey)
    event = journey.events[0]

    async def unit(session: AsyncSession) -> Any:
        return await complete_event(
            session, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event.id
        )

    results = await race(server.runtime.sessions, unit)

    assert all(not isinstance(r, DomainError) for r in results)
    assert sorted(r.xp_awarded for r in results) == [0] * 19 + [30]
    assert {r.event_instance.status for r in results} == {EventStatus.COMPLETED}
    assert {r.instance.status for r in results} == {InstanceStatus.ACTIVE}
    assert await count(actors.db, "SELECT count(*) FROM xp_entries") == 1
    assert await count(actors.db, "SELECT sum(amount) FROM xp_entries") == 30
    assert await count(actors.db, "SELECT count(*) FROM journey_logs WHERE action = 'event_completed'") == 1
    types = await outbox_types(actors.db)
    assert (types.count("event.completed"), types.count("xp.awarded")) == (1, 1)


async def test_completing_the_last_two_events_at_once_completes_the_run_once(
    actors: Actors, server: LiveServer
) -> None:
    # given a run with two events of 10 XP and a journey worth 100 XP
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[0, 0], event_xp=10, xp_reward=100)
    instance = await _start(server, tenant, user, journey)

    # when both events are completed at once, several times over
    def completion(event_id: uuid.UUID) -> Any:
        return lambda s: complete_event(
            s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event_id
        )

    results = await asyncio.gather(
        *(run(server.runtime.sessions, completion(journey.events[i % 2].id)) for i in range(10))
    )

    # then the run completed once and the journey's XP came once
    assert sum(r.xp_awarded for r in results) == 120
    assert sorted(r.xp_awarded for r in results) == [0] * 8 + [10, 110]
    finisher = next(r for r in results if r.xp_awarded == 110)
    assert finisher.instance.status is InstanceStatus.COMPLETED
    assert (finisher.level_before, finisher.level_after) == (1, 2)
    assert (
        await count(actors.db, "SELECT count(*) FROM xp_entries WHERE idempotency_key = :k", k=f"journey:{instance.id}")
        == 1
    )
    assert await count(actors.db, "SELECT sum(amount) FROM xp_entries") == 120
    types = await outbox_types(actors.db)
    assert (types.count("journey.completed"), types.count("event.completed"), types.count("level.up")) == (1, 2, 1)
    async with actors.db() as session:
        stored = await session.get(JourneyInstance, instance.id)
        assert stored is not None and stored.status is InstanceStatus.COMPLETED
        assert stored.completed_at is not None and stored.ended_at == stored.completed_at
        done = await progress(session, tenant_id=tenant.id, instance_ids=[instance.id])
    assert (done[instance.id].completed_events, done[instance.id].total_events, done[instance.id].percent) == (
        2,
        2,
        100,
    )


async def test_repeating_a_completion_on_a_completed_run_changes_nothing(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[None], event_xp=150, xp_reward=50)
    instance = await _start(server, tenant, user, journey)
    factory = server.runtime.sessions
    event_id = journey.events[0].id

    def completion(s: AsyncSession) -> Any:
        return complete_event(s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event_id)

    first = await run(factory, completion)
    again = await run(factory, completion)
    restarted = await run(
        factory,
        lambda s: start_event(
            s, tenant_id=tenant.id, user_id=user.id, instance_id=instance.id, journey_event_id=event_id
        ),
    )

    assert (first.xp_awarded, first.level_before, first.level_after) == (200, 1, 2)
    assert first.instance.status is InstanceStatus.COMPLETED
    assert (again.xp_awarded, again.level_before, again.level_after, again.rewards_unlocked) == (0, 2, 2, [])
    assert (again.event_instance.id, again.event_instance.status, again.event_instance.completed_at) == (
        first.event_instance.id,
        EventStatus.COMPLETED,
        first.event_instance.completed_at,
    )
    assert restarted.status is EventStatus.COMPLETED
    assert await count(actors.db, "SELECT count(*) FROM journey_logs") == 3  # started, event_completed, completed


async def test_completing_without_starting_sets_both_times_and_keeps_an_earlier_start(
    actors: Actors, server: LiveServer
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[0, 0])
    instance = await _start(server, tenant, user, journey)
    factory = server.runtime.sessions
    a, b = journey.events

    started = await run(
        factory,
        lambda s: start_event(s, tenant_id=tenant.id, user_id=user.id, instance_id=instance.id, journey_event_id=a.id),
    )
    done_a = await run(
        factory,
        lambda s: complete_event(s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=a.id),
    )
    done_b = await run(
        factory,
        lambda s: complete_event(s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=b.id),
    )

    assert done_a.event_instance.started_at == started.started_at
    assert done_a.event_instance.completed_at is not None and done_a.event_instance.completed_at > started.started_at  # type: ignore[operator]
    assert done_b.event_instance.started_at == done_b.event_instance.completed_at
    assert (done_b.xp_awarded, done_b.instance.status) == (0, InstanceStatus.COMPLETED)


# --- listing --------------------------------------------------------------------------------


async def test_instance_events_list_every_event_with_its_status_in_one_query(
    actors: Actors, server: LiveServer, statements: StatementCounter
) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    first_journey = await make_journey(actors.db, tenant, offsets=[0, 1, None, 2])
    second_journey = await make_journey(actors.db, tenant, offsets=[None, 3])
    one = await _start(server, tenant, user, first_journey)
    two = await _start(server, tenant, user, second_journey)
    factory = server.runtime.sessions
    e = first_journey.events
    await run(
        factory,
        lambda s: start_event(s, tenant_id=tenant.id, user_id=user.id, instance_id=one.id, journey_event_id=e[1].id),
    )
    await run(
        factory,
        lambda s: complete_event(s, tenant=tenant, user_id=user.id, instance_id=one.id, journey_event_id=e[2].id),
    )

    async with actors.db() as session:
        async with statements.measure() as counter:
            everything = await instance_events(session, tenant_id=tenant.id, instance_ids=[one.id, two.id])
        assert counter.count == 1
        paged = await instance_events(session, tenant_id=tenant.id, instance_ids=[one.id, two.id], first=2)
        after = await instance_events(session, tenant_id=tenant.id, instance_ids=[one.id], first=2, after_position=2)
        not_started = await instance_events(
            session, tenant_id=tenant.id, instance_ids=[one.id], status=EventStatus.NOT_STARTED
        )
        counts = await progress(session, tenant_id=tenant.id, instance_ids=[one.id, two.id, uuid.uuid4()])

    listed = everything[one.id].items
    assert [(s.position, s.status) for s in listed] == [
        (1, EventStatus.NOT_STARTED),
        (2, EventStatus.IN_PROGRESS),
        (3, EventStatus.COMPLETED),
        (4, EventStatus.NOT_STARTED),
    ]
    assert [s.id for s in listed] == [event_instance_id(one.id, ev.id) for ev in e]
    assert [s.scheduled_on for s in listed] == [
        one.started_on,
        one.started_on + timedelta(days=1),
        None,
        one.started_on + timedelta(days=2),
    ]
    assert [s.position for s in everything[two.id].items] == [1, 2]
    assert [(len(p.items), p.has_next) for p in paged.values()] == [(2, True), (2, False)]
    assert [s.position for s in after[one.id].items] == [3, 4] and not after[one.id].has_next
    assert [s.position for s in not_started[one.id].items] == [1, 4]
    assert [(p.completed_events, p.total_events, p.percent) for p in counts.values()] == [
        (1, 4, 25),
        (0, 2, 0),
        (0, 0, 0),
    ]


async def test_my_instances_pages_newest_first_and_filters_by_status(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user, other = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    journeys = [await make_journey(actors.db, tenant) for _ in range(3)]
    runs = [await _start(server, tenant, user, j) for j in journeys]
    await _start(server, tenant, other, journeys[0])
    await run(
        server.runtime.sessions,
        lambda s: suspend_journey(s, tenant_id=tenant.id, user_id=user.id, instance_id=runs[1].id),
    )

    async with actors.db() as session:
        page = await my_instances(session, tenant_id=tenant.id, user_id=user.id, first=2, after=None)
        last = page.items[-1]
        rest = await my_instances(
            session, tenant_id=tenant.id, user_id=user.id, first=2, after=(last.started_at, last.id)
        )
        suspended = await my_instances(
            session, tenant_id=tenant.id, user_id=user.id, status=InstanceStatus.SUSPENDED, first=10, after=None
        )

    assert [i.id for i in page.items + rest.items] == [runs[2].id, runs[1].id, runs[0].id]
    assert (page.has_next, rest.has_next) == (True, False)
    assert [i.id for i in suspended.items] == [runs[1].id]


# --- schedules, today, local days -----------------------------------------------------------


async def test_today_lists_due_and_overdue_then_unscheduled_leaving_out_future_and_completed(
    actors: Actors, server: LiveServer
) -> None:
    # given an older run started three days ago ...
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    older_journey = await make_journey(actors.db, tenant, offsets=[None, 3, 0, 5, 1, None, 0])
    older = await _start(server, tenant, user, older_journey)
    await _shift_start(actors.db, older.id, 3)
    # ... a newer run started today, one with nothing due, and a suspended one
    newer_journey = await make_journey(actors.db, tenant, offsets=[1, 0])
    newer = await _start(server, tenant, user, newer_journey)
    idle = await _start(server, tenant, user, await make_journey(actors.db, tenant, offsets=[4]))
    paused = await _start(server, tenant, user, await make_journey(actors.db, tenant, offsets=[0]))
    factory = server.runtime.sessions
    await run(factory, lambda s: suspend_journey(s, tenant_id=tenant.id, user_id=user.id, instance_id=paused.id))
    # the older run's position 7 is done, position 1 is in progress
    ev = older_journey.events
    await run(
        factory,
        lambda s: complete_event(s, tenant=tenant, user_id=user.id, instance_id=older.id, journey_event_id=ev[6].id),
    )
    await run(
        factory,
        lambda s: start_event(s, tenant_id=tenant.id, user_id=user.id, instance_id=older.id, journey_event_id=ev[0].id),
    )
    today = older.started_on  # the day both runs really started (the older one was then moved back)

    async with actors.db() as session:
        groups = await today_events(session, tenant_id=tenant.id, user_id=user.id, local_date=today)

    # then: older first; due/overdue by position (2: day 3 = today, 3: day 0, 5: day 1), then unscheduled (1, 6)
    assert [g.instance.id for g in groups] == [older.id, newer.id]
    assert [g.journey.id for g in groups] == [older_journey.journey.id, newer_journey.journey.id]
    assert [(s.position, s.status) for s in groups[0].events] == [
        (2, EventStatus.NOT_STARTED),
        (3, EventStatus.NOT_STARTED),
        (5, EventStatus.NOT_STARTED),
        (1, EventStatus.IN_PROGRESS),
        (6, EventStatus.NOT_STARTED),
    ]
    assert [s.scheduled_on for s in groups[0].events] == [
        today,
        today - timedelta(days=3),
        today - timedelta(days=2),
        None,
        None,
    ]
    assert [s.position for s in groups[1].events] == [2]
    assert idle.id not in {g.instance.id for g in groups}
    # a later day brings the newer run's day-1 event and the older run's day-5 one
    async with actors.db() as session:
        later = await today_events(session, tenant_id=tenant.id, user_id=user.id, local_date=today + timedelta(days=2))
    assert [s.position for s in later[0].events] == [2, 3, 4, 5, 1, 6]
    assert [s.position for s in later[1].events] == [1, 2]


async def test_resume_moves_unfinished_events_by_whole_local_days_suspended(actors: Actors, server: LiveServer) -> None:
    # given a run whose first event is done and second is due tomorrow
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[0, 1, None])
    instance = await _start(server, tenant, user, journey, timezone=BERLIN)
    factory = server.runtime.sessions
    ids = {"tenant_id": tenant.id, "user_id": user.id, "instance_id": instance.id}
    first_event = journey.events[0].id
    await run(
        factory,
        lambda s: complete_event(
            s, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=first_event
        ),
    )
    await run(factory, lambda s: suspend_journey(s, **ids))

    # when it was suspended three days and five hours ago, then resumed
    async with actors.db() as session:
        await session.execute(
            text("UPDATE journey_instances SET suspended_at = now() - interval '3 days 5 hours' WHERE id = :id"),
            {"id": instance.id},
        )
    resumed = await run(factory, lambda s: resume_journey(s, **ids))

    # then the schedule moved three whole days; the completed event stays where it was done
    assert resumed.shift_days == 3
    async with actors.db() as session:
        states = (await instance_events(session, tenant_id=tenant.id, instance_ids=[instance.id]))[instance.id].items
        due_later = await today_events(
            session, tenant_id=tenant.id, user_id=user.id, local_date=instance.started_on + timedelta(days=3)
        )
        due_then = await today_events(
            session, tenant_id=tenant.id, user_id=user.id, local_date=instance.started_on + timedelta(days=4)
        )
    assert [s.scheduled_on for s in states] == [instance.started_on, instance.started_on + timedelta(days=4), None]
    assert [s.position for s in due_later[0].events] == [3]
    assert [s.position for s in due_then[0].events] == [2, 3]
    resumed_events = await outbox_events(actors.db, "journey.resumed")
    assert (resumed_events[0]["shiftedDays"], resumed_events[0]["shiftDays"]) == (3, 3)

    # a second suspension of less than a day adds nothing
    await run(factory, lambda s: suspend_journey(s, **ids))
    async with actors.db() as session:
        await session.execute(
            text("UPDATE journey_instances SET suspended_at = now() - interval '23 hours' WHERE id = :id"),
            {"id": instance.id},
        )
    assert (await run(factory, lambda s: resume_journey(s, **ids))).shift_days == 3


async def test_one_instant_is_a_different_day_in_kiritimati_and_pago_pago(actors: Actors, server: LiveServer) -> None:
    # UTC+14 and UTC-11: 25 hours apart, so never the same local day.
    instant = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    assert local_date("Pacific/Kiritimati", instant) == date(2026, 1, 2)
    assert local_date("Pacific/Pago_Pago", instant) == date(2025, 12, 31)
    assert viewer_local_date(token_timezone="Pacific/Kiritimati", at=instant) == date(2026, 1, 2)
    assert viewer_local_date(requested=date(2020, 5, 5), token_timezone="Pacific/Kiritimati") == date(2020, 5, 5)

    # runs started together in each zone are dated on each zone's day
    tenant = await actors.tenant()
    east, west = await make_user(actors.db, tenant), await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[0])
    early = await _start(server, tenant, east, journey, timezone="Pacific/Kiritimati")
    late = await _start(server, tenant, west, journey, timezone="Pacific/Pago_Pago")
    assert early.started_on - late.started_on in {timedelta(days=1), timedelta(days=2)}
    assert early.started_on == early.started_at.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    assert late.started_on == late.started_at.astimezone(ZoneInfo("Pacific/Pago_Pago")).date()

    # on Pago Pago's day, the Kiritimati run's day-0 event is not due yet
    async with actors.db() as session:
        for_east = await today_events(session, tenant_id=tenant.id, user_id=east.id, local_date=late.started_on)
        for_west = await today_events(session, tenant_id=tenant.id, user_id=west.id, local_date=late.started_on)
    assert for_east == []
    assert [s.position for s in for_west[0].events] == [1]


async def test_a_dst_change_day_is_one_local_day(actors: Actors, server: LiveServer) -> None:
    berlin = ZoneInfo(BERLIN)
    saturday_noon = datetime(2026, 3, 28, 12, 0, tzinfo=berlin)
    sunday_noon = datetime(2026, 3, 29, 12, 0, tzinfo=berlin)  # clocks went forward at 02:00
    assert sunday_noon - saturday_noon == timedelta(hours=24)  # aware arithmetic within one zone is wall time
    assert sunday_noon.astimezone(UTC) - saturday_noon.astimezone(UTC) == timedelta(hours=23)
    assert whole_local_days(saturday_noon.astimezone(UTC), sunday_noon.astimezone(UTC), BERLIN) == 1
    assert whole_local_days(saturday_noon, datetime(2026, 3, 29, 11, 59, tzinfo=berlin), BERLIN) == 0
    # autumn: 25 real hours from Saturday noon to Sunday noon is still one day
    assert (
        whole_local_days(
            datetime(2026, 10, 24, 12, 0, tzinfo=berlin).astimezone(UTC),
            datetime(2026, 10, 25, 12, 0, tzinfo=berlin),
            BERLIN,
        )
        == 1
    )
    # the local day flips at local midnight, whatever the offset that day
    assert local_date(BERLIN, datetime(2026, 3, 28, 22, 59, tzinfo=UTC)) == date(2026, 3, 28)
    assert local_date(BERLIN, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)) == date(2026, 3, 29)
    assert local_date(BERLIN, datetime(2026, 3, 29, 21, 59, tzinfo=UTC)) == date(2026, 3, 29)
    assert local_date(BERLIN, datetime(2026, 3, 29, 22, 0, tzinfo=UTC)) == date(2026, 3, 30)

    # a run that started in Berlin on the Saturday has its day-1 event due on the DST Sunday
    tenant = await actors.tenant(timezone=BERLIN)
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant, offsets=[1])
    instance = await _start(server, tenant, user, journey)
    async with actors.db() as session:
        await session.execute(
            text("UPDATE journey_instances SET started_on = :day, started_at = :at WHERE id = :id"),
            {"day": date(2026, 3, 28), "at": saturday_noon, "id": instance.id},
        )
        saturday = await today_events(session, tenant_id=tenant.id, user_id=user.id, local_date=date(2026, 3, 28))
        sunday = await today_events(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            local_date=local_date(BERLIN, datetime(2026, 3, 28, 23, 30, tzinfo=UTC)),
        )
    assert saturday == []
    assert [s.scheduled_on for s in sunday[0].events] == [date(2026, 3, 29)]


async def test_metadata_over_16_kib_is_bad_input(actors: Actors, server: LiveServer) -> None:
    tenant = await actors.tenant()
    user = await make_user(actors.db, tenant)
    journey = await make_journey(actors.db, tenant)

    error = await _error(_start(server, tenant, user, journey, metadata={"blob": "x" * 17_000}))

    assert (error.code, error.field) == (ErrorCode.BAD_USER_INPUT, ("metadata",))
