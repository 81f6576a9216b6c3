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

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.errors import DomainError, ErrorCode, NotFound
from app.modelbase import utcnow
from app.onboarding.models import (
    OPEN_ONBOARDING_JOURNEY_INDEX,
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
    OnboardingStatus,
    OnboardingStepVersion,
    OnboardingVersion,
)
from app.progress.service import check_metadata
from app.realtime.outbox import EventType, record_event
from app.rewards.service import AwardResult, award_xp
from app.tenancy.actors import actor_of
from app.tenancy.models import Tenant
from app.tenancy.service import lock_user
from app.versions.runs import insert_open_run, lock_run, run_owner

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
    """A published onboarding (its latest version has at least one step: publishing needs one);
    NotFound on ``onboardingId`` otherwise. Its ``version`` is the one a new run follows."""
    onboarding = (
        await session.execute(
            select(Onboarding).where(
                col(Onboarding.id) == onboarding_id,
                col(Onboarding.tenant_id) == tenant_id,
                col(Onboarding.status) == OnboardingStatus.PUBLISHED,
                col(Onboarding.version) > 0,
            )
        )
    ).scalar_one_or_none()
    if onboarding is None:
        raise NotFound("Onboarding", field=["onboardingId"])
    return onboarding


def _steps_of(journey: OnboardingJourney) -> Any:
    """The steps of the onboarding version the run follows."""
    return select(OnboardingStepVersion).where(
        col(OnboardingStepVersion.onboarding_id) == journey.onboarding_id,
        col(OnboardingStepVersion.version) == journey.onboarding_version,
    )


async def _step_at(session: AsyncSession, journey: OnboardingJourney, order: int) -> OnboardingStepVersion | None:
    query = _steps_of(journey).where(col(OnboardingStepVersion.position) == order)
    return (await session.execute(query)).scalar_one_or_none()


async def step_count(session: AsyncSession, journey: OnboardingJourney) -> int:
    """How many steps the run's version has."""
    return int(await session.scalar(select(func.count()).select_from(_steps_of(journey).subquery())) or 0)


async def log_step(session: AsyncSession, journey: OnboardingJourney, action: str, metadata: dict[str, Any]) -> None:
    """Log ``action`` on the run's current step, keeping the step's name and order as they are now
    (a step removed since keeps the order, with an empty name)."""
    step = await _step_at(session, journey, journey.current_step)
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
            **actor_of(session, owner_id=journey.user_id).columns(),
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
            "onboardingVersion": journey.onboarding_version,
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
        # The version published now is the one the run follows, whatever is published later.
        onboarding_version=onboarding.version,
        status=ACTIVE,
        current_step=1,
        started_at=now,
        updated_at=now,
        metadata_=metadata,
    )
    await insert_open_run(
        session, journey, open_index=OPEN_ONBOARDING_JOURNEY_INDEX, what="onboarding", field="onboardingId"
    )
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
    journey: OnboardingJourney = await lock_run(
        session,
        OnboardingJourney,
        tenant_id=tenant_id,
        user_id=user_id,
        run_id=journey_id,
        share=share,
        label="Onboarding journey",
        field="journeyId",
    )
    return journey


async def journey_owner(session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID) -> uuid.UUID:
    """Whose run of the tenant this is (an admin acts on any); NotFound on ``journeyId`` otherwise."""
    return await run_owner(
        session,
        OnboardingJourney,
        tenant_id=tenant_id,
        run_id=journey_id,
        label="Onboarding journey",
        field="journeyId",
    )


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
    onboarding = await session.get(OnboardingVersion, (journey.onboarding_id, journey.onboarding_version))
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


def already_progressed(journey: OnboardingJourney, expected_step: int) -> bool:
    """Whether a progress call made at ``expected_step`` already happened on the (locked) run:
    the run is past that step, or completed on it. STEP_MISMATCH when the run is not there yet.

    The run's row lock serialises racing calls, so of many sent at the same step exactly one
    progresses and the others find it done."""
    if expected_step > journey.current_step:
        raise DomainError(
            ErrorCode.STEP_MISMATCH,
            f"the run is at step {journey.current_step}, not yet at step {expected_step}",
            field=["expectedStep"],
        )
    return expected_step < journey.current_step or journey.status is COMPLETED


async def progress_onboarding(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    journey_id: uuid.UUID,
    metadata: dict[str, Any] | None = None,
    expected_step: int | None = None,
) -> ProgressResult:
    """Complete the current step: on the last step the run is COMPLETED (its XP awarded once),
    otherwise it moves to the next step. NOT_ACTIVE unless the run is ACTIVE. With
    ``expected_step`` (see :func:`already_progressed`) a retried call changes nothing."""
    metadata = check_metadata(metadata)
    if expected_step is not None and expected_step < 1:
        raise DomainError(ErrorCode.BAD_USER_INPUT, "expectedStep must be at least 1", field=["expectedStep"])
    await lock_user(session, tenant_id=tenant.id, user_id=user_id, field=["journeyId"])
    journey = await journey_for(session, tenant_id=tenant.id, user_id=user_id, journey_id=journey_id)
    if expected_step is not None and already_progressed(journey, expected_step):
        return ProgressResult(journey=journey, award=None)
    if journey.status is not ACTIVE:
        raise DomainError(ErrorCode.NOT_ACTIVE, "only an active onboarding can progress", field=["journeyId"])
    if journey.current_step >= await step_count(session, journey):
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
