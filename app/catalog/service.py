"""Authoring the catalogue: journeys and their events, written by admins (reads: app/catalog/reads.py).

Every edit changes the draft (the ``journeys`` and ``journey_events`` rows); users see only what
``publish_journey`` snapshots as a version (app/versions/)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.authoring import Cleaner
from app.catalog.models import Journey, JourneyEvent
from app.catalog.versions import JOURNEYS
from app.modelbase import UNSET, PartialFields
from app.versions.authoring import Authoring

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_TAGS = 20
MAX_TAG = 32
MAX_CATEGORY = 64
MAX_XP = 1_000_000
MAX_DAY_OFFSET = 3650
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_EVENTS = 500
KIND_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass
class JourneyFields(PartialFields):
    """Authorable journey fields; ``UNSET`` ones are left as they are."""

    slug: Any = UNSET
    title: Any = UNSET
    description: Any = UNSET
    category: Any = UNSET
    tags: Any = UNSET
    visibility: Any = UNSET
    xp_reward: Any = UNSET


@dataclass
class EventFields(PartialFields):
    """Authorable journey-event fields; ``UNSET`` ones are left as they are."""

    title: Any = UNSET
    description: Any = UNSET
    kind: Any = UNSET
    day_offset: Any = UNSET
    duration_minutes: Any = UNSET
    xp_reward: Any = UNSET
    metadata: Any = UNSET


def _clean_journey(values: dict[str, Any], creating: bool) -> dict[str, Any]:
    cleaner = Cleaner(values, creating=creating)
    cleaner.slug()
    cleaner.name("title", limit=MAX_TITLE)
    cleaner.text("description", limit=MAX_DESCRIPTION, empty="")
    cleaner.text("category", limit=MAX_CATEGORY, empty=None)
    if "tags" in values:
        tags: list[str] = []
        for index, tag in enumerate(values["tags"] or []):
            text = str(tag).strip()
            if not text or len(text) > MAX_TAG:
                cleaner.problems.add(("tags", str(index)), f"each tag must be 1-{MAX_TAG} characters")
            elif text not in tags:
                tags.append(text)
        if len(tags) > MAX_TAGS:
            cleaner.problems.add("tags", f"at most {MAX_TAGS} tags")
        cleaner.clean["tags"] = tags
    if "visibility" in values:
        if values["visibility"] is None:
            cleaner.problems.add("visibility", "must not be null")
        cleaner.clean["visibility"] = values["visibility"]
    cleaner.whole("xp_reward", "xpReward", low=0, high=MAX_XP, nullable=False)
    return cleaner.done()


def _clean_event(values: dict[str, Any], creating: bool) -> dict[str, Any]:
    cleaner = Cleaner(values, creating=creating)
    cleaner.name("title", limit=MAX_TITLE)
    cleaner.text("description", limit=MAX_DESCRIPTION, empty="")
    if "kind" in values:
        kind = values["kind"]
        if kind is None or not KIND_RE.match(kind):
            cleaner.problems.add("kind", "must be 1-32 lowercase letters, digits, '_' or '-', starting with a letter")
        cleaner.clean["kind"] = kind
    cleaner.whole("day_offset", "dayOffset", low=0, high=MAX_DAY_OFFSET, nullable=True)
    cleaner.whole("duration_minutes", "durationMinutes", low=1, high=MAX_DURATION_MINUTES, nullable=True)
    cleaner.whole("xp_reward", "xpReward", low=0, high=MAX_XP, nullable=False)
    cleaner.metadata()
    return cleaner.done()


def _index_search_text(journey: Journey) -> None:
    journey.search_text = " ".join([journey.title, journey.description, *journey.tags]).lower()


AUTHORING: Authoring[Journey, JourneyEvent] = Authoring(
    kind=JOURNEYS,
    fields=JourneyFields,
    item_fields=EventFields,
    clean=_clean_journey,
    clean_item=_clean_event,
    one="a journey",
    item_noun="event",
    max_items=MAX_EVENTS,
    position_key="position",
    prepare=_index_search_text,
)


async def create_journey(session: AsyncSession, *, tenant_id: uuid.UUID, values: JourneyFields) -> Journey:
    """A new DRAFT journey."""
    return await AUTHORING.create(session, tenant_id=tenant_id, values=values)


async def lock_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, field: str = "id"
) -> Journey:
    """The tenant's journey, locked for this transaction; ``NotFound`` (on ``field``) otherwise."""
    return await AUTHORING.lock(session, tenant_id=tenant_id, definition_id=journey_id, field=field)


async def update_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, values: JourneyFields
) -> Journey:
    """Change the given fields of a journey."""
    return await AUTHORING.update(session, tenant_id=tenant_id, definition_id=journey_id, values=values)


async def publish_journey(session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID) -> Journey:
    """Publish the draft as the journey's next version (it needs at least one event); a no-op when
    nothing changed since the latest version."""
    return await AUTHORING.publish(session, tenant_id=tenant_id, definition_id=journey_id)


async def archive_journey(session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID) -> Journey:
    """Withdraw a journey from users; archiving twice is a no-op. Runs keep their versions."""
    return await AUTHORING.archive(session, tenant_id=tenant_id, definition_id=journey_id)


async def add_event(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, values: EventFields
) -> JourneyEvent:
    """Append an event to a journey (it goes last)."""
    return await AUTHORING.add_item(session, tenant_id=tenant_id, definition_id=journey_id, values=values)


async def update_event(
    session: AsyncSession, *, tenant_id: uuid.UUID, event_id: uuid.UUID, values: EventFields
) -> JourneyEvent:
    """Change the given fields of a journey event."""
    return await AUTHORING.update_item(session, tenant_id=tenant_id, item_id=event_id, values=values)


async def remove_event(session: AsyncSession, *, tenant_id: uuid.UUID, event_id: uuid.UUID) -> JourneyEvent:
    """Delete an event; later events move up one position. Returns the removed event."""
    return await AUTHORING.remove_item(session, tenant_id=tenant_id, item_id=event_id)


async def reorder_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, event_ids: Sequence[uuid.UUID]
) -> Journey:
    """Set positions 1..n in the order given; the ids must be exactly the journey's events."""
    return await AUTHORING.reorder_items(session, tenant_id=tenant_id, definition_id=journey_id, item_ids=event_ids)
