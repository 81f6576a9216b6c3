"""Authoring versioned content, the same for every kind: admins create a definition, change its
fields, add, change, remove and reorder its items (all of it the draft), then publish it as a
version or archive it (app/versions/publish.py). A kind describes what is its own (its nouns,
limits, how its input is cleaned, the few rules only it has) in an :class:`Authoring`; its
domain module keeps the public functions by its own names (``add_event``, ``add_step``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.authoring import Positioned, Positions, lock_definition, slug_taken
from app.errors import DomainError, ErrorCode
from app.modelbase import PartialFields, utcnow
from app.realtime.outbox import EventType, record_event
from app.versions import publish as versions
from app.versions.kinds import VersionedKind


class Definition(Protocol):
    """What authoring reads of a definition row (a Journey, an Onboarding)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    slug: str
    version: int
    updated_at: datetime

    @property
    def status(self) -> Enum: ...  # read-only here: each kind has its own status enum


Def = TypeVar("Def", bound=Definition)  # a definition (a Journey)
Item = TypeVar("Item", bound=Positioned)  # one of its items (a JourneyEvent)
# Turns the given fields (by service name) into column values; True when creating.
Clean = Callable[[dict[str, Any], bool], dict[str, Any]]


def _unchanged(definition: Any) -> None:
    pass


