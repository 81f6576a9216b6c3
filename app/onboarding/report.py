"""The admin report on an onboarding: how its runs went, overall and step by step.

Everything is aggregated in SQL (three statements whatever the number of runs); no run is
loaded into Python.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, func, not_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import NotFound
from app.onboarding.models import OnboardingJourney, OnboardingJourneyStatus, OnboardingLog, OnboardingStep
from app.onboarding.reads import get_onboarding

OPEN_STATUSES = (OnboardingJourneyStatus.ACTIVE, OnboardingJourneyStatus.SUSPENDED)


@dataclass(frozen=True)
class StepFigures:
    """How the runs in the report's range went on one step (see ``onboarding_report``)."""

    step: OnboardingStep
    reached: int
    completed: int
    drop_off: int


@dataclass(frozen=True)
class Report:
    """How the runs of an onboarding started in a range went."""

    total: int
    active: int
    suspended: int
    completed: int
    abandoned: int
    completion_rate: float
    median_seconds_to_complete: float | None
    steps: list[StepFigures]


def _runs_in_range(
    tenant_id: uuid.UUID, onboarding_id: uuid.UUID, started_from: datetime | None, started_to: datetime | None
) -> list[ColumnElement[bool]]:
    conditions = [
        col(OnboardingJourney.tenant_id) == tenant_id,
        col(OnboardingJourney.onboarding_id) == onboarding_id,
    ]
    if started_from is not None:
        conditions.append(col(OnboardingJourney.started_at) >= started_from)
    if started_to is not None:
        conditions.append(col(OnboardingJourney.started_at) < started_to)
    return conditions


async def onboarding_report(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    onboarding_id: uuid.UUID,
    started_from: datetime | None,
    started_to: datetime | None,
) -> Report:
    """The figures of an onboarding's runs whose ``started_at`` is in ``[started_from,
    started_to)`` (either end open when None).

    - ``total`` and the counts by status; ``completion_rate`` = completed / total (0 when
      there are no runs); ``median_seconds_to_complete`` = the median (``percentile_cont(0.5)``)
      of ``completed_at - started_at`` over COMPLETED runs, None when there are none.
    - Per step the onboarding has now, in order: ``reached`` = runs that logged ``started``
      for that step; ``completed`` = runs that logged ``completed`` for it; ``drop_off`` =
      runs that reached it but neither completed it nor are still ACTIVE or SUSPENDED on it
      (their ``current_step`` is that step's order), i.e. reached - completed - still open
      there. Each run counts once per figure however many logs it has; logs of removed steps
      (``step_id`` null) count for no step.

    ``NotFound`` (on ``onboardingId``) when the tenant has no such onboarding.
    """
    if await get_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id) is None:
        raise NotFound("Onboarding", field=["onboardingId"])
    in_range = _runs_in_range(tenant_id, onboarding_id, started_from, started_to)
    status = col(OnboardingJourney.status)
    seconds = cast(
        func.extract("epoch", col(OnboardingJourney.completed_at) - col(OnboardingJourney.started_at)), Float
    )
    done = status == OnboardingJourneyStatus.COMPLETED
    totals = (
        await session.execute(
            sa_select(
                func.count(),
                func.count().filter(status == OnboardingJourneyStatus.ACTIVE),
                func.count().filter(status == OnboardingJourneyStatus.SUSPENDED),
                func.count().filter(done),
                func.count().filter(status == OnboardingJourneyStatus.ABANDONED),
                func.percentile_cont(0.5).within_group(seconds).filter(done),
            ).where(*in_range)
        )
    ).one()
    total, active, suspended, completed, abandoned, median = totals
    return Report(
        total=total,
        active=active,
        suspended=suspended,
        completed=completed,
        abandoned=abandoned,
        completion_rate=completed / total if total else 0.0,
        median_seconds_to_complete=float(median) if median is not None else None,
        steps=await _step_figures(session, tenant_id=tenant_id, onboarding_id=onboarding_id, in_range=in_range),
    )


async def _step_figures(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, in_range: list[ColumnElement[bool]]
) -> list[StepFigures]:
    # One row per (step, run in range) with what the run logged for that step.
    action = col(OnboardingLog.action)
    per_run = (
        sa_select(
            col(OnboardingLog.step_id).label("step_id"),
            col(OnboardingJourney.status).label("status"),
            col(OnboardingJourney.current_step).label("current_step"),
            func.bool_or(action == "started").label("reached"),
            func.bool_or(action == "completed").label("completed"),
        )
        .join_from(OnboardingJourney, OnboardingLog, col(OnboardingLog.journey_id) == col(OnboardingJourney.id))
        .where(*in_range, col(OnboardingLog.step_id).is_not(None))
        .group_by(col(OnboardingLog.step_id), col(OnboardingJourney.id))
        .subquery("per_run")
    )
    open_here = and_(per_run.c.status.in_(OPEN_STATUSES), per_run.c.current_step == col(OnboardingStep.position))
    rows = await session.execute(
        sa_select(
            OnboardingStep,
            func.count().filter(per_run.c.reached),
            func.count().filter(per_run.c.completed),
            func.count().filter(and_(per_run.c.reached, not_(per_run.c.completed), not_(open_here))),
        )
        .outerjoin(per_run, per_run.c.step_id == col(OnboardingStep.id))
        .where(col(OnboardingStep.tenant_id) == tenant_id, col(OnboardingStep.onboarding_id) == onboarding_id)
        .group_by(col(OnboardingStep.id))
        .order_by(col(OnboardingStep.position))
    )
    figures: list[Any] = list(rows)
    return [
        StepFigures(step=step, reached=reached, completed=completed, drop_off=drop)
        for step, reached, completed, drop in figures
    ]
