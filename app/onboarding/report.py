"""The admin report on onboardings: how their runs went, overall and step by step.

Computed by app/reports/runs.py like the journey report: two statements for one onboarding,
one for the whole tenant, whatever the number of runs; no run is loaded into Python.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from app.errors import NotFound
from app.onboarding.models import OnboardingLog, OnboardingStepVersion
from app.onboarding.versions import ONBOARDINGS
from app.reports.runs import COMPLETED, OPEN, RunFigures, item_figures, percent, run_figures, sized_runs, started_in
from app.versions.kinds import table_of

LOGS = table_of(OnboardingLog)


@dataclass(frozen=True)
class StepFigures:
    """How the runs in the report's range went on one step (see ``onboarding_report``)."""

    step: OnboardingStepVersion
    reached: int
    completed: int
    drop_off: int


@dataclass(frozen=True)
class Report(RunFigures):
    """How the runs of an onboarding (or of all the tenant's) started in a range went."""

    steps: list[StepFigures]


def _progress(items: ColumnElement[int]) -> ColumnElement[float]:
    # As a run's own `progress.percent` counts (app/onboarding/reads.py): the steps before the
    # current one are done, every step once COMPLETED; here not rounded down.
    runs = ONBOARDINGS.runs
    return case((runs.c.status == COMPLETED, 100.0), else_=percent(func.least(runs.c.current_step - 1, items), items))


def _runs_on_steps(in_range: list[ColumnElement[bool]]) -> Subquery:
    # One row per (step, run in range) with what the run logged for that step; logs of removed
    # steps (step_id null) count for no step.
    runs, action = ONBOARDINGS.runs, LOGS.c.action
    return (
        select(
            LOGS.c.step_id.label("item_id"),
            runs.c.status.label("status"),
            runs.c.current_step.label("current_step"),
            func.bool_or(action == "started").label("reached"),
            func.bool_or(action == "completed").label("completed"),
        )
        .join_from(runs, LOGS, LOGS.c.journey_id == runs.c.id)
        .where(*in_range, LOGS.c.step_id.is_not(None))
        .group_by(LOGS.c.step_id, runs.c.id)
        .subquery("per_run")
    )


async def onboarding_report(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    onboarding_id: uuid.UUID | None,
    started_from: datetime | None,
    started_to: datetime | None,
) -> Report:
    """The figures of an onboarding's runs (of all the tenant's runs when ``onboarding_id`` is
    None) whose ``started_at`` is in ``[started_from, started_to)`` (either end open when None).

    - ``total`` and the counts by status, ``completion_rate``, ``median_seconds_to_complete``
      and ``average_progress`` (app/reports/runs.py); a run's percent is that of its own
      version's steps: 100 once COMPLETED, else the steps before its current one.
    - Per step of the onboarding's latest version, in order (none for the whole tenant):
      ``reached`` = runs that logged ``started`` for that step; ``completed`` = runs that
      logged ``completed`` for it; ``drop_off`` = runs that reached it but neither completed it
      nor are still ACTIVE or SUSPENDED on it (their ``current_step`` is that step's order),
      i.e. reached - completed - still open there. Each run counts once per figure however
      many logs it has, on whichever version it is.

    ``NotFound`` (on ``onboardingId``) when the tenant has no such onboarding.
    """
    in_range = started_in(
        ONBOARDINGS,
        tenant_id=tenant_id,
        definition_id=onboarding_id,
        started_from=started_from,
        started_to=started_to,
    )
    steps: list[StepFigures] = []
    if onboarding_id is not None:
        per_run = _runs_on_steps(in_range)
        figures = await item_figures(
            session,
            ONBOARDINGS,
            tenant_id=tenant_id,
            definition_id=onboarding_id,
            per_run=per_run,
            still_open=lambda step: and_(per_run.c.status.in_(OPEN), per_run.c.current_step == step.c.position),
        )
        if figures is None:
            raise NotFound("Onboarding", field=["onboardingId"])
        steps = [StepFigures(step=s, reached=r, completed=c, drop_off=d) for s, r, c, d in figures]
    sized, items = sized_runs(ONBOARDINGS, tenant_id=tenant_id, definition_id=onboarding_id)
    runs = await run_figures(session, ONBOARDINGS, runs=sized, in_range=in_range, progress=_progress(items))
    return Report(**asdict(runs), steps=steps)
