"""Factories shared by the onboarding tests: onboardings with steps (and optionally a
classification form) inserted straight through the models, and a canonical sample form."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.modelbase import utcnow
from app.onboarding.authoring import publish_onboarding
from app.onboarding.classification import Response
from app.onboarding.models import Onboarding, OnboardingStatus, OnboardingStep
from app.onboarding.upgrade import upgrade_onboarding_journeys
from app.onboarding.versions import ONBOARDINGS as ONBOARDING_KIND
from app.tenancy.models import Tenant
from app.versions.publish import publish as publish_version


@dataclass
class MadeOnboarding:
    onboarding: Onboarding
    steps: list[OnboardingStep]

    @property
    def id(self) -> uuid.UUID:
        return self.onboarding.id


async def make_onboarding(
    db: Any,
    tenant: Tenant,
    *,
    steps: int = 3,
    xp_reward: int = 0,
    form: dict[str, Any] | None = None,
    status: OnboardingStatus = OnboardingStatus.PUBLISHED,
) -> MadeOnboarding:
    """An onboarding with ``steps`` steps named "Step 1".."Step n" (orders 1..n)."""
    now = utcnow()
    async with db() as session:
        onboarding = Onboarding(
            tenant_id=tenant.id,
            slug=f"o-{uuid.uuid4().hex[:10]}",
            name="Onboarding",
            status=status,
            xp_reward=xp_reward,
            form=form,
            published_at=now if status is OnboardingStatus.PUBLISHED else None,
        )
        session.add(onboarding)
        await session.flush()
        made = [
            OnboardingStep(tenant_id=tenant.id, onboarding_id=onboarding.id, position=order, name=f"Step {order}")
            for order in range(1, steps + 1)
        ]
        session.add_all(made)
        await session.flush()
        if status is OnboardingStatus.PUBLISHED and steps:
            # Published as the service publishes: the draft becomes version 1 (without steps it
            # stays a published onboarding with no version, which nobody can start).
            onboarding.status = OnboardingStatus.DRAFT
            await publish_version(session, ONBOARDING_KIND, onboarding)
    return MadeOnboarding(onboarding, made)


def _option(value: str, **scores: float) -> dict[str, Any]:
    return {"value": value, "label": value.title(), "scores": scores}


def _question(key: str, kind: str, *, required: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "prompt": f"{key}?",
        "kind": kind,
        "required": required,
        "options": extra.get("options", []),
        "min": extra.get("min"),
        "max": extra.get("max"),
        "weights": extra.get("weights", {}),
    }


def _segment(key: str, priority: int, journeys: Sequence[uuid.UUID]) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "description": f"The {key} segment",
        "insight": f"You are a {key}",
        "recommendedJourneys": [str(j) for j in journeys],
        "priority": priority,
    }


def sample_form(
    *, beginner_journeys: Sequence[uuid.UUID] = (), expert_journeys: Sequence[uuid.UUID] = ()
) -> dict[str, Any]:
    """A canonical form: "goal" (single choice, required), "level" (scale 1..5, optional) and
    "notes" (text, optional); segments "beginner" and "expert"."""
    return {
        "questions": [
            _question(
                "goal",
                "SINGLE_CHOICE",
                options=[_option("learn", beginner=3), _option("master", expert=3)],
            ),
            _question("level", "SCALE", required=False, min=1, max=5, weights={"expert": 1}),
            _question("notes", "TEXT", required=False),
        ],
        "segments": [_segment("beginner", 1, beginner_journeys), _segment("expert", 2, expert_journeys)],
    }


BEGINNER = [Response("goal", ("learn",))]
EXPERT = [Response("goal", ("master",)), Response("level", ("4",))]


async def publish_and_upgrade(db: Any, tenant: Tenant, onboarding_id: uuid.UUID) -> int:
    """Publish the onboarding's draft (as edited) and move its open runs to that version."""
    async with db() as session:
        await publish_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding_id)
        return await upgrade_onboarding_journeys(session, tenant=tenant, onboarding_id=onboarding_id)
