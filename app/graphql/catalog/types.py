"""GraphQL types of the catalogue: Journey and JourneyEvent."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.catalog.models import JourneyStatus, Visibility
from app.catalog.reads import EventRow, JourneyRow
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_type
from app.graphql.relay import Node, to_global_id
from app.graphql.scalars import JSON

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
    position: int = strawberry.field(description="1..n within the journey.")
    title: str = strawberry.field(description="Short title.")
    description: str = strawberry.field(description="What to do, in more words.")
    kind: str = strawberry.field(description="A free label of the event's kind, such as `task`, `video` or `reading`.")
    day_offset: int | None = strawberry.field(
        description="Days after the journey's start day it is scheduled on (0 = the start day); null = unscheduled."
    )
    duration_minutes: int | None = strawberry.field(description="How long it takes, if known.")
    xp_reward: int = strawberry.field(description="XP awarded once when it is completed.")
    metadata: JSON = strawberry.field(description="Free-form data for the frontend.")
    model: strawberry.Private[EventRow]

    @classmethod
    def from_model(cls, item: EventRow) -> JourneyEventNode:
        """From a ``JourneyEvent`` (mutations) or a Core row (reads)."""
        return cls(
            id=to_global_id("JourneyEvent", item.id),
            position=item.position,
            title=item.title,
            description=item.description,
            kind=item.kind,
            day_offset=item.day_offset,
            duration_minutes=item.duration_minutes,
            xp_reward=item.xp_reward,
            metadata=JSON(item.metadata_),
            model=item,
        )


@strawberry.type(name="Journey", description="A program of scheduled and unscheduled events.")
class JourneyNode(Node):
    slug: str = strawberry.field(description="A tenant-unique, URL-friendly name.")
    title: str = strawberry.field(description="Title shown to users.")
    description: str = strawberry.field(description="Longer description.")
    category: str | None = strawberry.field(description="Catalogue category, matched exactly by `journeys(category:)`.")
    tags: list[str] = strawberry.field(description="Free tags; `search` looks in them.")
    visibility: Visibility = strawberry.field(description="Whether the catalogue lists it.")
    status: JourneyStatus = strawberry.field(description="Authoring status.")
    xp_reward: int = strawberry.field(description="XP awarded once when the whole journey is completed.")
    created_at: datetime = strawberry.field(description="When it was created.")
    published_at: datetime | None = strawberry.field(description="When it was last published.")
    model: strawberry.Private[JourneyRow]

    @strawberry.field(description="The journey's events in position order.")
    async def events(self, info: Info) -> list[JourneyEventNode]:
        items = await info.context.loaders.events_of_journey.load(self.model.id)
        return [JourneyEventNode.from_model(item) for item in items]

    @classmethod
    def from_model(cls, journey: JourneyRow) -> JourneyNode:
        """From a ``Journey`` (mutations) or a Core row (reads)."""
        return cls(
            id=to_global_id("Journey", journey.id),
            slug=journey.slug,
            title=journey.title,
            description=journey.description,
            category=journey.category,
            tags=list(journey.tags),
            visibility=journey.visibility,
            status=journey.status,
            xp_reward=journey.xp_reward,
            created_at=journey.created_at,
            published_at=journey.published_at,
            model=journey,
        )


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
