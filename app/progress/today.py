"""What to do today: for each of a user's active runs, the events actionable on a local day."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import JourneyStatus, Visibility
from app.catalog.reads import EVENT_COLUMNS, JOURNEY_VERSIONS, JOURNEYS, JourneyRow
from app.catalog.reads import EVENT_VERSIONS as EVENTS
from app.core_rows import fetch_rows
from app.progress.models import EventStatus, InstanceStatus
from app.progress.reads import (
    EVENT_ROW_COLUMNS,
    EVENT_ROW_JOIN,
    EVENT_ROWS,
    INSTANCE_COLUMNS,
    INSTANCES,
    RUN_EVENTS_JOIN,
    EventState,
    InstanceRow,
    state_of_row,
)
from app.rawjson import RawJSON


@dataclass(frozen=True, slots=True)
class TodayInstance:
    """The run of a group (its INSTANCE_COLUMNS, from the group's first row)."""

    id: uuid.UUID
    user_id: uuid.UUID
    journey_id: uuid.UUID
    journey_version: int
    status: InstanceStatus
    started_at: datetime
    started_on: date
    timezone: str
    suspended_at: datetime | None
    completed_at: datetime | None
    shift_days: int
    metadata_: RawJSON


@dataclass(frozen=True, slots=True)
class TodayJourney:
    """The journey of a group (its JOURNEY_COLUMNS, from the group's first row)."""

    id: uuid.UUID
    slug: str
    title: str
    description: str
    category: str | None
    tags: list[str]
    visibility: Visibility
    status: JourneyStatus
    xp_reward: int
    created_at: datetime
    published_at: datetime | None
    version: int


@dataclass(frozen=True)
class TodayGroup:
    """One active run and its events actionable on a day."""

    instance: InstanceRow
    journey: JourneyRow
    events: list[EventState]


# The run's and the journey's columns under prefixed labels; the event's under its own names.
_INSTANCE_LABELS = [(f"i_{c.key}", c) for c in INSTANCE_COLUMNS]
# The journey as the run's version has it (its status is the journey's own).
_JOURNEY_SOURCES = {"id": JOURNEY_VERSIONS.c.journey_id, "status": JOURNEYS.c.status}
_JOURNEY_LABELS = [
    (f"j_{name}", _JOURNEY_SOURCES[name] if name in _JOURNEY_SOURCES else JOURNEY_VERSIONS.c[name])
    for name in (f.name for f in fields(TodayJourney))
]
_due_on = INSTANCES.c.started_on + EVENTS.c.day_offset + INSTANCES.c.shift_days
TODAY = (
    select(
        *(column.label(label) for label, column in _INSTANCE_LABELS),
        *(column.label(label) for label, column in _JOURNEY_LABELS),
        *EVENT_COLUMNS,
        *EVENT_ROW_COLUMNS,
    )
    .select_from(INSTANCES)
    .join(
        JOURNEY_VERSIONS,
        and_(
            JOURNEY_VERSIONS.c.journey_id == INSTANCES.c.journey_id,
            JOURNEY_VERSIONS.c.version == INSTANCES.c.journey_version,
        ),
    )
    .join(JOURNEYS, JOURNEYS.c.id == INSTANCES.c.journey_id)
    .join(EVENTS, RUN_EVENTS_JOIN)
    .outerjoin(EVENT_ROWS, EVENT_ROW_JOIN)
    .where(
        INSTANCES.c.tenant_id == bindparam("tenant_id"),
        INSTANCES.c.user_id == bindparam("user_id"),
        INSTANCES.c.status == InstanceStatus.ACTIVE,
        or_(EVENT_ROWS.c.id.is_(None), EVENT_ROWS.c.status != EventStatus.COMPLETED),
        or_(EVENTS.c.day_offset.is_(None), _due_on <= bindparam("local_date")),
    )
    .order_by(
        INSTANCES.c.started_at,
        INSTANCES.c.id,
        EVENTS.c.day_offset.is_(None),
        EVENTS.c.position,
    )
)


# The row starts with the run's columns, then the journey's, in the dataclasses' field order.
_INSTANCE_END = len(_INSTANCE_LABELS)
_JOURNEY_END = _INSTANCE_END + len(_JOURNEY_LABELS)


def _instance(row: Any) -> TodayInstance:
    return TodayInstance(*row[:_INSTANCE_END])


def _journey(row: Any) -> TodayJourney:
    return TodayJourney(*row[_INSTANCE_END:_JOURNEY_END])


async def today_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, local_date: date
) -> list[TodayGroup]:
    """Per ACTIVE run (oldest started first): its events not completed that are actionable on
    ``local_date`` — scheduled ones due or overdue by position, then unscheduled ones by
    position. Future events and runs with nothing to do are left out. One query."""
    groups: list[TodayGroup] = []
    result = await fetch_rows(session, TODAY, {"tenant_id": tenant_id, "user_id": user_id, "local_date": local_date})
    for row in result:
        if not groups or groups[-1].instance.id != row.i_id:
            groups.append(TodayGroup(instance=_instance(row), journey=_journey(row), events=[]))
        instance = groups[-1].instance
        groups[-1].events.append(
            state_of_row(row, instance_id=instance.id, started_on=instance.started_on, shift_days=instance.shift_days)
        )
    return groups
