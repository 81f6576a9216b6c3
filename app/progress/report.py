"""The admin report on a journey: how its runs went, overall and event by event.

Computed by app/reports/runs.py like the onboarding report: two statements whatever the number
of runs; no run is loaded into Python.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, FromClause, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from app.catalog.models import JourneyEventVersion
from app.catalog.versions import JOURNEYS
from app.errors import NotFound
from app.progress.models import EventInstance, EventStatus
from app.reports.runs import (
    OPEN,
    RunFigures,
    in_run_version,
    item_figures,
    percent,
    run_figures,
    sized_runs,
    started_in,
)
from app.versions.kinds import table_of

EVENT_ROWS = table_of(EventInstance)


@dataclass(frozen=True)
class EventFigures:
    """How the runs in the report's range went on one event (see ``journey_report``)."""

    event: JourneyEventVersion
    reached: int
    completed: int
    drop_off: int


@dataclass(frozen=True)
class JourneyReport(RunFigures):
    """How the runs of a journey started in a range went."""

    events: list[EventFigures]


def _with_progress(
    in_range: list[ColumnElement[bool]], *, tenant_id: uuid.UUID, journey_id: uuid.UUID
) -> tuple[FromClause, ColumnElement[float]]:
    # As a run's own `progress` counts (app/progress/reads.py): its completed events among the
    # events of the version it pins, over those events; here not rounded down.
    runs, events = JOURNEYS.runs, JOURNEYS.version_items
    done = (
        select(EVENT_ROWS.c.instance_id, func.count().label("done"))
        .select_from(runs)
        .join(EVENT_ROWS, EVENT_ROWS.c.instance_id == runs.c.id)
        .join(events, and_(events.c.id == EVENT_ROWS.c.journey_event_id, in_run_version(JOURNEYS)))
        .where(*in_range, EVENT_ROWS.c.status == EventStatus.COMPLETED)
        .group_by(EVENT_ROWS.c.instance_id)
        .subquery("done")
    )
    sized, items = sized_runs(JOURNEYS, tenant_id=tenant_id, definition_id=journey_id)
    joined = sized.outerjoin(done, done.c.instance_id == runs.c.id)
    return joined, percent(func.coalesce(done.c.done, 0), items)


def _runs_on_events(in_range: list[ColumnElement[bool]]) -> Subquery:
    # One row per (event, run in range) that started or completed it: a run has at most one
    # event instance per event (a unique constraint), which exists once it is started.
    runs = JOURNEYS.runs
    return (
        select(
            EVENT_ROWS.c.journey_event_id.label("item_id"),
            runs.c.status.label("status"),
            true().label("reached"),
            (EVENT_ROWS.c.status == EventStatus.COMPLETED).label("completed"),
        )
        .join_from(runs, EVENT_ROWS, EVENT_ROWS.c.instance_id == runs.c.id)
        .where(*in_range)
        .subquery("per_run")
    )


async def journey_report(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    journey_id: uuid.UUID,
    started_from: datetime | None,
    started_to: datetime | None,
) -> JourneyReport:
    """The figures of a journey's runs whose ``started_at`` is in ``[started_from, started_to)``
    (either end open when None).

    - ``total`` and the counts by status, ``completion_rate``, ``median_seconds_to_complete``
      and ``average_progress`` (app/reports/runs.py); a run's percent is its completed events
      among the events of its own version, over those events.
    - Per event of the journey's latest published version, in order (none before the first
      publish): ``reached`` = runs that started or completed it (events may be done in any
      order, so a later event done says nothing of this one); ``completed`` = runs that
      completed it; ``drop_off`` = runs that reached it, did not complete it and are no longer
      ACTIVE or SUSPENDED (they stopped there). A run counts on an event by the event's id,
      on whichever version it is.

    ``NotFound`` (on ``journeyId``) when the tenant has no such journey.
    """
    in_range = started_in(
        JOURNEYS, tenant_id=tenant_id, definition_id=journey_id, started_from=started_from, started_to=started_to
    )
    per_run = _runs_on_events(in_range)
    figures = await item_figures(
        session,
        JOURNEYS,
        tenant_id=tenant_id,
        definition_id=journey_id,
        per_run=per_run,
        still_open=lambda _event: per_run.c.status.in_(OPEN),
    )
    if figures is None:
        raise NotFound("Journey", field=["journeyId"])
    joined, progress = _with_progress(in_range, tenant_id=tenant_id, journey_id=journey_id)
    runs = await run_figures(session, JOURNEYS, runs=joined, in_range=in_range, progress=progress)
    events = [EventFigures(event=e, reached=r, completed=c, drop_off=d) for e, r, c, d in figures]
    return JourneyReport(**asdict(runs), events=events)
