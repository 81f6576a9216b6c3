"""Authoring the catalogue: journeys and their events, written by admins (reads: app/catalog/reads.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.authoring import Positions, slug_taken
from app.catalog.models import Journey, JourneyEvent, JourneyStatus
from app.errors import DomainError, ErrorCode, NotFound, Problems
from app.modelbase import UNSET, PartialFields, utcnow
from app.realtime.outbox import EventType, record_event
from app.tenancy.service import check_slug

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_TAGS = 20
MAX_TAG = 32
MAX_CATEGORY = 64
MAX_XP = 1_000_000
MAX_DAY_OFFSET = 3650
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_EVENTS = 500
EVENTS = Positions(JourneyEvent, JourneyEvent.journey_id, "Journey event", "journeyId")
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


def _int_range(problems: Problems, name: str, value: Any, low: int, high: int) -> None:
    if value is not None and not low <= value <= high:
        problems.add(name, f"must be between {low} and {high}")


def _clean_journey(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if creating or "slug" in values:
        slug = values.get("slug")
        if slug is None:
            problems.add("slug", "is required")
        else:
            check_slug(problems, "slug", slug)
            clean["slug"] = slug
    if creating or "title" in values:
        clean["title"] = problems.text("title", values.get("title"), required=True, limit=MAX_TITLE)
    if "description" in values:
        clean["description"] = (
            problems.text("description", values["description"], required=False, limit=MAX_DESCRIPTION) or ""
        )
    if "category" in values:
        category = problems.text("category", values["category"], required=False, limit=MAX_CATEGORY)
        clean["category"] = category or None
    if "tags" in values:
        tags: list[str] = []
        for index, tag in enumerate(values["tags"] or []):
            text = str(tag).strip()
            if not text or len(text) > MAX_TAG:
                problems.add(("tags", str(index)), f"each tag must be 1-{MAX_TAG} characters")
            elif text not in tags:
                tags.append(text)
        if len(tags) > MAX_TAGS:
            problems.add("tags", f"at most {MAX_TAGS} tags")
        clean["tags"] = tags
    if "visibility" in values:
        if values["visibility"] is None:
            problems.add("visibility", "must not be null")
        clean["visibility"] = values["visibility"]
    if "xp_reward" in values:
        if values["xp_reward"] is None:
            problems.add("xpReward", "must not be null")
        _int_range(problems, "xpReward", values["xp_reward"], 0, MAX_XP)
        clean["xp_reward"] = values["xp_reward"]
    problems.raise_if_any()
    return clean


def _clean_event(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if creating or "title" in values:
        clean["title"] = problems.text("title", values.get("title"), required=True, limit=MAX_TITLE)
    if "description" in values:
        clean["description"] = (
            problems.text("description", values["description"], required=False, limit=MAX_DESCRIPTION) or ""
        )
    if "kind" in values:
        kind = values["kind"]
        if kind is None or not KIND_RE.match(kind):
            problems.add("kind", "must be 1-32 lowercase letters, digits, '_' or '-', starting with a letter")
        clean["kind"] = kind
    if "day_offset" in values:
        _int_range(problems, "dayOffset", values["day_offset"], 0, MAX_DAY_OFFSET)
        clean["day_offset"] = values["day_offset"]
    if "duration_minutes" in values:
        _int_range(problems, "durationMinutes", values["duration_minutes"], 1, MAX_DURATION_MINUTES)
        clean["duration_minutes"] = values["duration_minutes"]
    if "xp_reward" in values:
        if values["xp_reward"] is None:
            problems.add("xpReward", "must not be null")
        _int_range(problems, "xpReward", values["xp_reward"], 0, MAX_XP)
        clean["xp_reward"] = values["xp_reward"]
    if "metadata" in values:
        clean["metadata_"] = values["metadata"] or {}
    problems.raise_if_any()
    return clean


def _search_text(journey: Journey) -> str:
    return " ".join([journey.title, journey.description, *journey.tags]).lower()


def _journey_data(journey: Journey) -> dict[str, Any]:
    return {"journeyId": str(journey.id), "slug": journey.slug, "status": journey.status.value}


def _record(session: AsyncSession, journey: Journey, type: EventType, **extra: Any) -> None:
    record_event(
        session,
        tenant_id=journey.tenant_id,
        user_id=None,
        type=type,
        data={**_journey_data(journey), **extra},
    )


async def create_journey(session: AsyncSession, *, tenant_id: uuid.UUID, values: JourneyFields) -> Journey:
    """A new DRAFT journey."""
    clean = _clean_journey(values.given(), creating=True)
    if await slug_taken(session, Journey, tenant_id=tenant_id, slug=clean["slug"], but=None):
        raise DomainError(ErrorCode.BAD_USER_INPUT, "slug is taken", field=["input", "slug"])
    journey = Journey(tenant_id=tenant_id, **clean)
    journey.search_text = _search_text(journey)
    session.add(journey)
    await session.flush()
    _record(session, journey, EventType.JOURNEY_CREATED)
    return journey


async def lock_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, field: str = "id"
) -> Journey:
    """The tenant's journey, locked for this transaction; ``NotFound`` (on ``field``) otherwise."""
    journey = (
        await session.execute(
            select(Journey).where(col(Journey.id) == journey_id, col(Journey.tenant_id) == tenant_id).with_for_update()
        )
    ).scalar_one_or_none()
    if journey is None:
        raise NotFound("Journey", field=[field])
    return journey


