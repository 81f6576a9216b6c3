"""The demo tenant, loaded through the same services as the admin mutations. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import service as catalog
from app.catalog.models import Visibility
from app.tenancy.service import create_tenant, get_tenant_by_slug

DEMO_SLUG = "demo"


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


@dataclass
class DemoSummary:
    tenant: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"demo tenant {self.tenant!r}: {len(self.created)} journeys created, {len(self.existing)} already there"


async def load_demo(session: AsyncSession) -> DemoSummary:
    """Create the demo tenant and its content, skipping whatever already exists."""
    tenant = await get_tenant_by_slug(session, slug=DEMO_SLUG)
    if tenant is None:
        tenant = await create_tenant(session, slug=DEMO_SLUG, name="Demo Company", timezone="Europe/Berlin")
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
    return summary
