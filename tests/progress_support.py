"""Factories shared by the progress and rewards service tests: users, published journeys,
and running services in their own transactions (as concurrent requests would)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import Journey, JourneyEvent
from app.catalog.service import EventFields, JourneyFields, add_event, create_journey, publish_journey
from app.db import SessionFactory, transaction
from app.errors import DomainError
from app.tenancy.models import Tenant, User
from app.tenancy.service import get_or_create_user

T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[T]]


@dataclass
class PublishedJourney:
    journey: Journey
    events: list[JourneyEvent]


async def make_user(db: Any, tenant: Tenant, external_id: str | None = None, timezone: str | None = None) -> User:
    async with db() as session:
        return await get_or_create_user(
            session, tenant_id=tenant.id, external_id=external_id or f"u-{uuid.uuid4().hex[:8]}", timezone=timezone
        )


async def make_journey(
    db: Any,
    tenant: Tenant,
    *,
    offsets: list[int | None] | None = None,
    event_xp: int | list[int] = 0,
    xp_reward: int = 0,
    publish: bool = True,
) -> PublishedJourney:
    """A journey with one event per entry of ``offsets`` (day offsets; None = unscheduled)."""
    offsets = [0] if offsets is None else offsets
    xps = event_xp if isinstance(event_xp, list) else [event_xp] * len(offsets)
    async with db() as session:
        journey = await create_journey(
            session,
            tenant_id=tenant.id,
            values=JourneyFields(slug=f"j-{uuid.uuid4().hex[:10]}", title="Journey", xp_reward=xp_reward),
        )
        events = [
            await add_event(
                session,
                tenant_id=tenant.id,
                journey_id=journey.id,
                values=EventFields(title=f"Step {index + 1}", day_offset=offset, xp_reward=xp),
            )
            for index, (offset, xp) in enumerate(zip(offsets, xps, strict=True))
        ]
        if publish:
            await publish_journey(session, tenant_id=tenant.id, journey_id=journey.id)
    return PublishedJourney(journey, events)


async def run(factory: SessionFactory, unit: Unit[T]) -> T:
    """Run ``unit`` in its own transaction (committed unless it raises)."""
    async with transaction(factory) as session:
        return await unit(session)


async def race(factory: SessionFactory, unit: Unit[T], times: int = 20) -> list[T | DomainError]:
    """Run ``unit`` ``times`` at once, each in its own session and transaction; a DomainError
    is returned in its place, anything else fails the test."""

    async def one() -> T | DomainError:
        try:
            return await run(factory, unit)
        except DomainError as exc:
            return exc

    return list(await asyncio.gather(*(one() for _ in range(times))))


AUTHORING_TYPES = {"journey.created", "journey.updated", "journey.published", "journey.archived"}


async def outbox_types(db: Any) -> list[str]:
    """The types of recorded events, oldest first, leaving out catalogue authoring."""
    async with db() as session:
        types = (await session.execute(text("SELECT type FROM outbox_events ORDER BY id"))).scalars()
        return [t for t in types if t not in AUTHORING_TYPES and not t.startswith("journey_event.")]


async def outbox_events(db: Any, type: str) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.execute(
            text("SELECT data FROM outbox_events WHERE type = :type ORDER BY id"), {"type": type}
        )
        return list(rows.scalars())


async def count(db: Any, sql: str, **params: Any) -> int:
    async with db() as session:
        value: int = (await session.execute(text(sql), params)).scalar_one()
        return value
