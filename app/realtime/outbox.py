"""Recording events in the caller's transaction.

``record_event`` queues the event on the session; just before that session commits, the
queued events are inserted under a per-tenant transaction-level advisory lock. Holding the
lock from the insert to the commit means a tenant's event ids are assigned in commit order,
so a reader that has seen event N of a tenant can never later find a committed event < N:
catching up "after N" loses nothing. Inserting at commit time (rather than at the call)
keeps the lock short and taken last, after every row lock, so it cannot deadlock with them.
A rolled-back transaction records nothing; the ids of committed events are left on the
session for the realtime dispatcher.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.modelbase import utcnow
from app.realtime.models import OutboxEvent

PENDING_KEY = "outbox.pending"
COMMITTED_KEY = "outbox.committed"
LOCK_NAMESPACE = "journeys.outbox:"
OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]


class EventType(str, Enum):
    """Every event type the service emits."""

    JOURNEY_CREATED = "journey.created"
    JOURNEY_UPDATED = "journey.updated"
    JOURNEY_PUBLISHED = "journey.published"
    JOURNEY_ARCHIVED = "journey.archived"
    JOURNEY_EVENT_ADDED = "journey_event.added"
    JOURNEY_EVENT_UPDATED = "journey_event.updated"
    JOURNEY_EVENT_REMOVED = "journey_event.removed"
    JOURNEY_EVENTS_REORDERED = "journey_event.reordered"
    JOURNEY_STARTED = "journey.started"
    JOURNEY_SUSPENDED = "journey.suspended"
    JOURNEY_RESUMED = "journey.resumed"
    JOURNEY_ABANDONED = "journey.abandoned"
    JOURNEY_COMPLETED = "journey.completed"
    EVENT_STARTED = "event.started"
    EVENT_COMPLETED = "event.completed"
    ONBOARDING_CREATED = "onboarding.created"
    ONBOARDING_UPDATED = "onboarding.updated"
    ONBOARDING_PUBLISHED = "onboarding.published"
    ONBOARDING_ARCHIVED = "onboarding.archived"
    ONBOARDING_FORM_SET = "onboarding.form_set"
    ONBOARDING_STEP_ADDED = "onboarding_step.added"
    ONBOARDING_STEP_UPDATED = "onboarding_step.updated"
    ONBOARDING_STEP_REMOVED = "onboarding_step.removed"
    ONBOARDING_STEPS_REORDERED = "onboarding_step.reordered"
    ONBOARDING_STARTED = "onboarding.started"
    ONBOARDING_PROGRESSED = "onboarding.progressed"
    ONBOARDING_LOGGED = "onboarding.logged"
    ONBOARDING_SUSPENDED = "onboarding.suspended"
    ONBOARDING_RESUMED = "onboarding.resumed"
    ONBOARDING_ABANDONED = "onboarding.abandoned"
    ONBOARDING_COMPLETED = "onboarding.completed"
    CLASSIFICATION_COMPLETED = "classification.completed"
    XP_AWARDED = "xp.awarded"
    LEVEL_UP = "level.up"
    REWARD_UNLOCKED = "reward.unlocked"
    AVATAR_SESSION_STARTED = "avatar_session.started"
    AVATAR_SESSION_ENDED = "avatar_session.ended"


@dataclass(frozen=True)
class PendingEvent:
    """An event waiting for its transaction to commit."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    type: str
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class CommittedEvent:
    """Where a committed event must go: its id, tenant and user."""

    id: int
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    type: str


def record_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    type: EventType,
    data: dict[str, Any],
) -> None:
    """Record an event as part of the session's current transaction."""
    pending = session.sync_session.info.setdefault(PENDING_KEY, [])
    pending.append(PendingEvent(tenant_id=tenant_id, user_id=user_id, type=type.value, data=data, occurred_at=utcnow()))


def pending_events(session: AsyncSession) -> list[PendingEvent]:
    """Events recorded in the session's open transaction, not yet committed."""
    return list(session.sync_session.info.get(PENDING_KEY, []))


def take_committed(session: AsyncSession | Session) -> list[CommittedEvent]:
    """Committed events not yet handed to the dispatcher (each is handed out once)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    committed: list[CommittedEvent] = sync.info.pop(COMMITTED_KEY, [])
    return committed


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[PendingEvent] = session.info.pop(PENDING_KEY, [])
    if not pending:
        return
    for tenant_id in sorted({p.tenant_id for p in pending}):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(LOCK_NAMESPACE + str(tenant_id), 0))))
    rows = session.execute(
        insert(OUTBOX).returning(OUTBOX.c.id, sort_by_parameter_order=True),
        [
            {
                "tenant_id": p.tenant_id,
                "user_id": p.user_id,
                "type": p.type,
                "data": p.data,
                "occurred_at": p.occurred_at,
            }
            for p in pending
        ],
    ).scalars()
    session.info.setdefault("outbox.inserted", []).extend(
        CommittedEvent(id=event_id, tenant_id=p.tenant_id, user_id=p.user_id, type=p.type)
        for event_id, p in zip(rows, pending, strict=True)
    )


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    inserted = session.info.pop("outbox.inserted", [])
    if inserted:
        session.info.setdefault(COMMITTED_KEY, []).extend(inserted)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop("outbox.inserted", None)
