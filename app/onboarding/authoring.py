"""Onboardings authored by admins (their steps and classification form), and their reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.authoring import Positions, slug_taken
from app.catalog.models import Journey
from app.errors import DomainError, ErrorCode, NotFound, Problems
from app.modelbase import UNSET, PartialFields, utcnow
from app.onboarding.form_input import clean_form
from app.onboarding.forms import recommended_journey_ids
from app.onboarding.models import Onboarding, OnboardingStatus, OnboardingStep
from app.realtime.outbox import EventType, record_event
from app.tenancy.service import check_slug

MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_XP = 1_000_000
MAX_STEPS = 100
STEPS = Positions(OnboardingStep, OnboardingStep.onboarding_id, "Onboarding step", "onboardingId")


@dataclass
class OnboardingFields(PartialFields):
    """Authorable onboarding fields; ``UNSET`` ones are left as they are."""

    slug: Any = UNSET
    name: Any = UNSET
    description: Any = UNSET
    xp_reward: Any = UNSET


@dataclass
class StepFields(PartialFields):
    """Authorable onboarding-step fields; ``UNSET`` ones are left as they are."""

    name: Any = UNSET
    description: Any = UNSET
    metadata: Any = UNSET


def _clean_onboarding(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if creating or "slug" in values:
        slug = values.get("slug")
        if slug is None:
            problems.add("slug", "is required")
        else:
            check_slug(problems, "slug", slug)
            clean["slug"] = slug
    if creating or "name" in values:
        clean["name"] = problems.text("name", values.get("name"), required=True, limit=MAX_NAME)
    if "description" in values:
        clean["description"] = (
            problems.text("description", values["description"], required=False, limit=MAX_DESCRIPTION) or ""
        )
    if "xp_reward" in values:
        xp = values["xp_reward"]
        if xp is None:
            problems.add("xpReward", "must not be null")
        elif not 0 <= xp <= MAX_XP:
            problems.add("xpReward", f"must be between 0 and {MAX_XP}")
        clean["xp_reward"] = xp
    problems.raise_if_any()
    return clean


def _clean_step(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if creating or "name" in values:
        clean["name"] = problems.text("name", values.get("name"), required=True, limit=MAX_NAME)
    if "description" in values:
        clean["description"] = (
            problems.text("description", values["description"], required=False, limit=MAX_DESCRIPTION) or ""
        )
    if "metadata" in values:
        clean["metadata_"] = values["metadata"] or {}
    problems.raise_if_any()
    return clean


def _record(session: AsyncSession, onboarding: Onboarding, type: EventType, **extra: Any) -> None:
    # Authoring events go to the admin channel only (no user).
    record_event(
        session,
        tenant_id=onboarding.tenant_id,
        user_id=None,
        type=type,
        data={
            "onboardingId": str(onboarding.id),
            "slug": onboarding.slug,
            "status": onboarding.status.value,
            **extra,
        },
    )


async def create_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, values: OnboardingFields) -> Onboarding:
    """A new DRAFT onboarding."""
    clean = _clean_onboarding(values.given(), creating=True)
    if await slug_taken(session, Onboarding, tenant_id=tenant_id, slug=clean["slug"], but=None):
        raise DomainError(ErrorCode.BAD_USER_INPUT, "slug is taken", field=["input", "slug"])
    onboarding = Onboarding(tenant_id=tenant_id, **clean)
    session.add(onboarding)
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_CREATED)
    return onboarding


async def lock_onboarding(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, field: str = "id"
) -> Onboarding:
    """The tenant's onboarding, locked for this transaction; ``NotFound`` (on ``field``) otherwise."""
    onboarding = (
        await session.execute(
            select(Onboarding)
            .where(col(Onboarding.id) == onboarding_id, col(Onboarding.tenant_id) == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if onboarding is None:
        raise NotFound("Onboarding", field=[field])
    return onboarding


async def update_onboarding(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, values: OnboardingFields
) -> Onboarding:
    """Change the given fields of an onboarding."""
    clean = _clean_onboarding(values.given(), creating=False)
    onboarding = await lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id)
    if "slug" in clean and await slug_taken(
        session, Onboarding, tenant_id=tenant_id, slug=clean["slug"], but=onboarding.id
    ):
        raise DomainError(ErrorCode.BAD_USER_INPUT, "slug is taken", field=["input", "slug"])
    for name, value in clean.items():
        setattr(onboarding, name, value)
    onboarding.updated_at = utcnow()
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_UPDATED, fields=sorted(clean))
    return onboarding


async def publish_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID) -> Onboarding:
    """Make an onboarding available to users; it needs at least one step. Publishing twice is a no-op."""
    onboarding = await lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id)
    if onboarding.status is OnboardingStatus.PUBLISHED:
        return onboarding
    if await STEPS.count(session, onboarding.id) == 0:
        raise DomainError(
            ErrorCode.BAD_USER_INPUT, "an onboarding needs at least one step to be published", field=["id"]
        )
    onboarding.status = OnboardingStatus.PUBLISHED
    onboarding.published_at = utcnow()
    onboarding.updated_at = onboarding.published_at
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_PUBLISHED)
    return onboarding


