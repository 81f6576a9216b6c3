"""What authoring shares across domains: slugs unique within a tenant, items kept at positions
1..n under a parent (a journey's events, an onboarding's steps), and cleaning partial input."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.errors import DomainError, ErrorCode, NotFound, Problems
from app.tenancy.service import check_slug


class Positioned(Protocol):
    id: uuid.UUID
    tenant_id: uuid.UUID
    position: int


Item = TypeVar("Item", bound=Positioned)
Parent = TypeVar("Parent")


async def slug_taken(
    session: AsyncSession, model: Any, *, tenant_id: uuid.UUID, slug: str, but: uuid.UUID | None
) -> bool:
    """Whether another row of ``model`` (one with ``id``, ``tenant_id`` and ``slug``) of the
    tenant has this slug; ``but`` is the row being changed."""
    query = select(model.id).where(col(model.tenant_id) == tenant_id, col(model.slug) == slug)
    if but is not None:
        query = query.where(col(model.id) != but)
    return (await session.execute(query)).first() is not None


async def lock_definition(
    session: AsyncSession, model: Any, label: str, *, tenant_id: uuid.UUID, key: uuid.UUID, field: str
) -> Any:
    """The tenant's row of ``model`` (a journey, an onboarding), locked for this transaction and
    read afresh; ``NotFound`` (``label``, on ``field``) otherwise."""
    found = (
        await session.execute(
            select(model)
            .where(col(model.id) == key, col(model.tenant_id) == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(label, field=[field])
    return found


@dataclass(frozen=True)
class Positions(Generic[Item]):
    """Rows of ``model`` kept at positions 1..n under the parent named by ``parent``, their
    foreign-key column. Every change takes the parent's row lock first, which serialises
    changes to its items; the unique position constraint is deferrable, so a reorder may
    permute positions within its transaction."""

    model: type[Item]
    parent: Any
    label: str  # for NOT_FOUND: "Journey event"
    parent_field: str  # the API's name of the parent's id: "journeyId"

    async def count(self, session: AsyncSession, parent_id: uuid.UUID) -> int:
        """How many items the parent has (the last position)."""
        total = await session.scalar(select(func.count()).where(col(self.parent) == parent_id))
        return int(total or 0)

    async def next_position(self, session: AsyncSession, parent_id: uuid.UUID, *, limit: int, error: str) -> int:
        """The position a new item takes (last); BAD_USER_INPUT ``error`` on the parent's id
        field when the parent already has ``limit`` items."""
        last = await self.count(session, parent_id)
        if last >= limit:
            raise DomainError(ErrorCode.BAD_USER_INPUT, error, field=[self.parent_field])
        return last + 1

    async def ordered(self, session: AsyncSession, parent_id: uuid.UUID) -> list[Item]:
        """The parent's items in position order."""
        result = await session.execute(
            select(self.model).where(col(self.parent) == parent_id).order_by(col(self.model.position))
        )
        return list(result.scalars())

    async def lock(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        item_id: uuid.UUID,
        lock_parent: Callable[[uuid.UUID], Awaitable[Parent]],
    ) -> tuple[Parent, Item]:
        """The tenant's item and its parent, the parent locked (``lock_parent``) before the item
        is read afresh; ``NotFound`` on ``id`` otherwise."""
        parent_id = (
            await session.execute(
                select(self.parent).where(col(self.model.id) == item_id, col(self.model.tenant_id) == tenant_id)
            )
        ).scalar_one_or_none()
        if parent_id is None:
            raise NotFound(self.label, field=["id"])
        parent = await lock_parent(parent_id)
        item = await session.get(self.model, item_id, populate_existing=True)
        if item is None:  # removed while we waited for the lock
            raise NotFound(self.label, field=["id"])
        return parent, item

    async def remove(self, session: AsyncSession, item: Item, parent_id: uuid.UUID) -> None:
        """Delete an item; the later ones move up one position."""
        await session.delete(item)
        await session.flush()
        await session.execute(
            update(self.model)
            .where(col(self.parent) == parent_id, col(self.model.position) > item.position)
            .values(position=col(self.model.position) - 1)
        )

    @staticmethod
    def reorder(items: Sequence[Item], ids: Sequence[uuid.UUID], *, field: str, what: str) -> None:
        """Set positions 1..n in the order of ``ids``, which must name each item exactly once
        (``what`` names them in the error: "the journey's events")."""
        by_id = {item.id: item for item in items}
        if len(ids) != len(set(ids)) or set(ids) != set(by_id):
            raise DomainError(ErrorCode.BAD_USER_INPUT, f"{field} must list each of {what} exactly once", field=[field])
        for position, item_id in enumerate(ids, start=1):
            by_id[item_id].position = position


class Cleaner:
    """Cleans the given fields of a partial create or update (``values``, by service name) into
    column values, collecting every problem on ``input`` before :meth:`done` raises them."""

    def __init__(self, values: dict[str, Any], *, creating: bool) -> None:
        self.values = values
        self.creating = creating
        self.problems = Problems("input")
        self.clean: dict[str, Any] = {}

    def slug(self) -> None:
        """The tenant-unique slug: required on create, never null."""
        if self.creating or "slug" in self.values:
            slug = self.values.get("slug")
            if slug is None:
                self.problems.add("slug", "is required")
            else:
                check_slug(self.problems, "slug", slug)
                self.clean["slug"] = slug

    def name(self, name: str, *, limit: int) -> None:
        """A required text (a title, a name): given on create, never blank."""
        if self.creating or name in self.values:
            self.clean[name] = self.problems.text(name, self.values.get(name), required=True, limit=limit)

    def text(self, name: str, *, limit: int, empty: Any) -> None:
        """An optional text; null or blank is stored as ``empty``."""
        if name in self.values:
            self.clean[name] = self.problems.text(name, self.values[name], required=False, limit=limit) or empty

    def whole(self, name: str, field: str, *, low: int, high: int, nullable: bool) -> None:
        """An integer between ``low`` and ``high``; ``field`` is its name in the API."""
        if name in self.values:
            value = self.values[name]
            if value is None and not nullable:
                self.problems.add(field, "must not be null")
            if value is not None and not low <= value <= high:
                self.problems.add(field, f"must be between {low} and {high}")
            self.clean[name] = value

    def metadata(self) -> None:
        """Free-form JSON metadata (null stores an empty object)."""
        if "metadata" in self.values:
            self.clean["metadata_"] = self.values["metadata"] or {}

    def done(self) -> dict[str, Any]:
        """The clean values; ``InvalidInput`` with every problem otherwise."""
        self.problems.raise_if_any()
        return self.clean
