"""The onboarding report on a real database: a generated population of runs (statuses,
durations, logs) is inserted directly and the report is checked against figures computed
independently here, for the whole population and a date range; an onboarding without runs;
other onboardings and removed steps left out; and a constant number of statements."""

from __future__ import annotations

import random
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.errors import DomainError, ErrorCode
from app.onboarding.authoring import (
    OnboardingFields,
    StepFields,
    add_step,
    create_onboarding,
    publish_onboarding,
    remove_step,
)
from app.onboarding.models import (
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
    OnboardingStep,
)
from app.onboarding.reads import steps_of_onboardings
from app.onboarding.report import Report, onboarding_report
from app.tenancy.models import Tenant, User
from tests.conftest import Actors, StatementCounter

Status = OnboardingJourneyStatus
OPEN = (Status.ACTIVE, Status.SUSPENDED)
EPOCH = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Run:
    """One generated run and what it logged, as (step id or None, action)."""

    status: Status
    current_step: int
    started_at: datetime
    completed_at: datetime | None
    logs: list[tuple[uuid.UUID | None, str]] = field(default_factory=list)


async def _onboarding(db: Any, tenant: Tenant, steps: int) -> tuple[uuid.UUID, list[OnboardingStep]]:
    async with db() as session:
        onboarding = await create_onboarding(
            session, tenant_id=tenant.id, values=OnboardingFields(slug=f"o-{uuid.uuid4().hex[:8]}", name="Welcome")
        )
        for index in range(steps):
            await add_step(
                session, tenant_id=tenant.id, onboarding_id=onboarding.id, values=StepFields(name=f"Step {index + 1}")
            )
        if steps:
            await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding.id)
        listed = await steps_of_onboardings(session, tenant_id=tenant.id, onboarding_ids=[onboarding.id])
    return onboarding.id, listed[onboarding.id]


def _generate(rng: random.Random, steps: list[OnboardingStep], count: int) -> list[Run]:
    """Runs through ``steps`` as the lifecycle would log them, with some noise: repeated
    'started' logs, free-form actions, and logs of a step removed since (step id None)."""
    runs: list[Run] = []
    last = len(steps)
    for _ in range(count):
        status = rng.choices(list(Status), weights=[3, 2, 4, 3])[0]
        started_at = EPOCH + timedelta(seconds=rng.randrange(0, 30 * 86_400))
        current = last if status is Status.COMPLETED else rng.randint(1, last)
        completed_at = (
            started_at + timedelta(seconds=rng.randrange(30, 5 * 86_400)) if status is Status.COMPLETED else None
        )
        run = Run(status, current, started_at, completed_at)
        for step in steps[:current]:
            run.logs.append((step.id, "started"))
            if rng.random() < 0.1:
                run.logs.append((step.id, "started"))
            if rng.random() < 0.2:
                run.logs.append((step.id, "viewed_video"))
            if step.position < current or status is Status.COMPLETED:
                run.logs.append((step.id, "completed"))
        if status is Status.ABANDONED:
            run.logs.append((steps[current - 1].id, "abandoned"))
        if status is Status.SUSPENDED:
            run.logs.append((steps[current - 1].id, "suspended"))
        if rng.random() < 0.1:
            run.logs.append((None, "started"))
            run.logs.append((None, "completed"))
        runs.append(run)
    return runs


async def _insert(db: Any, tenant: Tenant, onboarding_id: uuid.UUID, runs: list[Run]) -> None:
    """Store the runs (each by its own user, so open runs never collide) and their logs."""
    steps_by_id = {}
    async with db() as session:
        for step in (await steps_of_onboardings(session, tenant_id=tenant.id, onboarding_ids=[onboarding_id]))[
            onboarding_id
        ]:
            steps_by_id[step.id] = step
        users = [User(tenant_id=tenant.id, external_id=f"u-{uuid.uuid4().hex}") for _ in runs]
        session.add_all(users)
        await session.flush()
        journeys = [
            OnboardingJourney(
                tenant_id=tenant.id,
                user_id=user.id,
                onboarding_id=onboarding_id,
                status=run.status,
                current_step=run.current_step,
                started_at=run.started_at,
                completed_at=run.completed_at,
                updated_at=run.completed_at or run.started_at,
            )
            for user, run in zip(users, runs, strict=True)
        ]
        session.add_all(journeys)
        await session.flush()
        session.add_all(
            OnboardingLog(
                tenant_id=tenant.id,
                journey_id=journey.id,
                step_id=step_id,
                step_name=steps_by_id[step_id].name if step_id else "Removed",
                step_order=steps_by_id[step_id].position if step_id else 9,
                action=action,
                logged_at=run.started_at,
            )
            for journey, run in zip(journeys, runs, strict=True)
            for step_id, action in run.logs
        )