async def archive_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID) -> Onboarding:
    """Withdraw an onboarding from users; archiving twice is a no-op."""
    onboarding = await lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id)
    if onboarding.status is OnboardingStatus.ARCHIVED:
        return onboarding
    onboarding.status = OnboardingStatus.ARCHIVED
    onboarding.updated_at = utcnow()
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_ARCHIVED)
    return onboarding


async def add_step(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, values: StepFields
) -> OnboardingStep:
    """Append a step to an onboarding (it goes last)."""
    clean = _clean_step(values.given(), creating=True)
    onboarding = await lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id, field="onboardingId")
    position = await STEPS.next_position(
        session, onboarding.id, limit=MAX_STEPS, error=f"an onboarding has at most {MAX_STEPS} steps"
    )
    step = OnboardingStep(tenant_id=tenant_id, onboarding_id=onboarding.id, position=position, **clean)
    session.add(step)
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_STEP_ADDED, stepId=str(step.id), order=step.position)
    return step


async def _lock_step(
    session: AsyncSession, *, tenant_id: uuid.UUID, step_id: uuid.UUID
) -> tuple[Onboarding, OnboardingStep]:
    return await STEPS.lock(
        session,
        tenant_id=tenant_id,
        item_id=step_id,
        lock_parent=lambda onboarding_id: lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id),
    )


async def update_step(
    session: AsyncSession, *, tenant_id: uuid.UUID, step_id: uuid.UUID, values: StepFields
) -> OnboardingStep:
    """Change the given fields of an onboarding step."""
    clean = _clean_step(values.given(), creating=False)
    onboarding, step = await _lock_step(session, tenant_id=tenant_id, step_id=step_id)
    for name, value in clean.items():
        setattr(step, name, value)
    step.updated_at = utcnow()
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_STEP_UPDATED, stepId=str(step.id), fields=sorted(clean))
    return step


async def remove_step(session: AsyncSession, *, tenant_id: uuid.UUID, step_id: uuid.UUID) -> OnboardingStep:
    """Delete a step; later steps move up one. A published onboarding keeps at least one step.
    Returns the removed step as it was."""
    onboarding, step = await _lock_step(session, tenant_id=tenant_id, step_id=step_id)
    if onboarding.status is OnboardingStatus.PUBLISHED and await STEPS.count(session, onboarding.id) <= 1:
        raise DomainError(ErrorCode.BAD_USER_INPUT, "a published onboarding keeps at least one step", field=["id"])
    await STEPS.remove(session, step, onboarding.id)
    _record(session, onboarding, EventType.ONBOARDING_STEP_REMOVED, stepId=str(step.id), order=step.position)
    return step


async def reorder_steps(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, step_ids: Sequence[uuid.UUID]
) -> Onboarding:
    """Set orders 1..n in the order given; the ids must be exactly the onboarding's steps."""
    onboarding = await lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id, field="onboardingId")
    STEPS.reorder(await STEPS.ordered(session, onboarding.id), step_ids, field="stepIds", what="the onboarding's steps")
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_STEPS_REORDERED, stepIds=[str(i) for i in step_ids])
    return onboarding


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


async def set_classification_form(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, form_input: dict[str, Any]
) -> Onboarding:
    """Replace an onboarding's classification form (an empty form clears it). Every
    recommended journey must be one of the tenant's journeys."""
    form = clean_form(form_input)
    onboarding = await lock_onboarding(session, tenant_id=tenant_id, onboarding_id=onboarding_id, field="onboardingId")
    if form is not None:
        wanted = recommended_journey_ids(form)
        known = set(
            (
                await session.execute(
                    select(Journey.id).where(col(Journey.tenant_id) == tenant_id, col(Journey.id).in_(wanted))
                )
            ).scalars()
        )
        # Paths follow the input as sent (the cleaned form drops duplicate ids).
        problems = Problems("input")
        for i, segment in enumerate(form_input.get("segments") or []):
            for j, journey_id in enumerate(segment.get("recommendedJourneys") or []):
                if _as_uuid(journey_id) not in known:
                    problems.add(("segments", str(i), "recommendedJourneys", str(j)), "is not a journey of this tenant")
        problems.raise_if_any()
    onboarding.form = form
    onboarding.updated_at = utcnow()
    await session.flush()
    _record(session, onboarding, EventType.ONBOARDING_FORM_SET, cleared=form is None)
    return onboarding


# --- reads --------------------------------------------------------------------------------
