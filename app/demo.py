"""Loading the demo tenant (its content: app/demo_content.py) through the same services as the
admin mutations. Idempotent: what is already there (by slug, title or name) is left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.authoring import slug_taken
from app.avatars.authoring import AvatarFields, avatars_by_names, create_avatar
from app.catalog import reads as catalog_reads
from app.catalog import service as catalog
from app.catalog.models import Journey, JourneyStatus
from app.demo_content import (
    AVATARS,
    DEMO_SLUG,
    DEMO_USER,
    DEMO_USER_COMPLETED,
    DEMO_USER_JOURNEY,
    JOURNEYS,
    LEVEL_THRESHOLDS,
    ONBOARDING_DESCRIPTION,
    ONBOARDING_NAME,
    ONBOARDING_SLUG,
    ONBOARDING_STEPS,
    ONBOARDING_XP,
    REWARDS,
    classification_form,
)
from app.onboarding import authoring as onboarding
from app.onboarding.models import Onboarding
from app.pagination import MAX_PAGE_SIZE
from app.progress import events as progress_events
from app.progress import service as progress
from app.progress.reads import my_instances
from app.rewards.authoring import RewardFields, create_reward, rewards_by_titles
from app.tenancy.models import Tenant
from app.tenancy.service import create_tenant, get_or_create_user, get_tenant_by_slug, update_tenant_settings


@dataclass
class DemoSummary:
    tenant: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    rewards_created: list[str] = field(default_factory=list)
    user_progress_created: bool = False
    onboarding_created: bool = False
    avatars_created: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"demo tenant {self.tenant!r}: {len(self.created)} journeys created, {len(self.existing)} already there"
        text += f", {len(self.rewards_created)} rewards created"
        if self.user_progress_created:
            text += f", user {DEMO_USER!r} started {DEMO_USER_JOURNEY!r}"
        if self.onboarding_created:
            text += f", onboarding {ONBOARDING_SLUG!r} created"
        text += f", {len(self.avatars_created)} avatars created"
        return text


async def load_demo(session: AsyncSession) -> DemoSummary:
    """Create the demo tenant and its content, skipping whatever already exists."""
    tenant = await get_tenant_by_slug(session, slug=DEMO_SLUG)
    if tenant is None:
        tenant = await create_tenant(session, slug=DEMO_SLUG, name="Demo Company", timezone="Europe/Berlin")
        tenant = await update_tenant_settings(session, tenant_id=tenant.id, level_thresholds=LEVEL_THRESHOLDS)
    summary = DemoSummary(tenant=tenant.slug)
    taken = await catalog_reads.journeys_by_slugs(session, tenant_id=tenant.id, slugs=[j.slug for j in JOURNEYS])
    for spec in JOURNEYS:
        if spec.slug in taken:
            summary.existing.append(spec.slug)
            continue
        journey = await catalog.create_journey(
            session,
            tenant_id=tenant.id,
            values=catalog.JourneyFields(
                slug=spec.slug,
                title=spec.title,
                description=spec.description,
                category=spec.category,
                tags=spec.tags,
                visibility=spec.visibility,
                xp_reward=spec.xp_reward,
            ),
        )
        for event in spec.events:
            await catalog.add_event(
                session, tenant_id=tenant.id, journey_id=journey.id, values=catalog.EventFields(**event)
            )
        if spec.publish:
            await catalog.publish_journey(session, tenant_id=tenant.id, journey_id=journey.id)
        summary.created.append(spec.slug)
    journeys = await catalog_reads.journeys_by_slugs(session, tenant_id=tenant.id, slugs=[j.slug for j in JOURNEYS])
    summary.rewards_created = await _load_rewards(session, tenant=tenant, journeys=journeys)
    summary.user_progress_created = await _load_user_progress(
        session, tenant=tenant, journey=journeys.get(DEMO_USER_JOURNEY)
    )
    summary.onboarding_created = await _load_onboarding(session, tenant=tenant, journeys=journeys)
    summary.avatars_created = await _load_avatars(session, tenant=tenant)
    return summary


# Two avatars: one to talk with, and an INACTIVE one (createAvatarSession answers UNAVAILABLE).
async def _load_avatars(session: AsyncSession, *, tenant: Tenant) -> list[str]:
    """The demo avatars not there yet (by name); the names created."""
    existing = await avatars_by_names(session, tenant_id=tenant.id, names=[a["name"] for a in AVATARS])
    created: list[str] = []
    for spec in AVATARS:
        if spec["name"] not in existing:
            await create_avatar(session, tenant_id=tenant.id, values=AvatarFields(**spec))
            created.append(spec["name"])
    return created


async def _load_rewards(session: AsyncSession, *, tenant: Tenant, journeys: dict[str, Journey]) -> list[str]:
    """The demo rewards not there yet (by title); the titles created."""
    taken = await rewards_by_titles(session, tenant_id=tenant.id, titles=[r.title for r in REWARDS])
    created: list[str] = []
    for spec in REWARDS:
        if spec.title in taken:
            continue
        scope: dict[str, Any] = {}
        if spec.journey_slug is not None:
            journey = journeys.get(spec.journey_slug)
            if journey is None:
                continue
            scope = {"resource_type": progress.XP_RESOURCE_TYPE, "resource_id": str(journey.id)}
        await create_reward(
            session,
            tenant_id=tenant.id,
            values=RewardFields(
                title=spec.title, description=spec.description, required_level=spec.required_level, **scope
            ),
        )
        created.append(spec.title)
    return created


async def _load_user_progress(session: AsyncSession, *, tenant: Tenant, journey: Journey | None) -> bool:
    """The demo user part-way through the demo journey, unless they have run it already."""
    if journey is None or journey.status != JourneyStatus.PUBLISHED:
        return False
    user = await get_or_create_user(session, tenant_id=tenant.id, external_id=DEMO_USER)
    after: tuple[Any, ...] | None = None
    while True:
        runs = await my_instances(session, tenant_id=tenant.id, user_id=user.id, first=MAX_PAGE_SIZE, after=after)
        if any(run.journey_id == journey.id for run in runs.items):
            return False
        if not runs.has_next:
            break
        after = (runs.items[-1].started_at, runs.items[-1].id)
    instance = await progress.start_journey(session, viewer_tenant=tenant, user_id=user.id, journey_id=journey.id)
    # The events of the version the run follows (the journey's latest).
    key = (journey.id, journey.version)
    events = (await catalog_reads.JOURNEY_READS.items(session, tenant_id=tenant.id, keys=[key]))[key]
    for event in events:
        if event.position in DEMO_USER_COMPLETED:
            await progress_events.complete_event(
                session, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event.id
            )
    return True


async def _load_onboarding(session: AsyncSession, *, tenant: Tenant, journeys: dict[str, Journey]) -> bool:
    """The published demo onboarding with its steps and form, unless its slug is taken."""
    if await slug_taken(session, Onboarding, tenant_id=tenant.id, slug=ONBOARDING_SLUG, but=None):
        return False
    created = await onboarding.create_onboarding(
        session,
        tenant_id=tenant.id,
        values=onboarding.OnboardingFields(
            slug=ONBOARDING_SLUG, name=ONBOARDING_NAME, description=ONBOARDING_DESCRIPTION, xp_reward=ONBOARDING_XP
        ),
    )
    for step in ONBOARDING_STEPS:
        await onboarding.add_step(
            session,
            tenant_id=tenant.id,
            onboarding_id=created.id,
            values=onboarding.StepFields(name=step.name, description=step.description, metadata=step.metadata),
        )
    await onboarding.set_classification_form(
        session, tenant_id=tenant.id, onboarding_id=created.id, form_input=classification_form(journeys)
    )
    await onboarding.publish_onboarding(session, tenant_id=tenant.id, onboarding_id=created.id)
    return True
