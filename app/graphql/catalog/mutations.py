"""Admin mutations authoring the catalogue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import service
from app.catalog.models import Journey, JourneyEvent
from app.graphql.catalog.types import (
    JourneyEventInput,
    JourneyEventNode,
    JourneyEventPayload,
    JourneyInput,
    JourneyNode,
    JourneyPayload,
)
from app.graphql.context import Info
from app.graphql.errors import require, write_payload
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id

JourneyId = Annotated[strawberry.ID, strawberry.argument(description="The journey's id.")]
EventId = Annotated[strawberry.ID, strawberry.argument(description="The journey event's id.")]


async def _journey(info: Info, work: Callable[[AsyncSession], Awaitable[Journey]]) -> JourneyPayload:
    return await write_payload(
        info,
        work,
        ok=lambda j: JourneyPayload(journey=JourneyNode.from_model(j), errors=[]),
        failed=lambda errors: JourneyPayload(journey=None, errors=errors),
    )


async def _event(info: Info, work: Callable[[AsyncSession], Awaitable[JourneyEvent]]) -> JourneyEventPayload:
    return await write_payload(
        info,
        work,
        ok=lambda e: JourneyEventPayload(event=JourneyEventNode.from_model(e), errors=[]),
        failed=lambda errors: JourneyEventPayload(event=None, errors=errors),
    )


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Admins: create a DRAFT journey.")
    async def create_journey(
        self, info: Info, input: Annotated[JourneyInput, strawberry.argument(description="The journey's fields.")]
    ) -> JourneyPayload:
        viewer = await info.context.admin()
        values = service.JourneyFields(**given_fields(input))
        return await _journey(info, lambda s: service.create_journey(s, tenant_id=viewer.tenant_id, values=values))

    @strawberry.mutation(description="Admins: change the given fields of a journey.")
    async def update_journey(
        self,
        info: Info,
        id: JourneyId,
        input: Annotated[JourneyInput, strawberry.argument(description="The fields to change.")],
    ) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Journey")
        values = service.JourneyFields(**given_fields(input))
        return await _journey(
            info,
            lambda s: service.update_journey(
                s, tenant_id=viewer.tenant_id, journey_id=require(key, "Journey", "id"), values=values
            ),
        )

    @strawberry.mutation(description="Admins: publish a journey (it needs at least one event).")
    async def publish_journey(self, info: Info, id: JourneyId) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Journey")
        return await _journey(
            info,
            lambda s: service.publish_journey(s, tenant_id=viewer.tenant_id, journey_id=require(key, "Journey", "id")),
        )

    @strawberry.mutation(description="Admins: archive a journey; users no longer see it.")
    async def archive_journey(self, info: Info, id: JourneyId) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Journey")
        return await _journey(
            info,
            lambda s: service.archive_journey(s, tenant_id=viewer.tenant_id, journey_id=require(key, "Journey", "id")),
        )

    @strawberry.mutation(description="Admins: append an event to a journey.")
    async def add_journey_event(
        self,
        info: Info,
        journey_id: JourneyId,
        input: Annotated[JourneyEventInput, strawberry.argument(description="The event's fields.")],
    ) -> JourneyEventPayload:
        viewer = await info.context.admin()
        key = local_id(journey_id, "Journey")
        values = service.EventFields(**given_fields(input))
        return await _event(
            info,
            lambda s: service.add_event(
                s, tenant_id=viewer.tenant_id, journey_id=require(key, "Journey", "journeyId"), values=values
            ),
        )

    @strawberry.mutation(description="Admins: change the given fields of a journey event.")
    async def update_journey_event(
        self,
        info: Info,
        id: EventId,
        input: Annotated[JourneyEventInput, strawberry.argument(description="The fields to change.")],
    ) -> JourneyEventPayload:
        viewer = await info.context.admin()
        key = local_id(id, "JourneyEvent")
        values = service.EventFields(**given_fields(input))
        return await _event(
            info,
            lambda s: service.update_event(
                s, tenant_id=viewer.tenant_id, event_id=require(key, "Journey event", "id"), values=values
            ),
        )

    @strawberry.mutation(description="Admins: remove an event; later events move up one position.")
    async def remove_journey_event(self, info: Info, id: EventId) -> JourneyEventPayload:
        viewer = await info.context.admin()
        key = local_id(id, "JourneyEvent")
        return await _event(
            info,
            lambda s: service.remove_event(s, tenant_id=viewer.tenant_id, event_id=require(key, "Journey event", "id")),
        )

    @strawberry.mutation(description="Admins: set the order of a journey's events (each listed exactly once).")
    async def reorder_journey_events(
        self,
        info: Info,
        journey_id: JourneyId,
        event_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Every event's id, in the new order.")
        ],
    ) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(journey_id, "Journey")
        keys = [local_id(i, "JourneyEvent") for i in event_ids]
        return await _journey(
            info,
            lambda s: service.reorder_events(
                s,
                tenant_id=viewer.tenant_id,
                journey_id=require(key, "Journey", "journeyId"),
                event_ids=[require(k, "Journey event", "eventIds") for k in keys],
            ),
        )