async def update_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, values: JourneyFields
) -> Journey:
    """Change the given fields of a journey."""
    clean = _clean_journey(values.given(), creating=False)
    journey = await lock_journey(session, tenant_id=tenant_id, journey_id=journey_id)
    if "slug" in clean and await slug_taken(session, Journey, tenant_id=tenant_id, slug=clean["slug"], but=journey.id):
        raise DomainError(ErrorCode.BAD_USER_INPUT, "slug is taken", field=["input", "slug"])
    for name, value in clean.items():
        setattr(journey, name, value)
    journey.search_text = _search_text(journey)
    journey.updated_at = utcnow()
    await session.flush()
    _record(session, journey, EventType.JOURNEY_UPDATED, fields=sorted(clean))
    return journey


async def publish_journey(session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID) -> Journey:
    """Make a journey available to users; it needs at least one event. Publishing twice is a no-op."""
    journey = await lock_journey(session, tenant_id=tenant_id, journey_id=journey_id)
    if journey.status is JourneyStatus.PUBLISHED:
        return journey
    if await EVENTS.count(session, journey.id) == 0:
        raise DomainError(ErrorCode.BAD_USER_INPUT, "a journey needs at least one event to be published", field=["id"])
    journey.status = JourneyStatus.PUBLISHED
    journey.published_at = utcnow()
    journey.updated_at = journey.published_at
    await session.flush()
    _record(session, journey, EventType.JOURNEY_PUBLISHED)
    return journey


async def archive_journey(session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID) -> Journey:
    """Withdraw a journey from users; archiving twice is a no-op."""
    journey = await lock_journey(session, tenant_id=tenant_id, journey_id=journey_id)
    if journey.status is JourneyStatus.ARCHIVED:
        return journey
    journey.status = JourneyStatus.ARCHIVED
    journey.updated_at = utcnow()
    await session.flush()
    _record(session, journey, EventType.JOURNEY_ARCHIVED)
    return journey


async def add_event(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, values: EventFields
) -> JourneyEvent:
    """Append an event to a journey (it goes last)."""
    clean = _clean_event(values.given(), creating=True)
    journey = await lock_journey(session, tenant_id=tenant_id, journey_id=journey_id, field="journeyId")
    position = await EVENTS.next_position(
        session, journey.id, limit=MAX_EVENTS, error=f"a journey has at most {MAX_EVENTS} events"
    )
    item = JourneyEvent(tenant_id=tenant_id, journey_id=journey.id, position=position, **clean)
    session.add(item)
    await session.flush()
    _record(session, journey, EventType.JOURNEY_EVENT_ADDED, eventId=str(item.id), position=item.position)
    return item


async def _lock_event(
    session: AsyncSession, *, tenant_id: uuid.UUID, event_id: uuid.UUID
) -> tuple[Journey, JourneyEvent]:
    return await EVENTS.lock(
        session,
        tenant_id=tenant_id,
        item_id=event_id,
        lock_parent=lambda journey_id: lock_journey(session, tenant_id=tenant_id, journey_id=journey_id),
    )


async def update_event(
    session: AsyncSession, *, tenant_id: uuid.UUID, event_id: uuid.UUID, values: EventFields
) -> JourneyEvent:
    """Change the given fields of a journey event."""
    clean = _clean_event(values.given(), creating=False)
    journey, item = await _lock_event(session, tenant_id=tenant_id, event_id=event_id)
    for name, value in clean.items():
        setattr(item, name, value)
    await session.flush()
    _record(session, journey, EventType.JOURNEY_EVENT_UPDATED, eventId=str(item.id), fields=sorted(clean))
    return item


async def remove_event(session: AsyncSession, *, tenant_id: uuid.UUID, event_id: uuid.UUID) -> JourneyEvent:
    """Delete an event; later events move up one position. Returns the removed event."""
    journey, item = await _lock_event(session, tenant_id=tenant_id, event_id=event_id)
    await EVENTS.remove(session, item, journey.id)
    _record(session, journey, EventType.JOURNEY_EVENT_REMOVED, eventId=str(item.id))
    return item


async def reorder_events(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, event_ids: Sequence[uuid.UUID]
) -> Journey:
    """Set positions 1..n in the order given; the ids must be exactly the journey's events."""
    journey = await lock_journey(session, tenant_id=tenant_id, journey_id=journey_id, field="journeyId")
    EVENTS.reorder(await EVENTS.ordered(session, journey.id), event_ids, field="eventIds", what="the journey's events")
    await session.flush()
    _record(session, journey, EventType.JOURNEY_EVENTS_REORDERED, eventIds=[str(i) for i in event_ids])
    return journey
