"""Moving users' open onboarding runs to the onboarding's latest version (app/versions/upgrade.py).

A run's state is its current step. Matched by id: the run stays on the same step, wherever the
new version puts it; if that step was removed, the run goes to the first step of the new
version it has not completed (the steps before its old current step), else to the last step.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.modelbase import utcnow
from app.onboarding.authoring import lock_onboarding
from app.onboarding.lifecycle import log_step
from app.onboarding.models import OnboardingJourney, OnboardingStepVersion
from app.onboarding.versions import ONBOARDINGS
from app.tenancy.models import Tenant
from app.versions.upgrade import upgrade_runs, upgraded_metadata


def step_on_upgrade(old: list[uuid.UUID], new: list[uuid.UUID], current_step: int) -> int:
    """The order in ``new`` (step ids by order) of a run at ``current_step`` of ``old``."""
    current = old[current_step - 1] if 1 <= current_step <= len(old) else None
    if current in new:
        return new.index(current) + 1
    done = set(old[: current_step - 1])
    return next((order for order, step in enumerate(new, start=1) if step not in done), len(new))


async def upgrade_onboarding_journeys(
    session: AsyncSession, *, tenant: Tenant, onboarding_id: uuid.UUID, from_version: int | None = None
) -> int:
    """Move the onboarding's ACTIVE and SUSPENDED runs (those on ``from_version`` only, when
    given) to its latest version, each logged ``upgraded`` with {from, to}; how many moved."""
    onboarding = await lock_onboarding(session, tenant_id=tenant.id, onboarding_id=onboarding_id, field="onboardingId")
    steps: dict[int, list[uuid.UUID]] = {}

    async def ids_of(version: int) -> list[uuid.UUID]:
        if version not in steps:
            rows = await session.execute(
                select(col(OnboardingStepVersion.id))
                .where(
                    col(OnboardingStepVersion.onboarding_id) == onboarding.id,
                    col(OnboardingStepVersion.version) == version,
                )
                .order_by(col(OnboardingStepVersion.position))
            )
            steps[version] = list(rows.scalars())
        return steps[version]

    async def move(run: Any, before: int, after: int) -> None:
        journey: OnboardingJourney = run
        journey.current_step = step_on_upgrade(await ids_of(before), await ids_of(after), journey.current_step)
        journey.onboarding_version = after
        journey.updated_at = utcnow()
        await log_step(session, journey, "upgraded", upgraded_metadata(before, after))

    runs = await upgrade_runs(
        session, ONBOARDINGS, definition=onboarding, from_version=from_version, move=move, field="onboardingId"
    )
    return len(runs)
