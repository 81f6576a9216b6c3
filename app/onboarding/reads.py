"""Reading onboardings and runs: listings, and batched reads (one statement each) for dataloaders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.onboarding.models import (
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
    OnboardingStatus,
    OnboardingStep,
)
from app.pagination import Page, fetch_page

LISTING_KEYS = (col(Onboarding.created_at), col(Onboarding.id))


async def list_onboardings(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    statuses: Sequence[OnboardingStatus] = (OnboardingStatus.PUBLISHED,),
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Page[Onboarding]:
    """A page of the tenant's onboardings with these statuses (all when empty), newest first."""
    query = select(Onboarding).where(col(Onboarding.tenant_id) == tenant_id)
    if statuses:
        query = query.where(col(Onboarding.status).in_(statuses))
    return await fetch_page(session, query, keys=LISTING_KEYS, after=after, first=first, descending=True)


async def get_onboarding(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, published_only: bool = False
) -> Onboarding | None:
    """One onboarding of the tenant (only a published one when ``published_only``)."""
    query = select(Onboarding).where(col(Onboarding.id) == onboarding_id, col(Onboarding.tenant_id) == tenant_id)
    if published_only:
        query = query.where(col(Onboarding.status) == OnboardingStatus.PUBLISHED)
    return (await session.execute(query)).scalar_one_or_none()


async def onboardings_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Onboarding]:
    """The tenant's onboardings with these ids."""
    result = await session.execute(
        select(Onboarding).where(col(Onboarding.tenant_id) == tenant_id, col(Onboarding.id).in_(ids))
    )
    return {o.id: o for o in result.scalars()}


async def steps_of_onboardings(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[OnboardingStep]]:
    """Each onboarding's steps in order, in one query."""
    result = await session.execute(
        select(OnboardingStep)
        .where(col(OnboardingStep.tenant_id) == tenant_id, col(OnboardingStep.onboarding_id).in_(onboarding_ids))
        .order_by(col(OnboardingStep.onboarding_id), col(OnboardingStep.position))
    )
    grouped: dict[uuid.UUID, list[OnboardingStep]] = {i: [] for i in onboarding_ids}
    for step in result.scalars():
        grouped[step.onboarding_id].append(step)
    return grouped


async def steps_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OnboardingStep]:
    """The tenant's onboarding steps with these ids."""
    result = await session.execute(
        select(OnboardingStep).where(col(OnboardingStep.tenant_id) == tenant_id, col(OnboardingStep.id).in_(ids))
    )
    return {s.id: s for s in result.scalars()}


JOURNEY_KEYS = (col(OnboardingJourney.started_at), col(OnboardingJourney.id))


@dataclass(frozen=True)
class OnboardingProgress:
    """How far a run is: the orders of the steps done, out of the onboarding's steps now."""

    percent: int
    completed_steps: list[int]
    total_steps: int
    current_step: int


async def onboarding_journeys_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OnboardingJourney]:
    """The tenant's runs with these ids (any user's: callers check whose they are)."""
    rows = await session.execute(
        select(OnboardingJourney).where(
            col(OnboardingJourney.tenant_id) == tenant_id, col(OnboardingJourney.id).in_(ids)
        )
    )
    return {j.id: j for j in rows.scalars()}


async def logs_of_journeys(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[OnboardingLog]]:
    """Each run's log, oldest first (by ``id``, the order entries were written)."""
    rows = await session.execute(
        select(OnboardingLog)
        .where(col(OnboardingLog.tenant_id) == tenant_id, col(OnboardingLog.journey_id).in_(journey_ids))
        .order_by(col(OnboardingLog.journey_id), col(OnboardingLog.id))
    )
    grouped: dict[uuid.UUID, list[OnboardingLog]] = {i: [] for i in journey_ids}
    for entry in rows.scalars():
        grouped[entry.journey_id].append(entry)
    return grouped


def onboarding_progress(status: OnboardingJourneyStatus, current_step: int, total_steps: int) -> OnboardingProgress:
    """A run's progress: steps before the current one are done (every step once COMPLETED)."""
    done = total_steps if status is OnboardingJourneyStatus.COMPLETED else min(current_step - 1, total_steps)
    steps = list(range(1, done + 1))
    # A completed run is done whatever its steps became; an open one counts the steps now.
    percent = 100 if status is OnboardingJourneyStatus.COMPLETED else (done * 100 // total_steps if total_steps else 0)
    return OnboardingProgress(
        percent=percent, completed_steps=steps, total_steps=total_steps, current_step=current_step
    )


async def progress_of_journeys(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OnboardingProgress]:
    """Each run's progress against the onboarding's steps now, in one query."""
    rows = await session.execute(
        select(
            col(OnboardingJourney.id),
            col(OnboardingJourney.status),
            col(OnboardingJourney.current_step),
            func.count(col(OnboardingStep.id)),
        )
        .select_from(OnboardingJourney)
        .outerjoin(OnboardingStep, col(OnboardingStep.onboarding_id) == col(OnboardingJourney.onboarding_id))
        .where(col(OnboardingJourney.tenant_id) == tenant_id, col(OnboardingJourney.id).in_(journey_ids))
        .group_by(col(OnboardingJourney.id))
    )
    return {ident: onboarding_progress(status, current, int(total)) for ident, status, current, total in rows.all()}


async def current_steps(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OnboardingStep | None]:
    """The step at each run's current order now (None if there is none), in one query."""
    rows = await session.execute(
        select(col(OnboardingJourney.id), OnboardingStep)
        .select_from(OnboardingJourney)
        .outerjoin(
            OnboardingStep,
            and_(
                col(OnboardingStep.onboarding_id) == col(OnboardingJourney.onboarding_id),
                col(OnboardingStep.position) == col(OnboardingJourney.current_step),
            ),
        )
        .where(col(OnboardingJourney.tenant_id) == tenant_id, col(OnboardingJourney.id).in_(journey_ids))
    )
    return {ident: step for ident, step in rows.all()}  # noqa: C416 (typed rows)


async def list_onboarding_journeys(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None = None,
    onboarding_id: uuid.UUID | None = None,
    status: OnboardingJourneyStatus | None = None,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    first: int,
    after: Sequence[Any] | None,
) -> Page[OnboardingJourney]:
    """A page of runs, newest started first (``started_at`` desc, then ``id``), filtered by user,
    onboarding, status and a start window (``started_from`` inclusive, ``started_to`` exclusive)."""
    query = select(OnboardingJourney).where(col(OnboardingJourney.tenant_id) == tenant_id)
    if user_id is not None:
        query = query.where(col(OnboardingJourney.user_id) == user_id)
    if onboarding_id is not None:
        query = query.where(col(OnboardingJourney.onboarding_id) == onboarding_id)
    if status is not None:
        query = query.where(col(OnboardingJourney.status) == status)
    if started_from is not None:
        query = query.where(col(OnboardingJourney.started_at) >= started_from)
    if started_to is not None:
        query = query.where(col(OnboardingJourney.started_at) < started_to)
    return await fetch_page(session, query, keys=JOURNEY_KEYS, after=after, first=first, descending=True)
