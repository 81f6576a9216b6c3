"""Reading the catalogue: listings with filters and search, and the batched reads the GraphQL
layer's dataloaders need."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import Journey, JourneyEvent, JourneyStatus, Visibility
from app.errors import DomainError, ErrorCode
from app.pagination import Page, fetch_page

MAX_SEARCH = 200
CATALOGUE_KEYS = (col(Journey.created_at), col(Journey.id))


@dataclass(frozen=True)
class CatalogueFilter:
    """What a catalogue listing is narrowed to."""

    category: str | None = None
    search: str | None = None
    statuses: tuple[JourneyStatus, ...] = (JourneyStatus.PUBLISHED,)
    visibility: Visibility | None = Visibility.PUBLIC


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_terms(search: str | None) -> list[str]:
    """The words of a search, lowercased; too long a search is bad input."""
    if search is None:
        return []
    if len(search) > MAX_SEARCH:
        raise DomainError(ErrorCode.BAD_USER_INPUT, f"search must be at most {MAX_SEARCH} characters", field=["search"])
    return search.lower().split()[:10]


async def list_journeys(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filter: CatalogueFilter,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Page[Journey]:
    """A page of the tenant's journeys, newest first, narrowed by ``filter``."""
    query = select(Journey).where(col(Journey.tenant_id) == tenant_id)
    if filter.statuses:
        query = query.where(col(Journey.status).in_(filter.statuses))
    if filter.visibility is not None:
        query = query.where(col(Journey.visibility) == filter.visibility)
    if filter.category is not None:
        query = query.where(col(Journey.category) == filter.category)
    for term in search_terms(filter.search):
        query = query.where(col(Journey.search_text).like(_like_pattern(term)))
    return await fetch_page(session, query, keys=CATALOGUE_KEYS, after=after, first=first, descending=True)


async def get_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, published_only: bool
) -> Journey | None:
    """One journey of the tenant (only a published one when ``published_only``)."""
    query = select(Journey).where(col(Journey.id) == journey_id, col(Journey.tenant_id) == tenant_id)
    if published_only:
        query = query.where(col(Journey.status) == JourneyStatus.PUBLISHED)
    return (await session.execute(query)).scalar_one_or_none()


async def journeys_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Journey]:
    """The tenant's journeys with these ids."""
    result = await session.execute(select(Journey).where(col(Journey.tenant_id) == tenant_id, col(Journey.id).in_(ids)))
    return {j.id: j for j in result.scalars()}


async def events_of_journeys(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[JourneyEvent]]:
    """Each journey's events in position order, in one query."""
    result = await session.execute(
        select(JourneyEvent)
        .where(col(JourneyEvent.tenant_id) == tenant_id, col(JourneyEvent.journey_id).in_(journey_ids))
        .order_by(col(JourneyEvent.journey_id), col(JourneyEvent.position))
    )
    grouped: dict[uuid.UUID, list[JourneyEvent]] = {i: [] for i in journey_ids}
    for item in result.scalars():
        grouped[item.journey_id].append(item)
    return grouped


async def events_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, JourneyEvent]:
    """The tenant's journey events with these ids."""
    result = await session.execute(
        select(JourneyEvent).where(col(JourneyEvent.tenant_id) == tenant_id, col(JourneyEvent.id).in_(ids))
    )
    return {e.id: e for e in result.scalars()}


async def journeys_by_slugs(session: AsyncSession, *, tenant_id: uuid.UUID, slugs: Sequence[str]) -> dict[str, Journey]:
    """The tenant's journeys with these slugs."""
    result = await session.execute(
        select(Journey).where(col(Journey.tenant_id) == tenant_id, col(Journey.slug).in_(slugs))
    )
    return {j.slug: j for j in result.scalars()}
