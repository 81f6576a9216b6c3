"""Starting and completing the events of a user's journey run.

Concurrency: ``INSERT … ON CONFLICT DO NOTHING`` makes racing event starts create one row;
completing an event locks the run's row, so completions of one run (and the run's own
completion) happen one at a time and each award's idempotency key holds even across retries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import JourneyEventVersion, JourneyVersion
from app.errors import DomainError, ErrorCode, NotFound
from app.modelbase import utcnow
from app.progress.models import (
    EVENT_INSTANCE_UNIQUE,
    EventInstance,
    EventStatus,
    InstanceStatus,
    JourneyInstance,
    event_instance_id,
)
from app.progress.reads import EventState, event_state
from app.progress.service import XP_RESOURCE_TYPE, check_metadata, instance_for, record, write_log
from app.realtime.outbox import EventType
from app.rewards.models import Reward
from app.rewards.reads import current_level
from app.rewards.service import AwardResult, award_xp
from app.tenancy.models import Tenant


@dataclass(frozen=True)
class CompleteEventResult:
    """What completing an event did, for the frontend to celebrate."""

    event_instance: EventState
    instance: JourneyInstance
    xp_awarded: int
    level_before: int
    level_after: int
    rewards_unlocked: list[Reward]


async def _journey_event_of(
    session: AsyncSession, instance: JourneyInstance, journey_event_id: uuid.UUID
) -> JourneyEventVersion:
    """The event as it is in the version the (locked) run follows; NotFound if that version has none."""
    journey_event = (
        await session.execute(
            select(JourneyEventVersion).where(
                col(JourneyEventVersion.id) == journey_event_id,
                col(JourneyEventVersion.journey_id) == instance.journey_id,
                col(JourneyEventVersion.version) == instance.journey_version,
                col(JourneyEventVersion.tenant_id) == instance.tenant_id,
            )
        )
    ).scalar_one_or_none()
    if journey_event is None:
        raise NotFound("Journey event", field=["journeyEventId"])
    return journey_event


async def _event_row(session: AsyncSession, row_id: uuid.UUID) -> EventInstance | None:
    return await session.get(EventInstance, row_id, populate_existing=True)


def _state(instance: JourneyInstance, journey_event: JourneyEventVersion, row: EventInstance | None) -> EventState:
    return event_state(
        instance_id=instance.id,
        started_on=instance.started_on,
        shift_days=instance.shift_days,
        journey_event=journey_event,
        row=row,
    )


def _event_data(journey_event: JourneyEventVersion, row_id: uuid.UUID) -> dict[str, Any]:
    return {
        "eventInstanceId": str(row_id),
        "journeyEventId": str(journey_event.id),
        "position": journey_event.position,
    }


async def start_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    instance_id: uuid.UUID,
    journey_event_id: uuid.UUID,
) -> EventState:
    """The event of the run, created IN_PROGRESS if it has no row; an existing one is returned as is."""
    # A shared lock: racing starts proceed together, but the run cannot change state under them.
    instance = await instance_for(session, tenant_id=tenant_id, user_id=user_id, instance_id=instance_id, share=True)
    journey_event = await _journey_event_of(session, instance, journey_event_id)
    row_id = event_instance_id(instance.id, journey_event.id)
    existing = await _event_row(session, row_id)
    if existing is not None:
        return _state(instance, journey_event, existing)
    if instance.status is not InstanceStatus.ACTIVE:
        raise DomainError(ErrorCode.NOT_ACTIVE, "events can only be started on an active run", field=["instanceId"])
    # No conflict target: a racing twin collides on the id and the (instance, event) pair at
    # once, and either collision must mean "already there".
    created = (
        await session.execute(
            insert(EventInstance)
            .values(
                id=row_id,
                tenant_id=instance.tenant_id,
                instance_id=instance.id,
                journey_event_id=journey_event.id,
                status=EventStatus.IN_PROGRESS,
                started_at=utcnow(),
            )
            .on_conflict_do_nothing()
            .returning(col(EventInstance.id))
        )
    ).scalar_one_or_none()
    row = await _event_row(session, row_id)
    if created is not None:
        write_log(session, instance, "event_started", {}, journey_event)
        record(session, instance, EventType.EVENT_STARTED, **_event_data(journey_event, row_id))
        await session.flush()
    return _state(instance, journey_event, row)


async def complete_event(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    instance_id: uuid.UUID,
    journey_event_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> CompleteEventResult:
    """COMPLETED, awarding the event's XP once; completing the last event completes the run and
    awards the journey's XP once. Completing a completed event changes nothing."""
    metadata = check_metadata(metadata)
    instance = await instance_for(session, tenant_id=tenant.id, user_id=user_id, instance_id=instance_id)
    journey_event = await _journey_event_of(session, instance, journey_event_id)
    row_id = event_instance_id(instance.id, journey_event.id)
    existing = await _event_row(session, row_id)
    if existing is not None and existing.status is EventStatus.COMPLETED:
        level = await current_level(session, tenant=tenant, user_id=user_id)
        return CompleteEventResult(_state(instance, journey_event, existing), instance, 0, level, level, [])
    if instance.status is not InstanceStatus.ACTIVE:
        raise DomainError(ErrorCode.NOT_ACTIVE, "events can only be completed on an active run", field=["instanceId"])
    now = utcnow()
    upsert = insert(EventInstance).values(
        id=row_id,
        tenant_id=instance.tenant_id,
        instance_id=instance.id,
        journey_event_id=journey_event.id,
        status=EventStatus.COMPLETED,
        started_at=now,
        completed_at=now,
        shift_days_at_completion=instance.shift_days,
    )
    await session.execute(
        upsert.on_conflict_do_update(
            constraint=EVENT_INSTANCE_UNIQUE,
            set_={
                "status": upsert.excluded.status,
                "completed_at": upsert.excluded.completed_at,
                "shift_days_at_completion": upsert.excluded.shift_days_at_completion,
                "started_at": func.coalesce(EventInstance.__table__.c.started_at, upsert.excluded.started_at),  # type: ignore[attr-defined]
            },
        )
    )
    row = await _event_row(session, row_id)
    write_log(session, instance, "event_completed", metadata, journey_event)
    record(session, instance, EventType.EVENT_COMPLETED, **_event_data(journey_event, row_id))
    resource_id = str(instance.journey_id)
    awards = [
        await award_xp(
            session,
            tenant=tenant,
            user_id=user_id,
            amount=journey_event.xp_reward,
            reason="event_completed",
            resource_type=XP_RESOURCE_TYPE,
            resource_id=resource_id,
            idempotency_key=f"event:{instance.id}:{journey_event.id}",
        )
    ]
    if await all_completed(session, instance):
        awards.append(await complete_instance(session, tenant=tenant, instance=instance))
    return CompleteEventResult(
        event_instance=_state(instance, journey_event, row),
        instance=instance,
        xp_awarded=sum(a.xp_awarded for a in awards),
        level_before=awards[0].level_before,
        level_after=awards[-1].level_after,
        rewards_unlocked=[r for a in awards for r in a.rewards_unlocked],
    )