def _expected(runs: list[Run], steps: list[OnboardingStep]) -> dict[str, Any]:
    """The report's figures computed straight from the generated runs."""
    by_status = {s: sum(1 for r in runs if r.status is s) for s in Status}
    durations = [
        (r.completed_at - r.started_at).total_seconds()
        for r in runs
        if r.status is Status.COMPLETED and r.completed_at is not None
    ]
    figures = []
    for step in steps:
        reached = [r for r in runs if (step.id, "started") in r.logs]
        completed = [r for r in runs if (step.id, "completed") in r.logs]
        dropped = [
            r
            for r in reached
            if (step.id, "completed") not in r.logs and not (r.status in OPEN and r.current_step == step.position)
        ]
        figures.append((step.id, len(reached), len(completed), len(dropped)))
    return {
        "total": len(runs),
        "active": by_status[Status.ACTIVE],
        "suspended": by_status[Status.SUSPENDED],
        "completed": by_status[Status.COMPLETED],
        "abandoned": by_status[Status.ABANDONED],
        "completion_rate": by_status[Status.COMPLETED] / len(runs) if runs else 0.0,
        "median": statistics.median(durations) if durations else None,
        "average_progress": statistics.fmean(_percent(r, len(steps)) for r in runs) if runs else 0.0,
        "steps": figures,
    }


def _percent(run: Run, steps: int) -> float:
    """A run's percent done as its progress counts it: the steps before the current one."""
    if run.status is Status.COMPLETED:
        return 100.0
    return 100.0 * min(run.current_step - 1, steps) / steps if steps else 0.0


def _figures(report: Report) -> dict[str, Any]:
    return {
        "total": report.total,
        "active": report.active,
        "suspended": report.suspended,
        "completed": report.completed,
        "abandoned": report.abandoned,
        "completion_rate": report.completion_rate,
        "median": report.median_seconds_to_complete,
        "average_progress": report.average_progress,
        "steps": [(f.step.id, f.reached, f.completed, f.drop_off) for f in report.steps],
    }


def _approx(expected: dict[str, Any]) -> dict[str, Any]:
    return {
        **expected,
        "completion_rate": pytest.approx(expected["completion_rate"]),
        "median": None if expected["median"] is None else pytest.approx(expected["median"]),
        "average_progress": pytest.approx(expected["average_progress"]),
    }


async def _report(
    db: Any, tenant: Tenant, onboarding_id: uuid.UUID, start: datetime | None = None, end: datetime | None = None
) -> Report:
    async with db() as session:
        return await onboarding_report(
            session, tenant_id=tenant.id, onboarding_id=onboarding_id, started_from=start, started_to=end
        )


async def test_the_report_matches_figures_computed_from_the_runs(actors: Actors) -> None:
    # given 200 generated runs of a four-step onboarding, and runs of another onboarding
    tenant = await actors.tenant()
    onboarding_id, steps = await _onboarding(actors.db, tenant, 4)
    other_id, other_steps = await _onboarding(actors.db, tenant, 2)
    rng = random.Random(7)
    runs = _generate(rng, steps, 200)
    await _insert(actors.db, tenant, onboarding_id, runs)
    await _insert(actors.db, tenant, other_id, _generate(rng, other_steps, 30))

    # when the report is asked for without a range
    report = await _report(actors.db, tenant, onboarding_id)

    # then every figure matches, steps in order
    expected = _expected(runs, steps)
    assert _figures(report) == _approx(expected)
    assert [f.step.position for f in report.steps] == [1, 2, 3, 4]
    # the population is varied enough for each figure to mean something
    assert min(report.active, report.suspended, report.completed, report.abandoned) > 10
    assert all(f.drop_off > 0 and f.reached > f.completed for f in report.steps)
    assert report.median_seconds_to_complete is not None
    assert 0 < report.completion_rate < 1


