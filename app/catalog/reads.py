"""Reading the catalogue: listings with filters and search, and the batched reads the GraphQL
layer's dataloaders need.

The reads that serve GraphQL return Core rows of the served columns (:class:`JourneyRow`,
:class:`EventRow`): no ORM identity map, ``metadata`` left undecoded (app/rawjson.py), and
statements built once per shape with bind parameters, so SQLAlchemy's compiled cache and
asyncpg's prepared statements are hit on every request (id lists are one array parameter,
``= ANY(...)``, so one statement serves any number of ids). Users and runs read published
versions (``JOURNEY_READS``, app/versions/reads.py; the catalogue lists the live ones); admins'
listing goes over the drafts. Writers get ORM entities (``get_journey``, ``journeys_by_slugs``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Select, any_, bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col
from sqlmodel import select as orm_select

from app.catalog.models import Journey, JourneyEvent, JourneyEventVersion, JourneyStatus, JourneyVersion, Visibility
from app.catalog.versions import JOURNEYS as JOURNEYS_KIND
from app.core_rows import fetch_rows
from app.errors import DomainError, ErrorCode
from app.pagination import Count, Page, Window, forward, keyset
from app.versions.reads import (
    ContentReads,
    served_item_column,
    served_now,
)

MAX_SEARCH = 200
CATALOGUE_KEYS = (col(Journey.created_at), col(Journey.id))

JOURNEYS = SQLModel.metadata.tables[Journey.__tablename__]
EVENTS = SQLModel.metadata.tables[JourneyEvent.__tablename__]
JOURNEY_VERSIONS = SQLModel.metadata.tables[JourneyVersion.__tablename__]
EVENT_VERSIONS = SQLModel.metadata.tables[JourneyEventVersion.__tablename__]
# What a served journey row has (see app/versions/reads.py), and an event row.
JOURNEY_NAMES = (
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
    "version",
)
EVENT_NAMES = (
    "id",
    "journey_id",
    "position",
    "title",
    "description",
    "kind",
    "day_offset",
    "duration_minutes",
    "xp_reward",
    "metadata",
)
DRAFT_NAMES = ("id", "slug", "title", "description", "category", "tags", "visibility", "xp_reward", "updated_at")


# The served columns of an event of a version.
EVENT_COLUMNS = tuple(served_item_column(EVENT_VERSIONS, name) for name in EVENT_NAMES)


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
    @property
    def version(self) -> int: ...


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
    # The catalogue as users see it: the live versions (else every journey's draft row, served
    # with its latest version's fields, for admins).
    live: bool = True


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


_LIVE_COLUMNS = [
    literal_column("'PUBLISHED'", type_=JOURNEYS.c.status.type).label("status")
    if name == "status"
    else (JOURNEY_VERSIONS.c.journey_id.label("id") if name == "id" else JOURNEY_VERSIONS.c[name])
    for name in JOURNEY_NAMES
]


@cache
def _catalogue_statement(
    live: bool, statuses: int, visibility: bool, category: bool, terms: int, window: tuple[bool, bool, bool] | None
) -> Select[Any]:
    """The catalogue page's statement for one shape of filter (a handful of shapes exist): over
    the live versions for users (one table, its own partial indexes), over the drafts for admins.
    Without a window (shape None): the list unordered, for its count."""
    if live:
        c = JOURNEY_VERSIONS.c
        query = select(*_LIVE_COLUMNS).where(c.tenant_id == bindparam("tenant_id"), c.live)
        key = c.journey_id
    else:
        c = JOURNEYS.c
        query = served_now(JOURNEYS_KIND, JOURNEY_NAMES).where(c.tenant_id == bindparam("tenant_id"))
        key = c.id
        if statuses:
            query = query.where(c.status == any_(bindparam("statuses", type_=ARRAY(c.status.type))))
    if visibility:
        query = query.where(c.visibility == bindparam("visibility"))
    if category:
        query = query.where(c.category == bindparam("category"))
    for n in range(terms):
        query = query.where(c.search_text.like(bindparam(f"term{n}")))
    return keyset(query, (c.created_at, key), window, descending=True) if window is not None else query


async def list_journeys(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    filter: CatalogueFilter,
    first: int | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    window: Window | None = None,
) -> Page[Any]:
    """A page of the tenant's journeys, newest first, narrowed by ``filter``: rows of JOURNEY_COLUMNS
    (a :class:`JourneyRow` each; typed Any while callers' key functions still name ``Journey``)."""
    window = forward(window, first=first, after=after)
    terms = search_terms(filter.search)
    params: dict[str, Any] = {"tenant_id": tenant_id}
    if filter.statuses and not filter.live:
        params["statuses"] = list(filter.statuses)
    if filter.visibility is not None:
        params["visibility"] = filter.visibility
    if filter.category is not None:
        params["category"] = filter.category
    for n, term in enumerate(terms):
        params[f"term{n}"] = _like_pattern(term)
    shape = (filter.live, len(filter.statuses), filter.visibility is not None, filter.category is not None, len(terms))
    rows = await fetch_rows(session, _catalogue_statement(*shape, window.shape), params | window.params())
    return window.page(rows, count=Count(_catalogue_statement(*shape, None), params))


async def get_journey(
    session: AsyncSession, *, tenant_id: uuid.UUID, journey_id: uuid.UUID, published_only: bool
) -> Journey | None:
    """One journey of the tenant (only a published one when ``published_only``), as an entity to change."""
    query = orm_select(Journey).where(col(Journey.id) == journey_id, col(Journey.tenant_id) == tenant_id)
    if published_only:
        query = query.where(col(Journey.status) == JourneyStatus.PUBLISHED)
    return (await session.execute(query)).scalar_one_or_none()


# The batched reads of journeys as served, their events, drafts and versions (app/versions/reads.py).
JOURNEY_READS = ContentReads(JOURNEYS_KIND, names=JOURNEY_NAMES, item_names=EVENT_NAMES, draft_names=DRAFT_NAMES)


async def journeys_by_slugs(session: AsyncSession, *, tenant_id: uuid.UUID, slugs: Sequence[str]) -> dict[str, Journey]:
    """The tenant's journeys with these slugs (entities: the demo loader changes them)."""
    result = await session.execute(
        orm_select(Journey).where(col(Journey.tenant_id) == tenant_id, col(Journey.slug).in_(slugs))
    )
    return {j.slug: j for j in result.scalars()}
