"""Users' runs through onboardings: starting, progressing step by step and logging them
(suspending, resuming and abandoning: app/onboarding/transitions.py; completing with a form:
app/onboarding/completion.py).

Concurrency: the partial unique index on open runs decides which of racing starts wins.
Every change locks the run's row (FOR NO KEY UPDATE), so changes of one run happen one at a
time; progressing (which may award XP) and completing with a form (app/onboarding/completion.py)
first lock the user's row, so locks are always taken user first, then run — never the other
way round, which could deadlock with an award.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db import violates
from app.errors import DomainError, ErrorCode, NotFound
from app.modelbase import utcnow
from app.onboarding.authoring import STEPS
from app.onboarding.models import (
    OPEN_ONBOARDING_JOURNEY_INDEX,
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
    OnboardingStatus,
    OnboardingStep,
)
from app.progress.service import check_metadata
from app.realtime.outbox import EventType, record_event
from app.rewards.service import AwardResult, award_xp
from app.tenancy.models import Tenant
from app.tenancy.service import lock_user

XP_RESOURCE_TYPE = "onboarding"
MAX_ACTION = 64
ACTIVE = OnboardingJourneyStatus.ACTIVE
SUSPENDED = OnboardingJourneyStatus.SUSPENDED
COMPLETED = OnboardingJourneyStatus.COMPLETED
ABANDONED = OnboardingJourneyStatus.ABANDONED
OPEN_STATUSES = (ACTIVE, SUSPENDED)


@dataclass(frozen=True)
class ProgressResult:
    """The run after a step was completed, and the award if that completed the run."""

    journey: OnboardingJourney
    award: AwardResult | None


def xp_key(journey: OnboardingJourney) -> str:
    """The idempotency key of a run's completion XP (one award per run, however completed)."""
    return f"onboarding:{journey.id}"


async def runnable_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID) -> Onboarding:
    """A published onboarding with at least one step; NotFound on ``onboardingId`` otherwise."""
    has_steps = select(OnboardingStep.id).where(col(OnboardingStep.onboarding_id) == onboarding_id).exists()
    onboarding = (
        await session.execute(
            select(Onboarding).where(
                col(Onboarding.id) == onboarding_id,
                col(Onboarding.tenant_id) == tenant_id,
                col(Onboarding.status) == OnboardingStatus.PUBLISHED,
                has_steps,
            )
        )
    ).scalar_one_or_none()
    if onboarding is None:
        raise NotFound("Onboarding", field=["onboardingId"])
    return onboarding


async def _step_at(session: AsyncSession, onboarding_id: uuid.UUID, order: int) -> OnboardingStep | None:
    return (
        await session.execute(
            select(OnboardingStep).where(
                col(OnboardingStep.onboarding_id) == onboarding_id, col(OnboardingStep.position) == order
            )
        )
    ).scalar_one_or_none()


async def log_step(session: AsyncSession, journey: OnboardingJourney, action: str, metadata: dict[str, Any]) -> None:
    """Log ``action`` on the run's current step, keeping the step's name and order as they are now
    (a step removed since keeps the order, with an empty name)."""
    step = await _step_at(session, journey.onboarding_id, journey.current_step)
    session.add(
        OnboardingLog(
            tenant_id=journey.tenant_id,
            journey_id=journey.id,
            step_id=step.id if step else None,
            step_name=step.name if step else "",
            step_order=journey.current_step,
            action=action,
            metadata_=metadata,
            logged_at=utcnow(),
        )
    )


def record(session: AsyncSession, journey: OnboardingJourney, type: EventType, **extra: Any) -> None:
    """Record a user event about the run in the current transaction."""
    record_event(
        session,
        tenant_id=journey.tenant_id,
        user_id=journey.user_id,
        type=type,
        data={
            "onboardingJourneyId": str(journey.id),
            "onboardingId": str(journey.onboarding_id),
            "status": journey.status.value,
            "currentStep": journey.current_step,
            **extra,
        },
    )


