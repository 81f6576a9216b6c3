"""The demo tenant, loaded through the same services as the admin mutations. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.avatars.authoring import AvatarFields, avatars_by_names, create_avatar
from app.catalog import reads as catalog_reads
from app.catalog import service as catalog
from app.catalog.models import Journey, JourneyStatus, Visibility
from app.onboarding import authoring as onboarding
from app.onboarding.models import Onboarding
from app.pagination import MAX_PAGE_SIZE
from app.progress import events as progress_events
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


@dataclass(frozen=True)
class DemoStep:
    name: str
    description: str
    metadata: dict[str, Any]


ONBOARDING_SLUG = "welcome"
ONBOARDING_NAME = "Welcome to Journeys"
ONBOARDING_DESCRIPTION = "Four short steps, then a few questions to find the journeys that suit you."
ONBOARDING_XP = 50
ONBOARDING_STEPS: list[DemoStep] = [
    DemoStep("Your goals", "What you would like to change.", {"screen": "goals"}),
    DemoStep("Your rhythm", "When in the day you have time for yourself.", {"screen": "rhythm"}),
    DemoStep("Notifications", "Whether and when we may remind you.", {"screen": "notifications"}),
    DemoStep("Your profile", "A name and a picture, if you like.", {"screen": "profile"}),
]


@dataclass(frozen=True)
class DemoSegment:
    key: str
    name: str
    description: str
    insight: str
    journey_slugs: list[str]  # recommended, when published and public
    priority: int


SEGMENTS: list[DemoSegment] = [
    DemoSegment(
        "calm",
        "Calm Seeker",
        "Wants less stress and better rest.",
        "Small daily rituals will help you most: a few calm minutes in the morning and a steady evening.",
        ["morning-mindfulness", "healthy-sleep"],
        1,
    ),
    DemoSegment(
        "active",
        "Active Mover",
        "Wants to get fitter and stronger.",
        "You are ready to move: build up running and strength a little at a time.",
        ["couch-to-5k", "strength-basics"],
        2,
    ),
    DemoSegment(
        "balanced",
        "Balanced Starter",
        "Wants healthier everyday habits.",
        "Start with your plate and your evenings: small changes in everyday habits add up.",
        ["mindful-eating", "healthy-sleep"],
        3,
    ),
]


def _opt(value: str, label: str, **scores: int | float) -> dict[str, Any]:
    return {"value": value, "label": label, "scores": scores}


# The form's input, as an admin would send it to setClassificationForm (without the journeys).
QUESTIONS: list[dict[str, Any]] = [
    {
        "key": "goal",
        "prompt": "What would you most like to change?",
        "kind": "SINGLE_CHOICE",
        "required": True,
        "options": [
            _opt("less_stress", "Feel less stressed", calm=3),
            _opt("get_fit", "Get fitter", active=3),
            _opt("eat_better", "Eat better", balanced=3),
            _opt("sleep_better", "Sleep better", calm=2, balanced=1),
        ],
    },
    {
        "key": "interests",
        "prompt": "Which of these interest you?",
        "kind": "MULTI_CHOICE",
        "required": True,
        "options": [
            _opt("meditation", "Meditation", calm=2),
            _opt("sleep", "Sleep", calm=1, balanced=1),
            _opt("running", "Running", active=2),
            _opt("strength", "Strength training", active=2),
            _opt("nutrition", "Nutrition", balanced=2),
        ],
    },
    {
        "key": "activity",
        "prompt": "How active are you on a typical day? (0 = hardly at all, 5 = very)",
        "kind": "SCALE",
        "required": True,
        "min": 0,
        "max": 5,
        "weights": {"active": 1, "calm": -0.5},
    },
    {
        "key": "notes",
        "prompt": "Anything else we should know?",
        "kind": "TEXT",
        "required": False,
    },
]


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
AVATARS: list[dict[str, Any]] = [
    {
        "name": "Maya, your wellness coach",
        "description": "A calm coach for breathing, sleep and habits; talk by voice or video.",
        "provider": "tavus",
        "modes": ["VOICE", "VIDEO"],
        "metadata": {"persona": "wellness-coach", "language": "en"},
    },
    {
        "name": "Rex, the running buddy",
        "description": "Retired for now: voice-only pacing tips.",
        "provider": "hedra",
        "modes": ["VOICE"],
        "status": "INACTIVE",
        "metadata": {"persona": "running-buddy", "language": "en"},
    },
]


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
    events = (await catalog_reads.events_of_journeys(session, tenant_id=tenant.id, journey_ids=[journey.id]))[
        journey.id
    ]
    for event in events:
        if event.position in DEMO_USER_COMPLETED:
            await progress_events.complete_event(
                session, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=event.id
            )
    return True


def classification_form(journeys: dict[str, Journey]) -> dict[str, Any]:
    """The demo form's input, each segment recommending those of its journeys users can start."""
    startable = {
        slug: journey
        for slug, journey in journeys.items()
        if journey.status == JourneyStatus.PUBLISHED and journey.visibility == Visibility.PUBLIC
    }
    return {
        "questions": QUESTIONS,
        "segments": [
            {
                "key": spec.key,
                "name": spec.name,
                "description": spec.description,
                "insight": spec.insight,
                "recommendedJourneys": [str(startable[s].id) for s in spec.journey_slugs if s in startable],
                "priority": spec.priority,
            }
            for spec in SEGMENTS
        ],
    }


async def _load_onboarding(session: AsyncSession, *, tenant: Tenant, journeys: dict[str, Journey]) -> bool:
    """The published demo onboarding with its steps and form, unless its slug is taken."""
    taken = await session.execute(
        select(Onboarding.id).where(col(Onboarding.tenant_id) == tenant.id, col(Onboarding.slug) == ONBOARDING_SLUG)
    )
    if taken.first() is not None:
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
