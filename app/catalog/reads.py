"""Reading the catalogue: listings with filters and search, and the batched reads the GraphQL
layer's dataloaders need.

The reads that serve GraphQL return Core rows of the served columns (:class:`JourneyRow`,
:class:`EventRow`): no ORM identity map, ``metadata`` left undecoded (app/rawjson.py), and
statements built once per shape with bind parameters, so SQLAlchemy's compiled cache and
asyncpg's prepared statements are hit on every request (id lists are one array parameter,
``= ANY(...)``, so one statement serves any number of ids). Writers get ORM entities
(``get_journey``, ``journeys_by_slugs``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Select, any_, bindparam, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col
from sqlmodel import select as orm_select

from app.catalog.models import Journey, JourneyEvent, JourneyStatus, Visibility
from app.errors import DomainError, ErrorCode
from app.pagination import Page
from app.rawjson import raw_json

MAX_SEARCH = 200
CATALOGUE_KEYS = (col(Journey.created_at), col(Journey.id))

JOURNEYS = SQLModel.metadata.tables[Journey.__tablename__]
EVENTS = SQLModel.metadata.tables[JourneyEvent.__tablename__]
JOURNEY_COLUMNS = tuple(
    JOURNEYS.c[name]
    for name in (
        "id",
        "slug",
        "title",
        "description",
        "category",
        "tags",
        "visibility",
        "status",
        "xp_reward",
        "created_at",
        "published_at",
    )
)
EVENT_COLUMNS = (
    *(
        EVENTS.c[name]
        for name in (
            "id",
            "journey_id",
            "position",
            "title",
            "description",
            "kind",
            "day_offset",
            "duration_minutes",
            "xp_reward",
        )
    ),
    raw_json(EVENTS.c["metadata"], "metadata_"),
)


def ids_param(name: str) -> Any:
    """A list of UUIDs as one array parameter (for ``column == any_(...)``)."""
    return bindparam(name, type_=ARRAY(UUID(as_uuid=True)))


class JourneyRow(Protocol):
    """What the GraphQL layer serves of a journey: a row of JOURNEY_COLUMNS, or a ``Journey``."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def visibility(self) -> Visibility: ...
    @property
    def status(self) -> JourneyStatus: ...
    @property
    def xp_reward(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def published_at(self) -> datetime | None: ...


class EventRow(Protocol):
    """What the GraphQL layer serves of a journey event: a row of EVENT_COLUMNS, or a ``JourneyEvent``
    (whose ``metadata_`` is a dict where the row's is a RawJSON)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def journey_id(self) -> uuid.UUID: ...
    @property
    def position(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def day_offset(self) -> int | None: ...
    @property
    def duration_minutes(self) -> int | None: ...
    @property
    def xp_reward(self) -> int: ...
    @property
    def metadata_(self) -> Any: ...


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


@cache
def _catalogue_statement(statuses: int, visibility: bool, category: bool, terms: int, after: bool) -> Select[Any]:
    """The catalogue page's statement for one shape of filter (a handful of shapes exist)."""
    c = JOURNEYS.c
    query = select(*JOURNEY_COLUMNS).where(c.tenant_id == bindparam("tenant_id"))
    if statuses:
        query = query.where(c.status == any_(bindparam("statuses", type_=ARRAY(c.status.type))))
    if visibility:
        query = query.where(c.visibility == bindparam("visibility"))
    if category:
        query = query.where(c.category == bindparam("category"))
    for n in range(terms):
        query = query.where(c.search_text.like(bindparam(f"term{n}")))
    if after:
        query = query.where(tuple_(c.created_at, c.id) < tuple_(bindparam("after_at"), bindparam("after_id")))
    return query.order_by(c.created_at.desc(), c.id.desc()).limit(bindparam("limit"))


async def list_journeys(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filter: CatalogueFilter,
    first: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Page[Any]:
    """A page of the tenant's journeys, newest first, narrowed by ``filter``: rows of JOURNEY_COLUMNS
    (a :class:`JourneyRow` each; typed Any while callers' key functions still name ``Journey``)."""
    terms = search_terms(filter.search)
    params: dict[str, Any] = {"tenant_id": tenant_id, "limit": first + 1}
    if filter.statuses:
        params["statuses"] = list(filter.statuses)
    if filter.visibility is not None:
        params["visibility"] = filter.visibility
    if filter.category is not None:
        params["category"] = filter.category
    for n, term in enumerate(terms):
        params[f"term{n}"] = _like_pattern(term)
    if after is not None:
        params["after_at"], params["after_id"] = after
    query = _catalogue_statement(
        len(filter.statuses), filter.visibility is not None, filter.category is not None, len(terms), after is not None
    )
    rows = (await session.execute(query, params)).all()
    return Page(items=rows[:first], has_next=len(rows) > first)


async def get_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, published_only: bool
) -> Journey | None:
    """One journey of the tenant (only a published one when ``published_only``), as an entity to change."""
    query = orm_select(Journey).where(col(Journey.id) == journey_id, col(Journey.tenant_id) == tenant_id)
    if published_only:
        query = query.where(col(Journey.status) == JourneyStatus.PUBLISHED)
    return (await session.execute(query)).scalar_one_or_none()


JOURNEYS_BY_IDS = select(*JOURNEY_COLUMNS).where(
    JOURNEYS.c.tenant_id == bindparam("tenant_id"), JOURNEYS.c.id == any_(ids_param("ids"))
)


async def journeys_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, JourneyRow]:
    """The tenant's journeys with these ids."""
    result = await session.execute(JOURNEYS_BY_IDS, {"tenant_id": tenant_id, "ids": list(ids)})
    return {row.id: row for row in result}  # JourneyRow each


EVENTS_OF_JOURNEYS = (
    select(*EVENT_COLUMNS)
    .where(EVENTS.c.tenant_id == bindparam("tenant_id"), EVENTS.c.journey_id == any_(ids_param("ids")))
    .order_by(EVENTS.c.journey_id, EVENTS.c.position)
)


async def events_of_journeys(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[EventRow]]:
    """Each journey's events in position order, in one query."""
    result = await session.execute(EVENTS_OF_JOURNEYS, {"tenant_id": tenant_id, "ids": list(journey_ids)})
    grouped: dict[uuid.UUID, list[EventRow]] = {i: [] for i in journey_ids}
    for row in result:
        grouped[row.journey_id].append(row)  # an EventRow
    return grouped


EVENTS_BY_IDS = select(*EVENT_COLUMNS).where(
    EVENTS.c.tenant_id == bindparam("tenant_id"), EVENTS.c.id == any_(ids_param("ids"))
)


async def events_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, EventRow]:
    """The tenant's journey events with these ids."""
    result = await session.execute(EVENTS_BY_IDS, {"tenant_id": tenant_id, "ids": list(ids)})
    return {row.id: row for row in result}  # EventRow each


async def journeys_by_slugs(session: AsyncSession, *, tenant_id: uuid.UUID, slugs: Sequence[str]) -> dict[str, Journey]:
    """The tenant's journeys with these slugs (entities: the demo loader changes them)."""
    result = await session.execute(
        orm_select(Journey).where(col(Journey.tenant_id) == tenant_id, col(Journey.slug).in_(slugs))
    )
    return {j.slug: j for j in result.scalars()}