async def start_onboarding(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    onboarding_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> OnboardingJourney:
    """A new ACTIVE run of a published onboarding at step 1; ALREADY_ACTIVE while one is open."""
    metadata = check_metadata(metadata)
    onboarding = await runnable_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id)
    now = utcnow()
    journey = OnboardingJourney(
        tenant_id=tenant_id,
        user_id=user_id,
        onboarding_id=onboarding.id,
        status=ACTIVE,
        current_step=1,
        started_at=now,
        updated_at=now,
        metadata_=metadata,
    )
    try:
        # A savepoint, so losing the race leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(journey)
            await session.flush()
    except IntegrityError as exc:
        if violates(exc, OPEN_ONBOARDING_JOURNEY_INDEX):
            raise DomainError(
                ErrorCode.ALREADY_ACTIVE,
                "an active or suspended run of this onboarding exists",
                field=["onboardingId"],
            ) from None
        raise
    await log_step(session, journey, "started", metadata)
    record(session, journey, EventType.ONBOARDING_STARTED)
    await session.flush()
    return journey


async def journey_for(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    share: bool = False,
) -> OnboardingJourney:
    """The user's run, row-locked for this transaction; NotFound on ``journeyId`` for anyone else's."""
    journey = (
        await session.execute(
            select(OnboardingJourney)
            .where(
                col(OnboardingJourney.id) == journey_id,
                col(OnboardingJourney.tenant_id) == tenant_id,
                col(OnboardingJourney.user_id) == user_id,
            )
            .with_for_update(read=share, key_share=not share)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if journey is None:
        raise NotFound("Onboarding journey", field=["journeyId"])
    return journey


async def complete_run(
    session: AsyncSession, *, tenant: Tenant, journey: OnboardingJourney, metadata: dict[str, Any]
) -> AwardResult:
    """Log ``completed`` on the current step, mark the (locked, open) run COMPLETED and award the
    onboarding's XP once per run."""
    await log_step(session, journey, "completed", metadata)
    now = utcnow()
    journey.status = COMPLETED
    journey.completed_at = now
    journey.updated_at = now
    await session.flush()
    record(session, journey, EventType.ONBOARDING_COMPLETED)
    onboarding = await session.get(Onboarding, journey.onboarding_id)
    return await award_xp(
        session,
        tenant=tenant,
        user_id=journey.user_id,
        amount=onboarding.xp_reward if onboarding is not None else 0,
        reason="onboarding_completed",
        resource_type=XP_RESOURCE_TYPE,
        resource_id=str(journey.onboarding_id),
        idempotency_key=xp_key(journey),
    )


async def progress_onboarding(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
) -> ProgressResult:
    """Complete the current step: on the last step the run is COMPLETED (its XP awarded once),
    otherwise it moves to the next step. NOT_ACTIVE unless the run is ACTIVE."""
    metadata = check_metadata(metadata)
    await lock_user(session, tenant_id=tenant.id, user_id=user_id, field=["journeyId"])
    journey = await journey_for(session, tenant_id=tenant.id, user_id=user_id, journey_id=journey_id)
    if journey.status is not ACTIVE:
        raise DomainError(ErrorCode.NOT_ACTIVE, "only an active onboarding can progress", field=["journeyId"])
    if journey.current_step >= await STEPS.count(session, journey.onboarding_id):
        award = await complete_run(session, tenant=tenant, journey=journey, metadata=metadata)
        return ProgressResult(journey=journey, award=award)
    await log_step(session, journey, "completed", metadata)
    journey.current_step += 1
    journey.updated_at = utcnow()
    await log_step(session, journey, "started", {})
    await session.flush()
    record(session, journey, EventType.ONBOARDING_PROGRESSED)
    return ProgressResult(journey=journey, award=None)


async def log_onboarding_step(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    action: str,
    metadata: dict[str, Any] | None = None,
) -> OnboardingJourney:
    """Append ``action`` (1..64 characters) to the log on the current step without moving."""
    action = action.strip()
    if not 1 <= len(action) <= MAX_ACTION:
        raise DomainError(ErrorCode.BAD_USER_INPUT, f"action must be 1 to {MAX_ACTION} characters", field=["action"])
    metadata = check_metadata(metadata)
    # A shared lock: logs of one run may be written together, but not while its status changes.
    journey = await journey_for(session, tenant_id=tenant_id, user_id=user_id, journey_id=journey_id, share=True)
    if journey.status is not ACTIVE:
        raise DomainError(ErrorCode.NOT_ACTIVE, "only an active onboarding can be logged", field=["journeyId"])
    await log_step(session, journey, action, metadata)
    await session.flush()
    record(session, journey, EventType.ONBOARDING_LOGGED, action=action)
    return journey
