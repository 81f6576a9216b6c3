"""Completing an onboarding with the answers to its form: classifying them, completing the
user's run, awarding its XP once and starting the recommended journeys — in one transaction.

Which run a completion belongs to (the user's row is locked first, so one user's completions
happen one at a time and each sees what the previous one committed):

- an open (ACTIVE or SUSPENDED) run of the onboarding is completed on its current step;
- else, if the newest run is COMPLETED and already classified, the call is a retry: the stored
  classification and run come back (``repeated``) and nothing is written;
- else, if the newest run is COMPLETED without a classification (it was finished step by step
  with ``progress_onboarding``), the classification is attached to it; its XP was awarded then;
- else (no run, or the newest was ABANDONED) a new run is created already COMPLETED, at step 1,
  logged ``started`` and ``completed`` there, and its XP is awarded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.errors import DomainError, ErrorCode
from app.modelbase import utcnow
from app.onboarding.classification import Outcome, Response, classify
from app.onboarding.lifecycle import (
    COMPLETED,
    OPEN_STATUSES,
    complete_run,
    log_step,
    runnable_onboarding,
)
from app.onboarding.models import Classification, Onboarding, OnboardingJourney, OnboardingVersion
from app.pagination import Page, Window, fetch_page, forward
from app.progress.models import JourneyInstance
from app.progress.service import start_journey
from app.realtime.outbox import EventType, record_event
from app.rewards.service import AwardResult
from app.tenancy.models import Tenant
from app.tenancy.service import lock_user

CLASSIFICATION_KEYS = (col(Classification.created_at), col(Classification.id))


@dataclass(frozen=True)
class CompletionResult:
    """What completing did; ``repeated`` when it had already happened and nothing changed."""

    classification: Classification
    journey: OnboardingJourney
    started_journeys: list[JourneyInstance]
    award: AwardResult | None
    repeated: bool


async def _runs(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, onboarding_id: uuid.UUID
) -> tuple[OnboardingJourney | None, OnboardingJourney | None]:
    """The user's open run of the onboarding (row-locked) and, when there is none, the newest run."""
    runs = select(OnboardingJourney).where(
        col(OnboardingJourney.tenant_id) == tenant_id,
        col(OnboardingJourney.user_id) == user_id,
        col(OnboardingJourney.onboarding_id) == onboarding_id,
    )
    open_run = (
        await session.execute(
            runs.where(col(OnboardingJourney.status).in_(OPEN_STATUSES))
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if open_run is not None:
        return open_run, None
    newest = (
        await session.execute(
            runs.order_by(col(OnboardingJourney.started_at).desc(), col(OnboardingJourney.id).desc()).limit(1)
        )
    ).scalar_one_or_none()
    return None, newest


async def _form_of(session: AsyncSession, onboarding_id: uuid.UUID, version: int) -> dict[str, Any] | None:
    found = await session.get(OnboardingVersion, (onboarding_id, version))
    return found.form if found is not None else None


async def _classification_of(session: AsyncSession, journey: OnboardingJourney) -> Classification | None:
    return (
        await session.execute(select(Classification).where(col(Classification.journey_id) == journey.id))
    ).scalar_one_or_none()


async def _new_completed_run(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    onboarding: Onboarding,
    metadata: dict[str, Any],
) -> tuple[OnboardingJourney, AwardResult]:
    now = utcnow()
    journey = OnboardingJourney(
        tenant_id=tenant.id,
        user_id=user_id,
        onboarding_id=onboarding.id,
        onboarding_version=onboarding.version,
        status=COMPLETED,
        current_step=1,
        started_at=now,
        updated_at=now,
    )
    session.add(journey)
    await session.flush()
    await log_step(session, journey, "started", {})
    # Stored COMPLETED from the start (an open row could collide with a racing start), so
    # only onboarding.completed is announced; complete_run stamps it and awards the XP once.
    award = await complete_run(session, tenant=tenant, journey=journey, metadata=metadata)
    return journey, award


async def _start_recommended(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    outcome: Outcome,
    token_timezone: str | None,
    user_timezone: str | None,
) -> list[JourneyInstance]:
    """Start each recommended journey that is published and not already open for the user."""
    started: list[JourneyInstance] = []
    for journey_id in dict.fromkeys(outcome.recommended_journey_ids):
        try:
            started.append(
                await start_journey(
                    session,
                    viewer_tenant=tenant,
                    user_id=user_id,
                    journey_id=journey_id,
                    token_timezone=token_timezone,
                    user_timezone=user_timezone,
                )
            )
        except DomainError as exc:
            # Gone or unpublished since the form was written, or already running: skip it.
            # (start_journey fails before writing or inside a savepoint, so the session is fine.)
            if exc.code not in (ErrorCode.NOT_FOUND, ErrorCode.ALREADY_ACTIVE):
                raise
    return started


async def complete_onboarding(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    onboarding_id: uuid.UUID,
    responses: Sequence[Response],
    start_recommended: bool = True,
    token_timezone: str | None = None,
    user_timezone: str | None = None,
) -> CompletionResult:
    """Classify the answers, store them, complete the user's run of the onboarding (XP once) and
    start the recommended journeys not already running. A retry returns the first result."""
    onboarding = await runnable_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding_id)
    await lock_user(session, tenant_id=tenant.id, user_id=user_id)
    open_run, newest = await _runs(session, tenant_id=tenant.id, user_id=user_id, onboarding_id=onboarding.id)
    # The form of the version the run follows (a new run follows the latest). Invalid answers
    # (or no form) fail here, before anything is written.
    run = open_run or (newest if newest is not None and newest.status is COMPLETED else None)
    version = run.onboarding_version if run is not None else onboarding.version
    outcome = classify(await _form_of(session, onboarding.id, version), responses)
    segment_key = outcome.segment.key
    award: AwardResult | None = None
    if open_run is not None:
        journey = open_run
        award = await complete_run(session, tenant=tenant, journey=journey, metadata={"classification": segment_key})
    elif newest is not None and newest.status is COMPLETED:
        journey = newest
        stored = await _classification_of(session, journey)
        if stored is not None:
            return CompletionResult(stored, journey, [], None, repeated=True)
    else:
        journey, award = await _new_completed_run(
            session,
            tenant=tenant,
            user_id=user_id,
            onboarding=onboarding,
            metadata={"classification": segment_key},
        )
    classification = Classification(
        tenant_id=tenant.id,
        user_id=user_id,
        onboarding_id=onboarding.id,
        journey_id=journey.id,
        responses=[response.to_json() for response in responses],
        segment_key=segment_key,
        result=outcome.to_json(),
        created_at=utcnow(),
    )
    session.add(classification)
    await session.flush()
    record_event(
        session,
        tenant_id=tenant.id,
        user_id=user_id,
        type=EventType.CLASSIFICATION_COMPLETED,
        data={
            "classificationId": str(classification.id),
            "onboardingId": str(onboarding.id),
            "onboardingJourneyId": str(journey.id),
            "segmentKey": segment_key,
            "recommendedJourneyIds": [str(i) for i in outcome.recommended_journey_ids],
        },
    )
    started = (
        await _start_recommended(
            session,
            tenant=tenant,
            user_id=user_id,
            outcome=outcome,
            token_timezone=token_timezone,
            user_timezone=user_timezone,
        )
        if start_recommended
        else []
    )
    return CompletionResult(classification, journey, started, award, repeated=False)


async def latest_classifications(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Classification]:
    """Each user's newest classification (users without one are left out), in one query."""
    rows = await session.execute(
        select(Classification)
        .where(col(Classification.tenant_id) == tenant_id, col(Classification.user_id).in_(user_ids))
        .ext(distinct_on(col(Classification.user_id)))
        .order_by(col(Classification.user_id), col(Classification.created_at).desc(), col(Classification.id).desc())
    )
    return {c.user_id: c for c in rows.scalars()}


async def classification_history(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[Classification]:
    """A page of the user's classifications, newest first (``created_at`` desc, then ``id``)."""
    query = select(Classification).where(
        col(Classification.tenant_id) == tenant_id, col(Classification.user_id) == user_id
    )
    window = forward(window, first=first, after=after)
    return await fetch_page(session, query, keys=CLASSIFICATION_KEYS, window=window, descending=True)
