"""What the demo tenant contains: journeys with their events, rewards, the welcome onboarding
with its classification form, and avatars (loaded by app/demo.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.catalog.models import Journey, JourneyStatus, Visibility

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
        "digital-detox",
        "Digital Detox",
        "Less screen time, one small step a day.",
        "wellness",
        ["screens", "habits", "focus"],
        110,
        [
            _ev("Turn off non-essential notifications", 0, minutes=5),
            _ev("A phone-free hour", 1, minutes=60),
            _ev("Screen-time review", None, kind="reflection", minutes=5),
        ],
    ),
    DemoJourney(
        "gratitude-practice",
        "Gratitude Practice",
        "Three good things, every evening for five days.",
        "wellness",
        ["gratitude", "journaling", "evening"],
        80,
        [_ev(f"Three good things, day {day + 1}", day, kind="reflection", minutes=5) for day in range(5)],
    ),
    DemoJourney(
        "breathwork-basics",
        "Breathwork Basics",
        "Simple breathing patterns for calm and energy.",
        "wellness",
        ["breathing", "calm", "beginner"],
        90,
        [
            _ev("Box breathing", 0, kind="audio", minutes=5),
            _ev("Physiological sigh", 1, kind="audio", minutes=3),
            _ev("Read: how breathing calms you", None, kind="reading"),
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
