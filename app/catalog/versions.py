"""Journeys as a kind of versioned content (app/versions/): a journey's fields and its events."""

from __future__ import annotations

from app.catalog.models import Journey, JourneyEvent, JourneyEventVersion, JourneyStatus, JourneyVersion
from app.progress.models import OPEN_STATUSES, JourneyInstance
from app.versions.kinds import VersionedKind

JOURNEYS = VersionedKind(
    label="Journey",
    definition=Journey,
    item=JourneyEvent,
    version=JourneyVersion,
    version_item=JourneyEventVersion,
    run=JourneyInstance,
    parent="journey_id",
    run_version="journey_version",
    fields=("slug", "title", "description", "category", "tags", "visibility", "xp_reward", "search_text"),
    item_fields=("title", "description", "kind", "day_offset", "duration_minutes", "xp_reward", "metadata"),
    published=JourneyStatus.PUBLISHED,
    archived=JourneyStatus.ARCHIVED,
    open_run_statuses=OPEN_STATUSES,
)
