"""Admin mutations authoring the catalogue."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.catalog import service
from app.errors import NotFound
from app.graphql.catalog.types import (
    JourneyEventInput,
    JourneyEventNode,
    JourneyEventPayload,
    JourneyInput,
    JourneyNode,
    JourneyPayload,
)
from app.graphql.context import Info
from app.graphql.errors import Failed, run_write, user_errors
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id

JourneyId = Annotated[strawberry.ID, strawberry.argument(description="The journey's id.")]
EventId = Annotated[strawberry.ID, strawberry.argument(description="The journey event's id.")]


def _journey_failed(field: str) -> JourneyPayload:
    return JourneyPayload(journey=None, errors=user_errors(NotFound("Journey", field=[field])))


def _event_failed(field: str) -> JourneyEventPayload:
    return JourneyEventPayload(event=None, errors=user_errors(NotFound("Journey event", field=[field])))


def _journey_result(result: object) -> JourneyPayload:
    if isinstance(result, Failed):
        return JourneyPayload(journey=None, errors=result.errors)
    return JourneyPayload(journey=JourneyNode.from_model(result.value), errors=[])  # type: ignore[attr-defined]


def _event_result(result: object) -> JourneyEventPayload:
    if isinstance(result, Failed):
        return JourneyEventPayload(event=None, errors=result.errors)
    return JourneyEventPayload(event=JourneyEventNode.from_model(result.value), errors=[])  # type: ignore[attr-defined]


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Admins: create a DRAFT journey.")
    async def create_journey(
        self, info: Info, input: Annotated[JourneyInput, strawberry.argument(description="The journey's fields.")]
    ) -> JourneyPayload:
        viewer = await info.context.admin()
        values = service.JourneyFields(**given_fields(input))
        return _journey_result(
            await run_write(info, lambda s: service.create_journey(s, tenant_id=viewer.tenant_id, values=values))
        )

    @strawberry.mutation(description="Admins: change the given fields of a journey.")
    async def update_journey(
        self,
        info: Info,
        id: JourneyId,
        input: Annotated[JourneyInput, strawberry.argument(description="The fields to change.")],
    ) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Journey")
        if key is None:
            return _journey_failed("id")
        values = service.JourneyFields(**given_fields(input))
        return _journey_result(
            await run_write(
                info, lambda s: service.update_journey(s, tenant_id=viewer.tenant_id, journey_id=key, values=values)
            )
        )

    @strawberry.mutation(description="Admins: publish a journey (it needs at least one event).")
    async def publish_journey(self, info: Info, id: JourneyId) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Journey")
        if key is None:
            return _journey_failed("id")
        return _journey_result(
            await run_write(info, lambda s: service.publish_journey(s, tenant_id=viewer.tenant_id, journey_id=key))
        )

    @strawberry.mutation(description="Admins: archive a journey; users no longer see it.")
    async def archive_journey(self, info: Info, id: JourneyId) -> JourneyPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Journey")
        if key is None:
            return _journey_failed("id")
        return _journey_result(
            await run_write(info, lambda s: service.archive_journey(s, tenant_id=viewer.tenant_id, journey_id=key))
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
        if key is None:
            return _event_failed("journeyId")
        values = service.EventFields(**given_fields(input))
        return _event_result(
            await run_write(
                info, lambda s: service.add_event(s, tenant_id=viewer.tenant_id, journey_id=key, values=values)
            )
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
        if key is None:
            return _event_failed("id")
        values = service.EventFields(**given_fields(input))
        return _event_result(
            await run_write(
                info, lambda s: service.update_event(s, tenant_id=viewer.tenant_id, event_id=key, values=values)
            )
        )

    @strawberry.mutation(description="Admins: remove an event; later events move up one position.")
    async def remove_journey_event(self, info: Info, id: EventId) -> JourneyEventPayload:
        viewer = await info.context.admin()
        key = local_id(id, "JourneyEvent")
        if key is None:
            return _event_failed("id")
        return _event_result(
            await run_write(info, lambda s: service.remove_event(s, tenant_id=viewer.tenant_id, event_id=key))
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
        if key is None:
            return _journey_failed("journeyId")
        keys = [local_id(i, "JourneyEvent") for i in event_ids]
        if any(k is None for k in keys):
            return JourneyPayload(
                journey=None,
                errors=user_errors(NotFound("Journey event", field=["eventIds"])),
            )
        return _journey_result(
            await run_write(
                info,
                lambda s: service.reorder_events(
                    s, tenant_id=viewer.tenant_id, journey_id=key, event_ids=[k for k in keys if k]
                ),
            )
        )
