"""Onboardings authored by admins (their steps and classification form). Every edit changes the
draft; users and runs see what ``publish_onboarding`` snapshots as a version (app/versions/)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.authoring import Cleaner
from app.catalog.models import Journey
from app.errors import Problems
from app.modelbase import UNSET, PartialFields, utcnow
from app.onboarding.form_input import clean_form
from app.onboarding.forms import recommended_journey_ids
from app.onboarding.models import Onboarding, OnboardingStep
from app.onboarding.versions import ONBOARDINGS
from app.realtime.outbox import EventType
from app.versions.authoring import Authoring

MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_XP = 1_000_000
MAX_STEPS = 100


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


def _clean_onboarding(values: dict[str, Any], creating: bool) -> dict[str, Any]:
    cleaner = Cleaner(values, creating=creating)
    cleaner.slug()
    cleaner.name("name", limit=MAX_NAME)
    cleaner.text("description", limit=MAX_DESCRIPTION, empty="")
    cleaner.whole("xp_reward", "xpReward", low=0, high=MAX_XP, nullable=False)
    return cleaner.done()


def _clean_step(values: dict[str, Any], creating: bool) -> dict[str, Any]:
    cleaner = Cleaner(values, creating=creating)
    cleaner.name("name", limit=MAX_NAME)
    cleaner.text("description", limit=MAX_DESCRIPTION, empty="")
    cleaner.metadata()
    return cleaner.done()


AUTHORING: Authoring[Onboarding, OnboardingStep] = Authoring(
    kind=ONBOARDINGS,
    fields=OnboardingFields,
    item_fields=StepFields,
    clean=_clean_onboarding,
    clean_item=_clean_step,
    one="an onboarding",
    item_noun="step",
    max_items=MAX_STEPS,
    position_key="order",
    removal_has_position=True,
    published_keeps_one=True,
)


async def create_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, values: OnboardingFields) -> Onboarding:
    """A new DRAFT onboarding."""
    return await AUTHORING.create(session, tenant_id=tenant_id, values=values)


async def lock_onboarding(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, field: str = "id"
) -> Onboarding:
    """The tenant's onboarding, locked for this transaction; ``NotFound`` (on ``field``) otherwise."""
    return await AUTHORING.lock(session, tenant_id=tenant_id, definition_id=onboarding_id, field=field)


async def update_onboarding(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, values: OnboardingFields
) -> Onboarding:
    """Change the given fields of an onboarding."""
    return await AUTHORING.update(session, tenant_id=tenant_id, definition_id=onboarding_id, values=values)


async def publish_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID) -> Onboarding:
    """Publish the draft (fields, steps, form) as the onboarding's next version (it needs at least
    one step); a no-op when nothing changed since the latest version."""
    return await AUTHORING.publish(session, tenant_id=tenant_id, definition_id=onboarding_id)


async def archive_onboarding(session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID) -> Onboarding:
    """Withdraw an onboarding from users; archiving twice is a no-op. Runs keep their versions."""
    return await AUTHORING.archive(session, tenant_id=tenant_id, definition_id=onboarding_id)


async def add_step(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, values: StepFields
) -> OnboardingStep:
    """Append a step to an onboarding (it goes last)."""
    return await AUTHORING.add_item(session, tenant_id=tenant_id, definition_id=onboarding_id, values=values)


async def update_step(
    session: AsyncSession, *, tenant_id: uuid.UUID, step_id: uuid.UUID, values: StepFields
) -> OnboardingStep:
    """Change the given fields of an onboarding step."""
    return await AUTHORING.update_item(session, tenant_id=tenant_id, item_id=step_id, values=values)


async def remove_step(session: AsyncSession, *, tenant_id: uuid.UUID, step_id: uuid.UUID) -> OnboardingStep:
    """Delete a step; later steps move up one. A published onboarding keeps at least one step.
    Returns the removed step as it was."""
    return await AUTHORING.remove_item(session, tenant_id=tenant_id, item_id=step_id)


async def reorder_steps(
    session: AsyncSession, *, tenant_id: uuid.UUID, onboarding_id: uuid.UUID, step_ids: Sequence[uuid.UUID]
) -> Onboarding:
    """Set orders 1..n in the order given; the ids must be exactly the onboarding's steps."""
    return await AUTHORING.reorder_items(session, tenant_id=tenant_id, definition_id=onboarding_id, item_ids=step_ids)


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
    AUTHORING.record(session, onboarding, EventType.ONBOARDING_FORM_SET, cleared=form is None)
    return onboarding
