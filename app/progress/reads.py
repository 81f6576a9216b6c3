"""Reading progress: runs, their events with statuses, progress and logs (today's events:
app/progress/today.py).

The batched readers take many instance ids and answer in one statement, for dataloaders.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import JourneyEvent
from app.pagination import Page, fetch_page
from app.progress.models import (
    EventInstance,
    EventStatus,
    InstanceStatus,
    JourneyInstance,
    JourneyLog,
    event_instance_id,
)

INSTANCE_KEYS = (col(JourneyInstance.started_at), col(JourneyInstance.id))


@dataclass(frozen=True)
class EventState:
    """One event of a run with its status; NOT_STARTED (and no times) when it has no row yet."""

    id: uuid.UUID
    instance_id: uuid.UUID
    journey_event: JourneyEvent
    status: EventStatus
    scheduled_on: date | None
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def position(self) -> int:
        return self.journey_event.position


@dataclass(frozen=True)
class Progress:
    """How far a run is."""

    completed_events: int
    total_events: int

    @property
    def percent(self) -> int:
        """Whole percent done, rounded down (100 only when every event is completed)."""
        return self.completed_events * 100 // self.total_events if self.total_events else 0


def scheduled_on(
    started_on: date, shift_days: int, journey_event: JourneyEvent, row: EventInstance | None
) -> date | None:
    """The event's day: start day + offset + shift (frozen at completion); None if unscheduled."""
    if journey_event.day_offset is None:
        return None
    if row is not None and row.status is EventStatus.COMPLETED and row.shift_days_at_completion is not None:
        shift_days = row.shift_days_at_completion
    return started_on + timedelta(days=journey_event.day_offset + shift_days)


def event_state(
    *,
    instance_id: uuid.UUID,
    started_on: date,
    shift_days: int,
    journey_event: JourneyEvent,
    row: EventInstance | None,
) -> EventState:
    """The state of one event of a run, from its row (or its absence)."""
    return EventState(
        id=event_instance_id(instance_id, journey_event.id),
        instance_id=instance_id,
        journey_event=journey_event,
        status=row.status if row is not None else EventStatus.NOT_STARTED,
        scheduled_on=scheduled_on(started_on, shift_days, journey_event, row),
        started_at=row.started_at if row is not None else None,
        completed_at=row.completed_at if row is not None else None,
    )


def event_row_join() -> Any:
    return and_(
        col(EventInstance.instance_id) == col(JourneyInstance.id),
        col(EventInstance.journey_event_id) == col(JourneyEvent.id),
    )


async def get_instance(
    session: AsyncSession, *, tenant_id: uuid.UUID, instance_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> JourneyInstance | None:
    """One run of the tenant (only the user's own when ``user_id`` is given)."""
    found = await instances_by_ids(session, tenant_id=tenant_id, ids=[instance_id], user_id=user_id)
    return found.get(instance_id)


async def instances_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], user_id: uuid.UUID | None = None
) -> dict[uuid.UUID, JourneyInstance]:
    """The tenant's runs with these ids (only the user's own when ``user_id`` is given)."""
    query = select(JourneyInstance).where(col(JourneyInstance.tenant_id) == tenant_id, col(JourneyInstance.id).in_(ids))
    if user_id is not None:
        query = query.where(col(JourneyInstance.user_id) == user_id)
    return {i.id: i for i in (await session.execute(query)).scalars()}


async def my_instances(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    status: InstanceStatus | None = None,
    journey_id: uuid.UUID | None = None,
    first: int,
    after: Sequence[Any] | None,
) -> Page[JourneyInstance]:
    """A page of the user's runs (every user's when ``user_id`` is None), newest started first
    (``started_at`` desc, then ``id``)."""
    query = select(JourneyInstance).where(col(JourneyInstance.tenant_id) == tenant_id)
    if user_id is not None:
        query = query.where(col(JourneyInstance.user_id) == user_id)
    if status is not None:
        query = query.where(col(JourneyInstance.status) == status)
    if journey_id is not None:
        query = query.where(col(JourneyInstance.journey_id) == journey_id)
    return await fetch_page(session, query, keys=INSTANCE_KEYS, after=after, first=first, descending=True)


async def event_states_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[EventState, uuid.UUID]]:
    """Started event instances by id, each with the id of the user whose run it belongs to.
    (An event never started has no row, so it is found through its run's ``events`` only.)"""
    rows = await session.execute(
        select(EventInstance, JourneyInstance, JourneyEvent)
        .join(JourneyInstance, col(JourneyInstance.id) == col(EventInstance.instance_id))
        .join(JourneyEvent, col(JourneyEvent.id) == col(EventInstance.journey_event_id))
        .where(col(EventInstance.tenant_id) == tenant_id, col(EventInstance.id).in_(ids))
    )
    return {
        row.id: (
            event_state(
                instance_id=instance.id,
                started_on=instance.started_on,
                shift_days=instance.shift_days,
                journey_event=journey_event,
                row=row,
            ),
            instance.user_id,
        )
        for row, instance, journey_event in rows.all()
    }