@dataclass(frozen=True)
class Authoring(Generic[Def, Item]):
    """How admins author one kind of versioned content (definitions ``Def`` with items ``Item``).

    The API's and the outbox's names follow from the kind's label and the item's noun: for a
    "Journey" with "event"s, a definition's id is ``journeyId``, an item's ``eventId`` (a reorder
    takes ``eventIds``), NOT_FOUND speaks of a "Journey event", and the outbox records
    ``journey.created`` … ``journey.archived`` and ``journey_event.added`` … ``journey_event.reordered``.
    """

    kind: VersionedKind
    fields: type[PartialFields]  # the definition's authorable fields (JourneyFields)
    item_fields: type[PartialFields]  # an item's (EventFields)
    clean: Clean
    clean_item: Clean
    one: str  # "a journey": how messages speak of one definition
    item_noun: str  # "event"
    max_items: int
    position_key: str  # "position": the outbox data's name of an item's position
    removal_has_position: bool = False  # whether `removed` data also give the removed position
    published_keeps_one: bool = False  # whether removing a published definition's last item is refused
    prepare: Callable[[Def], None] = _unchanged  # derives columns before a definition is saved

    def __post_init__(self) -> None:
        # A kind whose outbox types are not named as the docstring says fails on import, not on an edit.
        for action in ("created", "updated", "published", "archived"):
            self.event(action)
        for action in ("added", "updated", "removed", "reordered"):
            self.item_event(action)

    @property
    def noun(self) -> str:
        """The kind in messages: "journey"."""
        return self.kind.label.lower()

    @property
    def parent_field(self) -> str:
        """The API's name of a definition's id, also in outbox data: "journeyId"."""
        return f"{self.noun}Id"

    @property
    def item_key(self) -> str:
        """An item's id in outbox data: "eventId" (with an "s", the list a reorder takes)."""
        return f"{self.item_noun}Id"

    @property
    def item_label(self) -> str:
        """An item for NOT_FOUND: "Journey event"."""
        return f"{self.kind.label} {self.item_noun}"

    def event(self, action: str) -> EventType:
        """The outbox type of a definition's ``action`` ("created")."""
        return EventType(f"{self.noun}.{action}")

    def item_event(self, action: str) -> EventType:
        """The outbox type of an item's ``action`` ("added")."""
        return EventType(f"{self.noun}_{self.item_noun}.{action}")

    @property
    def items(self) -> Positions[Any]:
        """The definitions' items, kept at positions 1..n."""
        return Positions(self.kind.item, getattr(self.kind.item, self.kind.parent), self.item_label, self.parent_field)

    def record(self, session: AsyncSession, definition: Any, type: EventType, **extra: Any) -> None:
        """An authoring event on the admin channel only (no user)."""
        record_event(
            session,
            tenant_id=definition.tenant_id,
            user_id=None,
            type=type,
            data={
                self.parent_field: str(definition.id),
                "slug": definition.slug,
                "status": definition.status.value,
                **extra,
            },
        )

    async def _check_slug(
        self, session: AsyncSession, clean: dict[str, Any], *, tenant_id: uuid.UUID, but: Any
    ) -> None:
        if "slug" in clean and await slug_taken(
            session, self.kind.definition, tenant_id=tenant_id, slug=clean["slug"], but=but
        ):
            raise DomainError(ErrorCode.BAD_USER_INPUT, "slug is taken", field=["input", "slug"])

    async def create(self, session: AsyncSession, *, tenant_id: uuid.UUID, values: PartialFields) -> Def:
        """A new DRAFT definition."""
        clean = self.clean(values.given(), True)
        await self._check_slug(session, clean, tenant_id=tenant_id, but=None)
        definition: Def = self.kind.definition(tenant_id=tenant_id, **clean)
        self.prepare(definition)
        session.add(definition)
        await session.flush()
        self.record(session, definition, self.event("created"))
        return definition

    async def lock(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID, field: str = "id"
    ) -> Def:
        """The tenant's definition, locked for this transaction; ``NotFound`` (on ``field``) otherwise."""
        definition: Def = await lock_definition(
            session, self.kind.definition, self.kind.label, tenant_id=tenant_id, key=definition_id, field=field
        )
        return definition

    async def update(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID, values: PartialFields
    ) -> Def:
        """Change the given fields of a definition."""
        clean = self.clean(values.given(), False)
        definition = await self.lock(session, tenant_id=tenant_id, definition_id=definition_id)
        await self._check_slug(session, clean, tenant_id=tenant_id, but=definition.id)
        for name, value in clean.items():
            setattr(definition, name, value)
        self.prepare(definition)
        definition.updated_at = utcnow()
        await session.flush()
        self.record(session, definition, self.event("updated"), fields=sorted(clean))
        return definition

    async def publish(self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID) -> Def:
        """Publish the draft as the next version (it needs at least one item); a no-op when nothing
        changed since the latest version."""
        definition = await self.lock(session, tenant_id=tenant_id, definition_id=definition_id)
        if await self.items.count(session, definition.id) == 0:
            message = f"{self.one} needs at least one {self.item_noun} to be published"
            raise DomainError(ErrorCode.BAD_USER_INPUT, message, field=["id"])
        if await versions.publish(session, self.kind, definition):
            self.record(session, definition, self.event("published"), version=definition.version)
        return definition

    async def archive(self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID) -> Def:
        """Withdraw a definition from users; archiving twice is a no-op. Runs keep their versions."""
        definition = await self.lock(session, tenant_id=tenant_id, definition_id=definition_id)
        if await versions.archive(session, self.kind, definition):
            self.record(session, definition, self.event("archived"))
        return definition

    async def add_item(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID, values: PartialFields
    ) -> Item:
        """Append an item to a definition (it goes last)."""
        clean = self.clean_item(values.given(), True)
        definition = await self.lock(session, tenant_id=tenant_id, definition_id=definition_id, field=self.parent_field)
        error = f"{self.one} has at most {self.max_items} {self.item_noun}s"
        position = await self.items.next_position(session, definition.id, limit=self.max_items, error=error)
        item: Item = self.kind.item(
            tenant_id=tenant_id, position=position, **{self.kind.parent: definition.id}, **clean
        )
        session.add(item)
        await session.flush()
        extra = {self.item_key: str(item.id), self.position_key: item.position}
        self.record(session, definition, self.item_event("added"), **extra)
        return item

    async def lock_item(self, session: AsyncSession, *, tenant_id: uuid.UUID, item_id: uuid.UUID) -> tuple[Def, Item]:
        """The tenant's item and its definition, the definition locked first; ``NotFound`` on ``id``."""
        return await self.items.lock(
            session,
            tenant_id=tenant_id,
            item_id=item_id,
            lock_parent=lambda parent_id: self.lock(session, tenant_id=tenant_id, definition_id=parent_id),
        )

    async def update_item(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, item_id: uuid.UUID, values: PartialFields
    ) -> Item:
        """Change the given fields of an item."""
        clean = self.clean_item(values.given(), False)
        definition, item = await self.lock_item(session, tenant_id=tenant_id, item_id=item_id)
        for name, value in clean.items():
            setattr(item, name, value)
        if "updated_at" in self.kind.items.c:
            setattr(item, "updated_at", utcnow())  # noqa: B010 (not every kind's items have it)
        await session.flush()
        self.record(
            session, definition, self.item_event("updated"), **{self.item_key: str(item.id)}, fields=sorted(clean)
        )
        return item

    async def remove_item(self, session: AsyncSession, *, tenant_id: uuid.UUID, item_id: uuid.UUID) -> Item:
        """Delete an item; later items move up one position. Returns the removed item as it was."""
        definition, item = await self.lock_item(session, tenant_id=tenant_id, item_id=item_id)
        if (
            self.published_keeps_one
            and definition.status is self.kind.published
            and await self.items.count(session, definition.id) <= 1
        ):
            message = f"a published {self.noun} keeps at least one {self.item_noun}"
            raise DomainError(ErrorCode.BAD_USER_INPUT, message, field=["id"])
        await self.items.remove(session, item, definition.id)
        extra: dict[str, Any] = {self.item_key: str(item.id)}
        if self.removal_has_position:
            extra[self.position_key] = item.position
        self.record(session, definition, self.item_event("removed"), **extra)
        return item

    async def reorder_items(
        self, session: AsyncSession, *, tenant_id: uuid.UUID, definition_id: uuid.UUID, item_ids: Sequence[uuid.UUID]
    ) -> Def:
        """Set positions 1..n in the order given; the ids must be exactly the definition's items."""
        definition = await self.lock(session, tenant_id=tenant_id, definition_id=definition_id, field=self.parent_field)
        items = self.items
        what = f"the {self.noun}'s {self.item_noun}s"
        items.reorder(await items.ordered(session, definition.id), item_ids, field=f"{self.item_key}s", what=what)
        await session.flush()
        self.record(
            session, definition, self.item_event("reordered"), **{f"{self.item_key}s": [str(i) for i in item_ids]}
        )
        return definition
