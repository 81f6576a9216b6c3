"""GraphQL types of the catalogue: Journey and JourneyEvent, a journey's draft and versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from app.catalog import reads
from app.catalog.models import JourneyStatus, Visibility
from app.catalog.reads import EventRow, JourneyRow
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_type
from app.graphql.relay import Node, to_global_id
from app.graphql.scalars import JSON
from app.graphql.versions import draft_field, versions_field

JourneyVisibility = strawberry.enum(
    Visibility,
    name="JourneyVisibility",
    description="PUBLIC journeys are listed in the catalogue; PRIVATE ones are reached by id only.",
)
JourneyStatusEnum = strawberry.enum(
    JourneyStatus,
    name="JourneyStatus",
    description="DRAFT while authored, PUBLISHED for users, ARCHIVED when withdrawn.",
)


@strawberry.type(name="JourneyEvent", description="One step of a journey.")
class JourneyEventNode(Node):
    """Each field reads the row when it is asked for: a page serves many events, and documents
    ask for few of their fields (building every one, metadata included, cost more)."""

    model: strawberry.Private[EventRow]

    @strawberry.field(description="1..n within the journey.")
    def position(self) -> int:
        return self.model.position

    @strawberry.field(description="Short title.")
    def title(self) -> str:
        return self.model.title

    @strawberry.field(description="What to do, in more words.")
    def description(self) -> str:
        return self.model.description

    @strawberry.field(description="A free label of the event's kind, such as `task`, `video` or `reading`.")
    def kind(self) -> str:
        return self.model.kind

    @strawberry.field(
        description="Days after the journey's start day it is scheduled on (0 = the start day); null = unscheduled."
    )
    def day_offset(self) -> int | None:
        return self.model.day_offset

    @strawberry.field(description="How long it takes, if known.")
    def duration_minutes(self) -> int | None:
        return self.model.duration_minutes

    @strawberry.field(description="XP awarded once when it is completed.")
    def xp_reward(self) -> int:
        return self.model.xp_reward

    @strawberry.field(description="Free-form data for the frontend.")
    def metadata(self) -> JSON:
        return JSON(self.model.metadata_)

    @classmethod
    def from_model(cls, item: EventRow) -> JourneyEventNode:
        """From a ``JourneyEvent`` (mutations) or a Core row (reads)."""
        return cls(id=to_global_id("JourneyEvent", item.id), model=item)


@strawberry.type(
    name="JourneyDraft", description="Admins: a journey's draft, what publishing would make its next version."
)
class JourneyDraft:
    slug: str = strawberry.field(description="The draft's slug.")
    title: str = strawberry.field(description="The draft's title.")
    description: str = strawberry.field(description="The draft's description.")
    category: str | None = strawberry.field(description="The draft's category.")
    tags: list[str] = strawberry.field(description="The draft's tags.")
    visibility: Visibility = strawberry.field(description="The draft's visibility.")
    xp_reward: int = strawberry.field(description="The draft's XP for completing the journey.")
    updated_at: datetime = strawberry.field(description="When the draft's fields last changed.")
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The draft's events in position order.")
    async def events(self, info: Info) -> list[JourneyEventNode]:
        items = await info.context.loaders.events_of_journey.load((self.key, 0))
        return [JourneyEventNode.from_model(item) for item in items]

    @classmethod
    def from_row(cls, row: Any) -> JourneyDraft:
        return cls(
            slug=row.slug,
            title=row.title,
            description=row.description,
            category=row.category,
            tags=list(row.tags),
            visibility=row.visibility,
            xp_reward=row.xp_reward,
            updated_at=row.updated_at,
            key=row.id,
        )


@strawberry.type(name="JourneyVersion", description="Admins: one published version of a journey, as it was published.")
class JourneyVersionNode:
    version: int = strawberry.field(description="The version's number, 1..n.")
    published_at: datetime = strawberry.field(description="When it was published.")
    slug: str = strawberry.field(description="Its slug.")
    title: str = strawberry.field(description="Its title.")
    description: str = strawberry.field(description="Its description.")
    category: str | None = strawberry.field(description="Its category.")
    tags: list[str] = strawberry.field(description="Its tags.")
    visibility: Visibility = strawberry.field(description="Its visibility.")
    xp_reward: int = strawberry.field(description="Its XP for completing the journey.")
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Its events in position order.")
    async def events(self, info: Info) -> list[JourneyEventNode]:
        items = await info.context.loaders.events_of_journey.load((self.key, self.version))
        return [JourneyEventNode.from_model(item) for item in items]

    @classmethod
    def from_row(cls, row: JourneyRow) -> JourneyVersionNode:
        assert row.published_at is not None  # every version was published
        return cls(
            version=row.version,
            published_at=row.published_at,
            slug=row.slug,
            title=row.title,
            description=row.description,
            category=row.category,
            tags=list(row.tags),
            visibility=row.visibility,
            xp_reward=row.xp_reward,
            key=row.id,
        )


@strawberry.type(
    name="Journey",
    description=(
        "A program of scheduled and unscheduled events: its latest published version (the draft's fields "
        "before the first publish), or, for a run, the version the run follows."
    ),
)
class JourneyNode(Node):
    """Each field reads the row when it is asked for (as JourneyEvent's do)."""

    model: strawberry.Private[JourneyRow]

    @strawberry.field(description="A tenant-unique, URL-friendly name.")
    def slug(self) -> str:
        return self.model.slug

    @strawberry.field(description="Title shown to users.")
    def title(self) -> str:
        return self.model.title

    @strawberry.field(description="Longer description.")
    def description(self) -> str:
        return self.model.description

    @strawberry.field(description="Catalogue category, matched exactly by `journeys(category:)`.")
    def category(self) -> str | None:
        return self.model.category

    @strawberry.field(description="Free tags; `search` looks in them.")
    def tags(self) -> list[str]:
        return list(self.model.tags)

    @strawberry.field(description="Whether the catalogue lists it.")
    def visibility(self) -> Visibility:
        return self.model.visibility

    @strawberry.field(description="Authoring status.")
    def status(self) -> JourneyStatus:
        return self.model.status

    @strawberry.field(description="XP awarded once when the whole journey is completed.")
    def xp_reward(self) -> int:
        return self.model.xp_reward

    @strawberry.field(description="When it was created.")
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="When this version was published.")
    def published_at(self) -> datetime | None:
        return self.model.published_at

    @strawberry.field(
        description="The version these fields and events are (the latest published one; 0 before the first publish)."
    )
    def version(self) -> int:
        return self.model.version

    @strawberry.field(description="The journey's events in position order (of this version).")
    async def events(self, info: Info) -> list[JourneyEventNode]:
        items = await info.context.loaders.events_of_journey.load((self.model.id, self.model.version))
        return [JourneyEventNode.from_model(item) for item in items]

    draft = draft_field(lambda info: info.context.loaders.journey_draft, JourneyDraft, what="journey")
    versions = versions_field(reads.JOURNEY_READS, JourneyVersionNode, list_name="Journey.versions", what="journey")

    @classmethod
    def from_model(cls, journey: JourneyRow) -> JourneyNode:
        """From a served Core row (app/catalog/reads.py)."""
        return cls(id=to_global_id("Journey", journey.id), model=journey)