async def test_the_report_counts_only_runs_started_in_the_range(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding_id, steps = await _onboarding(actors.db, tenant, 3)
    runs = _generate(random.Random(7), steps, 200)
    # one run exactly at each end: the start is included, the end is not
    start, end = EPOCH + timedelta(days=7), EPOCH + timedelta(days=19)
    runs[0].started_at = start
    runs[1].started_at = end
    await _insert(actors.db, tenant, onboarding_id, runs)

    in_range = [r for r in runs if start <= r.started_at < end]
    report = await _report(actors.db, tenant, onboarding_id, start, end)
    assert _figures(report) == _approx(_expected(in_range, steps))
    assert 0 < report.total < 200

    # either end may be open
    since = await _report(actors.db, tenant, onboarding_id, start, None)
    assert _figures(since) == _approx(_expected([r for r in runs if r.started_at >= start], steps))
    until = await _report(actors.db, tenant, onboarding_id, None, end)
    assert _figures(until) == _approx(_expected([r for r in runs if r.started_at < end], steps))

    # an empty range has no runs
    none = await _report(actors.db, tenant, onboarding_id, end, start)
    assert (none.total, none.completion_rate, none.median_seconds_to_complete) == (0, 0.0, None)


async def test_an_onboarding_without_runs_reports_zeros(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding_id, steps = await _onboarding(actors.db, tenant, 2)
    stepless_id, _ = await _onboarding(actors.db, tenant, 0)

    report = await _report(actors.db, tenant, onboarding_id)
    assert report == Report(
        total=0,
        active=0,
        suspended=0,
        completed=0,
        abandoned=0,
        completion_rate=0.0,
        median_seconds_to_complete=None,
        average_progress=0.0,
        steps=report.steps,
    )
    assert [(f.step.id, f.reached, f.completed, f.drop_off) for f in report.steps] == [
        (steps[0].id, 0, 0, 0),
        (steps[1].id, 0, 0, 0),
    ]
    assert (await _report(actors.db, tenant, stepless_id)).steps == []


async def test_a_median_of_an_even_count_interpolates(actors: Actors) -> None:
    tenant = await actors.tenant()
    onboarding_id, steps = await _onboarding(actors.db, tenant, 1)
    runs = [
        Run(Status.COMPLETED, 1, EPOCH, EPOCH + timedelta(seconds=seconds), [(steps[0].id, "started")])
        for seconds in (10, 20, 40, 1000)
    ]
    await _insert(actors.db, tenant, onboarding_id, runs)
    report = await _report(actors.db, tenant, onboarding_id)
    assert report.median_seconds_to_complete == pytest.approx(30.0)
    assert report.completion_rate == 1.0


async def test_removed_steps_drop_out_of_the_next_version_and_open_runs_count_on_the_step_at_their_order(
    actors: Actors,
) -> None:
    tenant = await actors.tenant()
    onboarding_id, (one, two, three) = await _onboarding(actors.db, tenant, 3)
    runs = [
        # active at order 2: once step 2 is removed, step 3 is the step at that order
        Run(Status.ACTIVE, 2, EPOCH, None, [(one.id, "started"), (one.id, "completed"), (three.id, "started")]),
        # abandoned on step 2, which is removed
        Run(Status.ABANDONED, 2, EPOCH, None, [(one.id, "started"), (one.id, "completed"), (two.id, "started")]),
        # suspended on step 1
        Run(Status.SUSPENDED, 1, EPOCH, None, [(one.id, "started")]),
    ]
    await _insert(actors.db, tenant, onboarding_id, runs)
    async with actors.db() as session:
        await remove_step(session, tenant_id=tenant.id, step_id=two.id)
        await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding_id)
        kept = (
            await session.execute(text("SELECT count(*) FROM onboarding_logs WHERE step_id = :id"), {"id": two.id})
        ).scalar_one()
    assert kept == 1  # the logs keep the removed step's id; the report lists the latest version's steps

    report = await _report(actors.db, tenant, onboarding_id)
    assert [(f.step.id, f.step.position, f.reached, f.completed, f.drop_off) for f in report.steps] == [
        (one.id, 1, 3, 2, 0),
        (three.id, 2, 1, 0, 0),
    ]


async def test_unknown_and_foreign_onboardings_are_not_found(actors: Actors) -> None:
    tenant, other = await actors.tenant(), await actors.tenant()
    onboarding_id, _ = await _onboarding(actors.db, tenant, 1)
    for tenant_id, target in ((other.id, onboarding_id), (tenant.id, uuid.uuid4())):
        async with actors.db() as session:
            with pytest.raises(DomainError) as caught:
                await onboarding_report(
                    session, tenant_id=tenant_id, onboarding_id=target, started_from=None, started_to=None
                )
        assert (caught.value.code, caught.value.field) == (ErrorCode.NOT_FOUND, ("onboardingId",))


async def test_the_report_takes_the_same_statements_for_any_population(
    actors: Actors, statements: StatementCounter
) -> None:
    tenant = await actors.tenant()
    small_id, small_steps = await _onboarding(actors.db, tenant, 2)
    large_id, large_steps = await _onboarding(actors.db, tenant, 8)
    rng = random.Random(7)
    await _insert(actors.db, tenant, small_id, _generate(rng, small_steps, 3))
    await _insert(actors.db, tenant, large_id, _generate(rng, large_steps, 200))

    counts = []
    for onboarding_id in (small_id, large_id):
        async with actors.db() as session:
            async with statements.measure() as counter:
                await onboarding_report(
                    session, tenant_id=tenant.id, onboarding_id=onboarding_id, started_from=None, started_to=None
                )
            counts.append(counter.count)
    assert counts == [2, 2]
