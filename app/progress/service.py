"""Journey progress: starting a user's runs and their transitions (suspend, resume, abandon);
starting and completing their events is app/progress/events.py.

Concurrency: the partial unique index on open runs decides which of racing starts wins; every
change of a run locks its row (``instance_for``), so changes of one run happen one at a time.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.reads import EventRow, get_journey
from app.errors import DomainError, ErrorCode, NotFound
from app.modelbase import utcnow
from app.progress.clock import local_date, resolve_timezone, whole_local_days
from app.progress.models import (
    OPEN_INSTANCE_INDEX,
    OPEN_STATUSES,
    InstanceStatus,
    JourneyInstance,
    JourneyLog,
)
from app.realtime.outbox import EventType, record_event
from app.tenancy.actors import actor_of
from app.tenancy.models import Tenant
from app.versions.runs import insert_open_run, lock_run, run_owner

MAX_METADATA_BYTES = 16 * 1024
XP_RESOURCE_TYPE = "journey"


def check_metadata(metadata: dict[str, Any] | None, *, field: str = "metadata") -> dict[str, Any]:
    """A JSON object of at most 16 KiB serialised (``{}`` when None)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise DomainError(ErrorCode.BAD_USER_INPUT, f"{field} must be a JSON object", field=[field])
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_METADATA_BYTES:
        raise DomainError(ErrorCode.BAD_USER_INPUT, f"{field} must be at most 16 KiB", field=[field])
    return metadata


def write_log(
    session: AsyncSession,
    instance: JourneyInstance,
    action: str,
    metadata: dict[str, Any],
    journey_event: EventRow | None = None,
) -> None:
    session.add(
        JourneyLog(
            tenant_id=instance.tenant_id,
            instance_id=instance.id,
            action=action,
            metadata_=metadata,
            journey_event_id=journey_event.id if journey_event else None,
            event_position=journey_event.position if journey_event else None,
            event_title=journey_event.title if journey_event else None,
            logged_at=utcnow(),
            **actor_of(session, owner_id=instance.user_id).columns(),
        )
    )


def record(session: AsyncSession, instance: JourneyInstance, type: EventType, **extra: Any) -> None:
    record_event(
        session,
        tenant_id=instance.tenant_id,
        user_id=instance.user_id,
        type=type,
        data={
            "instanceId": str(instance.id),
            "journeyId": str(instance.journey_id),
            "journeyVersion": instance.journey_version,
            "status": instance.status.value,
            **extra,
        },
    )


async def start_journey(
    session: AsyncSession,
    *,
    viewer_tenant: Tenant,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    timezone: str | None = None,
    token_timezone: str | None = None,
    user_timezone: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> JourneyInstance:
    """A new ACTIVE run of a published journey, starting today in the viewer's timezone."""
    metadata = check_metadata(metadata)
    zone = resolve_timezone(
        argument=timezone,
        token_timezone=token_timezone,
        user_timezone=user_timezone,
        tenant_timezone=viewer_tenant.timezone,
    )
    journey = await get_journey(session, tenant_id=viewer_tenant.id, journey_id=journey_id, published_only=True)
    if journey is None:
        raise NotFound("Journey", field=["journeyId"])
    now = utcnow()
    instance = JourneyInstance(
        tenant_id=viewer_tenant.id,
        user_id=user_id,
        journey_id=journey.id,
        # The version published now is the one the run follows, whatever is published later.
        journey_version=journey.version,
        status=InstanceStatus.ACTIVE,
        started_at=now,
        started_on=local_date(zone, now),
        timezone=zone,
        metadata_=metadata,
    )
    await insert_open_run(session, instance, open_index=OPEN_INSTANCE_INDEX, what="journey", field="journeyId")
    write_log(session, instance, "started", metadata)
    record(session, instance, EventType.JOURNEY_STARTED, startedOn=instance.started_on.isoformat())
    await session.flush()
    return instance


async def instance_for(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    instance_id: uuid.UUID,
    share: bool = False,
) -> JourneyInstance:
    """The user's run, row-locked for this transaction; NotFound for anyone else's."""
    instance: JourneyInstance = await lock_run(
        session,
        JourneyInstance,
        tenant_id=tenant_id,
        user_id=user_id,
        run_id=instance_id,
        share=share,
        label="Journey instance",
        field="instanceId",
    )
    return instance


async def instance_owner(session: AsyncSession, *, tenant_id: uuid.UUID, instance_id: uuid.UUID) -> uuid.UUID:
    """Whose run of the tenant this is (an admin acts on any); NotFound on ``instanceId`` otherwise."""
    return await run_owner(
        session, JourneyInstance, tenant_id=tenant_id, run_id=instance_id, label="Journey instance", field="instanceId"
    )


async def suspend_journey(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    instance_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> JourneyInstance:
    """ACTIVE → SUSPENDED; NOT_ACTIVE otherwise."""
    metadata = check_metadata(metadata)
    instance = await instance_for(session, tenant_id=tenant_id, user_id=user_id, instance_id=instance_id)
    if instance.status is not InstanceStatus.ACTIVE:
        raise DomainError(ErrorCode.NOT_ACTIVE, "only an active run can be suspended", field=["instanceId"])
    instance.status = InstanceStatus.SUSPENDED
    instance.suspended_at = utcnow()
    write_log(session, instance, "suspended", metadata)
    await session.flush()
    record(session, instance, EventType.JOURNEY_SUSPENDED)
    return instance


async def resume_journey(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    instance_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> JourneyInstance:
    """SUSPENDED → ACTIVE, moving unfinished events forward by the whole local days suspended."""
    metadata = check_metadata(metadata)
    instance = await instance_for(session, tenant_id=tenant_id, user_id=user_id, instance_id=instance_id)
    if instance.status is not InstanceStatus.SUSPENDED:
        raise DomainError(ErrorCode.NOT_SUSPENDED, "only a suspended run can be resumed", field=["instanceId"])
    now = utcnow()
    shifted = whole_local_days(instance.suspended_at or now, now, instance.timezone)
    instance.status = InstanceStatus.ACTIVE
    instance.shift_days += shifted
    instance.suspended_at = None
    write_log(session, instance, "resumed", metadata)
    await session.flush()
    record(session, instance, EventType.JOURNEY_RESUMED, shiftedDays=shifted, shiftDays=instance.shift_days)
    return instance


async def abandon_journey(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    instance_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> JourneyInstance:
    """ACTIVE or SUSPENDED → ABANDONED; NOT_ACTIVE otherwise."""
    metadata = check_metadata(metadata)
    instance = await instance_for(session, tenant_id=tenant_id, user_id=user_id, instance_id=instance_id)
    if instance.status not in OPEN_STATUSES:
        raise DomainError(
            ErrorCode.NOT_ACTIVE, "only an active or suspended run can be abandoned", field=["instanceId"]
        )
    instance.status = InstanceStatus.ABANDONED
    instance.ended_at = utcnow()
    write_log(session, instance, "abandoned", metadata)
    await session.flush()
    record(session, instance, EventType.JOURNEY_ABANDONED)
    return instance
