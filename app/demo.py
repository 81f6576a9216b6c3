"""The demo tenant, loaded through the same services as the admin mutations. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import service as catalog
from app.catalog.models import Journey, JourneyStatus, Visibility
from app.pagination import MAX_PAGE_SIZE
from app.progress import service as progress
from app.progress.reads import my_instances
from app.rewards.authoring import RewardFields, create_reward, rewards_by_titles
from app.tenancy.models import Tenant
from app.tenancy.service import create_tenant, get_or_create_user, get_tenant_by_slug, update_tenant_settings

DEMO_SLUG = "demo"
# Set explicitly (the SPEC's defaults), so the demo's levels do not move if the defaults do.
LEVEL_THRESHOLDS = [0, 100, 250, 500, 1000, 2000, 4000, 8000]
# The user of the README's `journeys token --tenant demo --user alice`: part-way through a journey.
DEMO_USER = "alice"
DEMO_USER_JOURNEY = "morning-mindfulness"
# Positions of the events of that journey the demo user has completed: the first day's one and
# an unscheduled one, leaving another unscheduled one for today and the later days' ones.
DEMO_USER_COMPLETED = (1, 5)


@dataclass(frozen=True)
class DemoJourney:
    slug: str
    title: str
    description: str
    category: str
    tags: list[str]
    xp_reward: int
    events: list[dict[str, Any]]
    visibility: Visibility = Visibility.PUBLIC
    publish: bool = True


def _ev(
    title: str, day: int | None, xp: int = 10, kind: str = "task", minutes: int | None = 10, **meta: Any
) -> dict[str, Any]:
    return {
        "title": title,
        "day_offset": day,
        "xp_reward": xp,
        "kind": kind,
        "duration_minutes": minutes,
        "metadata": meta,
    }


JOURNEYS: list[DemoJourney] = [
    DemoJourney(
        "morning-mindfulness",
        "Morning Mindfulness",
        "Ten calm minutes each morning for a week.",
        "wellness",
        ["meditation", "breathing", "calm"],
        100,
        [
            _ev("Breathe for five minutes", 0),
            _ev("Body scan", 1, kind="audio"),
            _ev("Mindful walk", 2, minutes=20),
            _ev("Gratitude list", None, kind="reflection", minutes=5),
            _ev("Read: why attention matters", None, kind="reading"),
        ],
    ),
    DemoJourney(
        "couch-to-5k",
        "Couch to 5K",
        "From the sofa to running five kilometres, step by step.",
        "fitness",
        ["running", "cardio", "beginner"],
        250,
        [
            _ev("Walk-run intervals", 0, 20, minutes=30),
            _ev("Rest and stretch", 1, 5, minutes=15),
            _ev("Longer intervals", 2, 20, minutes=30),
            _ev("Pick your running shoes", None, 5, kind="reading"),
        ],
    ),
    DemoJourney(
        "healthy-sleep",
        "Healthy Sleep",
        "Better evenings for deeper sleep.",
        "wellness",
        ["sleep", "habits", "evening"],
        120,
        [
            _ev("Set a fixed bedtime", 0),
            _ev("No screens after 10pm", 1),
            _ev("Evening wind-down routine", 2),
            _ev("Sleep diary", None, kind="reflection"),
        ],
    ),
    DemoJourney(
        "strength-basics",
        "Strength Basics",
        "Bodyweight strength training three times a week.",
        "fitness",
        ["strength", "bodyweight"],
        200,
        [
            _ev("Squats and push-ups", 0, 20, minutes=25),
            _ev("Core session", 2, 20, minutes=20),
            _ev("Full-body circuit", 4, 25, minutes=30),
            _ev("Learn proper form", None, 10, kind="video"),
        ],
    ),
    DemoJourney(
        "mindful-eating",
        "Mindful Eating",
        "Notice what and how you eat.",
        "nutrition",
        ["food", "habits", "mindfulness"],
        90,
        [
            _ev("Eat one meal without screens", 0),
            _ev("Plan tomorrow's lunch", 1),
            _ev("Hunger check-in", None, kind="reflection"),
        ],
    ),
    DemoJourney(
        "advanced-meditation",
        "Advanced Meditation",
        "Longer sits for experienced meditators (in preparation).",
        "wellness",
        ["meditation"],
        300,
        [_ev("Forty-minute sit", 0, 30, minutes=40)],
        publish=False,
    ),
    DemoJourney(
        "team-resilience",
        "Team Resilience",
        "A private program for the demo company's staff.",
        "workplace",
        ["team", "stress"],
        150,
        [_ev("Stress check-in", 0), _ev("Team retrospective", 3, 20, kind="meeting", minutes=60)],
        visibility=Visibility.PRIVATE,
    ),
]


@dataclass(frozen=True)
class DemoReward:
    title: str
    description: str
    required_level: int
    journey_slug: str | None = None  # unlocked by the XP of this journey only


REWARDS: list[DemoReward] = [
    DemoReward("Welcome Badge", "For earning your first XP.", 1),
    DemoReward(
        "Mindful Morning Medal",
        "Reach level 2 with the XP of Morning Mindfulness alone: finish the whole journey.",
        2,
        journey_slug="morning-mindfulness",
    ),
    DemoReward("Bronze Explorer", "Reach level 3 overall.", 3),
    DemoReward("Silver Explorer", "Reach level 4 overall.", 4),
]


@dataclass
class DemoSummary:
    tenant: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    rewards_created: list[str] = field(default_factory=list)
    user_progress_created: bool = False

    def __str__(self) -> str:
        text = f"demo tenant {self.tenant!r}: {len(self.created)} journeys created, {len(self.existing)} already there"
        text += f", {len(self.rewards_created)} rewards created"
        if self.user_progress_created:
            text += f", user {DEMO_USER!r} started {DEMO_USER_JOURNEY!r}"
        return text


async def load_demo(session: AsyncSession) -> DemoSummary:
    """Create the demo tenant and its content, skipping whatever already exists."""
    tenant = await get_tenant_by_slug(session, slug=DEMO_SLUG)
    if tenant is None:
        tenant = await create_tenant(session, slug=DEMO_SLUG, name="Demo Company", timezone="Europe/Berlin")
        tenant = await update_tenant_settings(session, tenant_id=tenant.id, level_thresholds=LEVEL_THRESHOLDS)
    summary = DemoSummary(tenant=tenant.slug)
    taken = await catalog.journeys_by_slugs(session, tenant_id=tenant.id, slugs=[j.slug for j in JOURNEYS])
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
    journeys = await catalog.journeys_by_slugs(session, tenant_id=tenant.id, slugs=[j.slug for j in JOURNEYS])
    summary.rewards_created = await _load_rewards(session, tenant=tenant, journeys=journeys)
    summary.user_progress_created = await _load_user_progress(
        session, tenant=tenant, journey=journeys.get(DEMO_USER_JOURNEY)
    )
    return summary


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
    events = (await catalog.events_of_journeys(session, tenant_id=tenant.id, journey_ids=[journey.id]))[journey.id]
    for event in events:
        if event.position in DEMO_USER_COMPLETED:
            await progress.complete_event(
                session, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event.id
            )
    return True