async def all_completed(session: AsyncSession, instance: JourneyInstance) -> bool:
    """Whether every event of the version the run follows is completed."""
    completed = func.count(col(EventInstance.id)).filter(col(EventInstance.status) == EventStatus.COMPLETED)
    total, done = (
        await session.execute(
            select(func.count(col(JourneyEventVersion.id)), completed)
            .select_from(JourneyEventVersion)
            .outerjoin(
                EventInstance,
                (col(EventInstance.journey_event_id) == col(JourneyEventVersion.id))
                & (col(EventInstance.instance_id) == instance.id),
            )
            .where(
                col(JourneyEventVersion.journey_id) == instance.journey_id,
                col(JourneyEventVersion.version) == instance.journey_version,
            )
        )
    ).one()
    return bool(total) and total == done


async def complete_instance(session: AsyncSession, *, tenant: Tenant, instance: JourneyInstance) -> AwardResult:
    """Mark the (locked) run COMPLETED and award its version's XP once."""
    now = utcnow()
    instance.status = InstanceStatus.COMPLETED
    instance.completed_at = now
    instance.ended_at = now
    write_log(session, instance, "completed", {})
    await session.flush()
    record(session, instance, EventType.JOURNEY_COMPLETED)
    journey = await session.get(JourneyVersion, (instance.journey_id, instance.journey_version))
    return await award_xp(
        session,
        tenant=tenant,
        user_id=instance.user_id,
        amount=journey.xp_reward if journey is not None else 0,
        reason="journey_completed",
        resource_type=XP_RESOURCE_TYPE,
        resource_id=str(instance.journey_id),
        idempotency_key=f"journey:{instance.id}",
    )
