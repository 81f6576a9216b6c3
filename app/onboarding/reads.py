"""Reading onboardings and runs: listings, and batched reads (one statement each) for dataloaders.
Onboardings are served as versions (app/versions/reads.py): users and runs never see a draft."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, any_, bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from app.onboarding.models import (
    Onboarding,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
    OnboardingStatus,
    OnboardingStep,
    OnboardingStepVersion,
    OnboardingVersion,
)
from app.onboarding.versions import ONBOARDINGS as ONBOARDINGS_KIND
from app.pagination import Count, Page, Window, fetch_page, forward, keyset
from app.versions.reads import ContentReads, served_columns, served_now

ONBOARDINGS = SQLModel.metadata.tables[Onboarding.__tablename__]
ONBOARDING_VERSIONS = SQLModel.metadata.tables[OnboardingVersion.__tablename__]
# What a served onboarding row has (see app/versions/reads.py), and a step row.
ONBOARDING_NAMES = (
    "id",
    "slug",
    "name",
    "description",
    "status",
    "xp_reward",
    "form",
    "created_at",
    "published_at",
    "version",
)
STEP_NAMES = ("id", "onboarding_id", "position", "name", "description", "metadata")
DRAFT_NAMES = ("id", "slug", "name", "description", "xp_reward", "form", "updated_at")


@cache
def _listing_statement(live: bool, statuses: int, window: tuple[bool, bool, bool] | None) -> Select[Any]:
    """Onboardings newest first: the live versions (what users list), or the served drafts (admins)."""
    if live:
        v = ONBOARDING_VERSIONS
        query = core_select(*served_columns(ONBOARDINGS_KIND, v, ONBOARDING_NAMES)).select_from(
            v.join(ONBOARDINGS, ONBOARDINGS.c.id == v.c.onboarding_id)
        )
        query = query.where(v.c.tenant_id == bindparam("tenant_id"), v.c.live)
        keys = (v.c.created_at, v.c.onboarding_id)
    else:
        d = ONBOARDINGS
        query = served_now(ONBOARDINGS_KIND, ONBOARDING_NAMES).where(d.c.tenant_id == bindparam("tenant_id"))
        if statuses:
            query = query.where(d.c.status == any_(bindparam("statuses", type_=ARRAY(d.c.status.type))))
        keys = (d.c.created_at, d.c.id)
    return keyset(query, keys, window, descending=True) if window is not None else query


async def list_onboardings(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    statuses: Sequence[OnboardingStatus] = (OnboardingStatus.PUBLISHED,),
    first: int | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    window: Window | None = None,
) -> Page[Any]:
    """A page of the tenant's onboardings with these statuses (all when empty), newest first, as
    served (their latest version). Published ones are read from their live versions."""
    window = forward(window, first=first, after=after)
    live = tuple(statuses) == (OnboardingStatus.PUBLISHED,)
    params: dict[str, Any] = {"tenant_id": tenant_id}
    if statuses and not live:
        params["statuses"] = list(statuses)
    shape = (live, len(statuses))
    rows = (await session.execute(_listing_statement(*shape, window.shape), params | window.params())).all()
    return window.page(rows, count=Count(_listing_statement(*shape, None), params))


async def get_onboarding(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, published_only: bool = False
) -> Onboarding | None:
    """One onboarding of the tenant (only a published one when ``published_only``), as an entity (its draft)."""
    query = select(Onboarding).where(col(Onboarding.id) == onboarding_id, col(Onboarding.tenant_id) == tenant_id)
    if published_only:
        query = query.where(col(Onboarding.status) == OnboardingStatus.PUBLISHED)
    return (await session.execute(query)).scalar_one_or_none()


# The batched reads of onboardings as served, their steps, drafts and versions (app/versions/reads.py).
ONBOARDING_READS = ContentReads(
    ONBOARDINGS_KIND, names=ONBOARDING_NAMES, item_names=STEP_NAMES, draft_names=DRAFT_NAMES
)


async def onboardings_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The tenant's onboardings with these ids as served now (their latest version)."""
    return await ONBOARDING_READS.latest(session, tenant_id=tenant_id, ids=ids)


async def steps_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The tenant's onboarding steps with these ids as in their onboarding's latest version, or
    (``item_version`` 0) as in the draft when not published yet."""
    return await ONBOARDING_READS.items_by_ids(session, tenant_id=tenant_id, ids=ids)


async def steps_of_onboardings(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[OnboardingStep]]:
    """Each onboarding's draft steps in order, in one query."""
    result = await session.execute(
        select(OnboardingStep)
        .where(col(OnboardingStep.tenant_id) == tenant_id, col(OnboardingStep.onboarding_id).in_(onboarding_ids))
        .order_by(col(OnboardingStep.onboarding_id), col(OnboardingStep.position))
    )
    grouped: dict[uuid.UUID, list[OnboardingStep]] = {i: [] for i in onboarding_ids}
    for step in result.scalars():
        grouped[step.onboarding_id].append(step)
    return grouped


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


def _run_steps(*more: Any) -> Any:
    """A run's steps: those of the onboarding version it pins."""
    return and_(
        col(OnboardingStepVersion.onboarding_id) == col(OnboardingJourney.onboarding_id),
        col(OnboardingStepVersion.version) == col(OnboardingJourney.onboarding_version),
        *more,
    )


async def progress_of_journeys(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OnboardingProgress]:
    """Each run's progress against the steps of its version, in one query."""
    rows = await session.execute(
        select(
            col(OnboardingJourney.id),
            col(OnboardingJourney.status),
            col(OnboardingJourney.current_step),
            func.count(col(OnboardingStepVersion.id)),
        )
        .select_from(OnboardingJourney)
        .outerjoin(OnboardingStepVersion, _run_steps())
        .where(col(OnboardingJourney.tenant_id) == tenant_id, col(OnboardingJourney.id).in_(journey_ids))
        .group_by(col(OnboardingJourney.id))
    )
    return {ident: onboarding_progress(status, current, int(total)) for ident, status, current, total in rows.all()}


async def current_steps(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, OnboardingStepVersion | None]:
    """The step at each run's current order in its version (None if there is none), in one query."""
    rows = await session.execute(
        select(col(OnboardingJourney.id), OnboardingStepVersion)
        .select_from(OnboardingJourney)
        .outerjoin(
            OnboardingStepVersion,
            _run_steps(col(OnboardingStepVersion.position) == col(OnboardingJourney.current_step)),
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
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
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
    window = forward(window, first=first, after=after)
    return await fetch_page(session, query, keys=JOURNEY_KEYS, window=window, descending=True)