async def visible_journey(info: Info, journey_id: uuid.UUID) -> JourneyRow | None:
    """A journey of the viewer's tenant they may see: published for users, any for admins."""
    return await info.context.visible(info.context.loaders.journey, journey_id, published=JourneyStatus.PUBLISHED)


@node_type("Journey")
async def journey_node(info: Info, key: uuid.UUID) -> JourneyNode | None:
    journey = await visible_journey(info, key)
    return JourneyNode.from_model(journey) if journey else None


@node_type("JourneyEvent")
async def journey_event_node(info: Info, key: uuid.UUID) -> JourneyEventNode | None:
    item = await info.context.loaders.journey_event.load(key)
    if item is None or await visible_journey(info, item.journey_id) is None:
        return None
    if getattr(item, "item_version", 0) == 0 and not (await info.context.viewer()).is_admin:
        return None  # only in the draft
    return JourneyEventNode.from_model(item)


@strawberry.type(description="The result of a journey mutation.")
class JourneyPayload:
    journey: JourneyNode | None = strawberry.field(description="The journey; null when the mutation failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of a journey-event mutation.")
class JourneyEventPayload:
    event: JourneyEventNode | None = strawberry.field(
        description="The event (for removeJourneyEvent: as it was); null when the mutation failed."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.input(
    description="Journey fields. On create, `slug` and `title` are required; on update, omitted fields stay as they are."
)
class JourneyInput:
    slug: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Tenant-unique slug: lowercase words joined by hyphens, at most 64 characters.",
    )
    title: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    category: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 64 characters; null clears it."
    )
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="At most 20 tags of 1-32 characters."
    )
    visibility: Visibility | None = strawberry.field(default=strawberry.UNSET, description="Default PUBLIC.")
    xp_reward: int | None = strawberry.field(
        default=strawberry.UNSET, description="XP for completing the journey, 0..1,000,000. Default 0."
    )


@strawberry.input(
    description="Journey-event fields. On add, `title` is required; on update, omitted fields stay as they are."
)
class JourneyEventInput:
    title: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    kind: str | None = strawberry.field(
        default=strawberry.UNSET, description="Lowercase label such as `task`; default `task`."
    )
    day_offset: int | None = strawberry.field(
        default=strawberry.UNSET, description="0..3650 days after the start day; null = unscheduled."
    )
    duration_minutes: int | None = strawberry.field(default=strawberry.UNSET, description="1..10080 minutes, or null.")
    xp_reward: int | None = strawberry.field(
        default=strawberry.UNSET, description="XP for completing the event, 0..1,000,000. Default 0."
    )
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Free-form JSON object for the frontend, at most 16 KiB."
    )
