"""Status changes of a user's onboarding run: suspend, resume, abandon. Each locks the run's row
(app/onboarding/lifecycle.py explains the lock order), checks the status it leaves, stamps
the run, logs the action and records the event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, ErrorCode
from app.modelbase import utcnow
from app.onboarding.lifecycle import ABANDONED, ACTIVE, OPEN_STATUSES, SUSPENDED, journey_for, log_step, record
from app.onboarding.models import OnboardingJourney, OnboardingJourneyStatus
from app.progress.service import check_metadata
from app.realtime.outbox import EventType


@dataclass(frozen=True)
class _Transition:
    """A status change: from which statuses, to which, the error otherwise, and what it stamps."""

    allowed: tuple[OnboardingJourneyStatus, ...]
    target: OnboardingJourneyStatus
    error: ErrorCode
    message: str
    action: str
    event: EventType
    stamp: str | None = None  # set to now
    clear: str | None = None  # set to None


_SUSPEND = _Transition(
    allowed=(ACTIVE,),
    target=SUSPENDED,
    error=ErrorCode.NOT_ACTIVE,
    message="only an active onboarding can be suspended",
    action="suspended",
    event=EventType.ONBOARDING_SUSPENDED,
    stamp="suspended_at",
)
_RESUME = _Transition(
    allowed=(SUSPENDED,),
    target=ACTIVE,
    error=ErrorCode.NOT_SUSPENDED,
    message="only a suspended onboarding can be resumed",
    action="resumed",
    event=EventType.ONBOARDING_RESUMED,
    clear="suspended_at",
)
_ABANDON = _Transition(
    allowed=OPEN_STATUSES,
    target=ABANDONED,
    error=ErrorCode.NOT_ACTIVE,
    message="only an active or suspended onboarding can be abandoned",
    action="abandoned",
    event=EventType.ONBOARDING_ABANDONED,
    stamp="abandoned_at",
)


async def _transition(
    session: AsyncSession,
    change: _Transition,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    metadata: dict[str, Any] | None,
) -> OnboardingJourney:
    metadata = check_metadata(metadata)
    journey = await journey_for(session, tenant_id=tenant_id, user_id=user_id, journey_id=journey_id)
    if journey.status not in change.allowed:
        raise DomainError(change.error, change.message, field=["journeyId"])
    now = utcnow()
    journey.status = change.target
    journey.updated_at = now
    if change.stamp:
        setattr(journey, change.stamp, now)
    if change.clear:
        setattr(journey, change.clear, None)
    await log_step(session, journey, change.action, metadata)
    await session.flush()
    record(session, journey, change.event)
    return journey


async def suspend_onboarding(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> OnboardingJourney:
    """ACTIVE → SUSPENDED; NOT_ACTIVE otherwise."""
    return await _transition(
        session, _SUSPEND, tenant_id=tenant_id, user_id=user_id, journey_id=journey_id, metadata=metadata
    )


async def resume_onboarding(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> OnboardingJourney:
    """SUSPENDED → ACTIVE; NOT_SUSPENDED otherwise."""
    return await _transition(
        session, _RESUME, tenant_id=tenant_id, user_id=user_id, journey_id=journey_id, metadata=metadata
    )


async def abandon_onboarding(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> OnboardingJourney:
    """ACTIVE or SUSPENDED → ABANDONED; NOT_ACTIVE otherwise."""
    return await _transition(
        session, _ABANDON, tenant_id=tenant_id, user_id=user_id, journey_id=journey_id, metadata=metadata
    )