async def instance_events(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    instance_ids: Sequence[uuid.UUID],
    status: EventStatus | None = None,
    first: int | None = None,
    after_position: int | None = None,
) -> dict[uuid.UUID, Page[EventState]]:
    """For each run, a page of its journey's events in position order with their statuses
    (``first`` per run, after ``after_position``; all when ``first`` is None), in one query."""
    rank = func.row_number().over(partition_by=col(JourneyInstance.id), order_by=col(JourneyEvent.position))
    inner = (
        sa_select(
            col(JourneyInstance.id).label("instance_id"),
            col(JourneyInstance.started_on).label("started_on"),
            col(JourneyInstance.shift_days).label("shift_days"),
            col(JourneyEvent.id).label("journey_event_id"),
            col(EventInstance.id).label("event_instance_id"),
            rank.label("rank"),
        )
        .select_from(JourneyInstance)
        .join(JourneyEvent, col(JourneyEvent.journey_id) == col(JourneyInstance.journey_id))
        .outerjoin(EventInstance, event_row_join())
        .where(col(JourneyInstance.tenant_id) == tenant_id, col(JourneyInstance.id).in_(instance_ids))
    )
    if status is EventStatus.NOT_STARTED:
        inner = inner.where(col(EventInstance.id).is_(None))
    elif status is not None:
        inner = inner.where(col(EventInstance.status) == status)
    if after_position is not None:
        inner = inner.where(col(JourneyEvent.position) > after_position)
    ranked = inner.subquery()
    query = (
        sa_select(ranked.c.instance_id, ranked.c.started_on, ranked.c.shift_days, JourneyEvent, EventInstance)
        .select_from(ranked)
        .join(JourneyEvent, col(JourneyEvent.id) == ranked.c.journey_event_id)
        .outerjoin(EventInstance, col(EventInstance.id) == ranked.c.event_instance_id)
        .order_by(ranked.c.instance_id, ranked.c.rank)
    )
    if first is not None:
        query = query.where(ranked.c.rank <= first + 1)
    grouped: dict[uuid.UUID, list[EventState]] = {i: [] for i in instance_ids}
    for instance_id, started_on, shift_days, journey_event, row in (await session.execute(query)).all():
        grouped[instance_id].append(
            event_state(
                instance_id=instance_id,
                started_on=started_on,
                shift_days=shift_days,
                journey_event=journey_event,
                row=row,
            )
        )
    if first is None:
        return {i: Page(items=items, has_next=False) for i, items in grouped.items()}
    return {i: Page(items=items[:first], has_next=len(items) > first) for i, items in grouped.items()}


async def progress(
    session: AsyncSession, *, tenant_id: uuid.UUID, instance_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Progress]:
    """Each run's completed and total events, in one query."""
    completed = func.count(col(EventInstance.id)).filter(col(EventInstance.status) == EventStatus.COMPLETED)
    rows = await session.execute(
        select(col(JourneyInstance.id), func.count(col(JourneyEvent.id)), completed)
        .select_from(JourneyInstance)
        .outerjoin(JourneyEvent, col(JourneyEvent.journey_id) == col(JourneyInstance.journey_id))
        .outerjoin(EventInstance, event_row_join())
        .where(col(JourneyInstance.tenant_id) == tenant_id, col(JourneyInstance.id).in_(instance_ids))
        .group_by(col(JourneyInstance.id))
    )
    found = {i: Progress(completed_events=done, total_events=total) for i, total, done in rows.all()}
    return {i: found.get(i, Progress(0, 0)) for i in instance_ids}


async def instance_logs(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    instance_ids: Sequence[uuid.UUID],
    first: int,
    after_id: int | None = None,
) -> dict[uuid.UUID, Page[JourneyLog]]:
    """For each run, a page of its log oldest first (by ``id``, the order entries were
    written; ``first`` per run after ``after_id``), in one query."""
    rank = func.row_number().over(partition_by=col(JourneyLog.instance_id), order_by=col(JourneyLog.id))
    inner = sa_select(col(JourneyLog.id).label("log_id"), rank.label("rank")).where(
        col(JourneyLog.tenant_id) == tenant_id, col(JourneyLog.instance_id).in_(instance_ids)
    )
    if after_id is not None:
        inner = inner.where(col(JourneyLog.id) > after_id)
    ranked = inner.subquery()
    query = (
        select(JourneyLog)
        .join(ranked, ranked.c.log_id == col(JourneyLog.id))
        .where(ranked.c.rank <= first + 1)
        .order_by(col(JourneyLog.instance_id), col(JourneyLog.id))
    )
    grouped: dict[uuid.UUID, list[JourneyLog]] = {i: [] for i in instance_ids}
    for entry in (await session.execute(query)).scalars():
        grouped[entry.instance_id].append(entry)
    return {i: Page(items=items[:first], has_next=len(items) > first) for i, items in grouped.items()}


async def journey_logs(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    instance_id: uuid.UUID,
    first: int,
    after: Sequence[Any] | None,
) -> Page[JourneyLog]:
    """A page of one run's log, oldest first."""
    pages = await instance_logs(
        session,
        tenant_id=tenant_id,
        instance_ids=[instance_id],
        first=first,
        after_id=int(after[0]) if after else None,
    )
    return pages[instance_id]
