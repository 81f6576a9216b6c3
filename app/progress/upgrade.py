"""Moving users' open journey runs to the journey's latest version (app/versions/upgrade.py).

A run's event state is keyed by the event's id, so it carries over by itself: events kept keep
their rows, new events have none (NOT_STARTED), removed ones drop out of the run's events and
progress while their rows, XP and logs stay. An ACTIVE run whose new version it has already
finished (its remaining events were removed) is completed, its XP awarded once.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.service import lock_journey
from app.catalog.versions import JOURNEYS
from app.progress.events import all_completed, complete_instance
from app.progress.models import InstanceStatus, JourneyInstance
from app.progress.service import write_log
from app.tenancy.models import Tenant
from app.versions.upgrade import upgrade_runs, upgraded_metadata


async def upgrade_journey_instances(
    session: AsyncSession, *, tenant: Tenant, journey_id: uuid.UUID, from_version: int | None = None
) -> int:
    """Move the journey's ACTIVE and SUSPENDED runs (those on ``from_version`` only, when given)
    to its latest version, each logged ``upgraded`` with {from, to}; how many moved."""
    journey = await lock_journey(session, tenant_id=tenant.id, journey_id=journey_id, field="journeyId")

    async def move(run: Any, before: int, after: int) -> None:
        write_log(session, run, "upgraded", upgraded_metadata(before, after))

    runs: list[JourneyInstance] = await upgrade_runs(
        session, JOURNEYS, definition=journey, from_version=from_version, move=move, field="journeyId"
    )
    # Awards lock users: in user order, so two upgrades never wait on each other's users.
    for run in sorted(runs, key=lambda r: (r.user_id, r.id)):
        if run.status is InstanceStatus.ACTIVE and await all_completed(session, run):
            await complete_instance(session, tenant=tenant, instance=run)
    return len(runs)
