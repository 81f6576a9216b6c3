"""What to do today: for each of a user's active runs, the events actionable on a local day."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import Journey, JourneyEvent
from app.progress.models import EventInstance, EventStatus, InstanceStatus, JourneyInstance
from app.progress.reads import EventState, event_row_join, event_state


@dataclass(frozen=True)
class TodayGroup:
    """One active run and its events actionable on a day."""

    instance: JourneyInstance
    journey: Journey
    events: list[EventState]


async def today_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, local_date: date
) -> list[TodayGroup]:
    """Per ACTIVE run (oldest started first): its events not completed that are actionable on
    ``local_date`` — scheduled ones due or overdue by position, then unscheduled ones by
    position. Future events and runs with nothing to do are left out. One query."""
    due_on = col(JourneyInstance.started_on) + col(JourneyEvent.day_offset) + col(JourneyInstance.shift_days)
    query = (
        select(JourneyInstance, Journey, JourneyEvent, EventInstance)
        .join(Journey, col(Journey.id) == col(JourneyInstance.journey_id))
        .join(JourneyEvent, col(JourneyEvent.journey_id) == col(JourneyInstance.journey_id))
        .outerjoin(EventInstance, event_row_join())
        .where(
            col(JourneyInstance.tenant_id) == tenant_id,
            col(JourneyInstance.user_id) == user_id,
            col(JourneyInstance.status) == InstanceStatus.ACTIVE,
            or_(col(EventInstance.id).is_(None), col(EventInstance.status) != EventStatus.COMPLETED),
            or_(col(JourneyEvent.day_offset).is_(None), due_on <= local_date),
        )
        .order_by(
            col(JourneyInstance.started_at),
            col(JourneyInstance.id),
            col(JourneyEvent.day_offset).is_(None),
            col(JourneyEvent.position),
        )
    )
    groups: list[TodayGroup] = []
    for instance, journey, journey_event, row in (await session.execute(query)).all():
        if not groups or groups[-1].instance.id != instance.id:
            groups.append(TodayGroup(instance=instance, journey=journey, events=[]))
        groups[-1].events.append(
            event_state(
                instance_id=instance.id,
                started_on=instance.started_on,
                shift_days=instance.shift_days,
                journey_event=journey_event,
                row=row,
            )
        )
    return groups
