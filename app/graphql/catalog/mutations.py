"""Admin mutations authoring the catalogue (the work: app/graphql/authoring.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.catalog import reads, service
from app.graphql.authoring import AuthoringMutations
from app.graphql.catalog.types import (
    JourneyEventInput,
    JourneyEventNode,
    JourneyEventPayload,
    JourneyInput,
    JourneyNode,
    JourneyPayload,
)
from app.graphql.context import Info
from app.graphql.versions import UpgradeInstancesPayload
from app.progress import upgrade

JourneyId = Annotated[strawberry.ID, strawberry.argument(description="The journey's id.")]
EventId = Annotated[strawberry.ID, strawberry.argument(description="The journey event's id.")]

JOURNEYS: AuthoringMutations[JourneyPayload, JourneyEventPayload] = AuthoringMutations(
    authoring=service.AUTHORING,
    reads=reads.JOURNEY_READS,
    type_name="Journey",
    item_type_name="JourneyEvent",
    node=JourneyNode.from_model,
    item_node=JourneyEventNode.from_model,
    payload=lambda node, errors: JourneyPayload(journey=node, errors=errors),
    item_payload=lambda node, errors: JourneyEventPayload(event=node, errors=errors),
)


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Admins: create a DRAFT journey.")
    async def create_journey(
        self, info: Info, input: Annotated[JourneyInput, strawberry.argument(description="The journey's fields.")]
    ) -> JourneyPayload:
        return await JOURNEYS.create(info, input)

    @strawberry.mutation(description="Admins: change the given fields of a journey.")
    async def update_journey(
        self,
        info: Info,
        id: JourneyId,
        input: Annotated[JourneyInput, strawberry.argument(description="The fields to change.")],
    ) -> JourneyPayload:
        return await JOURNEYS.update(info, id, input)

    @strawberry.mutation(description="Admins: publish a journey (it needs at least one event).")
    async def publish_journey(self, info: Info, id: JourneyId) -> JourneyPayload:
        return await JOURNEYS.publish(info, id)

    @strawberry.mutation(description="Admins: archive a journey; users no longer see it.")
    async def archive_journey(self, info: Info, id: JourneyId) -> JourneyPayload:
        return await JOURNEYS.archive(info, id)

    @strawberry.mutation(description="Admins: append an event to a journey.")
    async def add_journey_event(
        self,
        info: Info,
        journey_id: JourneyId,
        input: Annotated[JourneyEventInput, strawberry.argument(description="The event's fields.")],
    ) -> JourneyEventPayload:
        return await JOURNEYS.add_item(info, journey_id, input)

    @strawberry.mutation(description="Admins: change the given fields of a journey event.")
    async def update_journey_event(
        self,
        info: Info,
        id: EventId,
        input: Annotated[JourneyEventInput, strawberry.argument(description="The fields to change.")],
    ) -> JourneyEventPayload:
        return await JOURNEYS.update_item(info, id, input)

    @strawberry.mutation(description="Admins: remove an event; later events move up one position.")
    async def remove_journey_event(self, info: Info, id: EventId) -> JourneyEventPayload:
        return await JOURNEYS.remove_item(info, id)

    @strawberry.mutation(description="Admins: set the order of a journey's events (each listed exactly once).")
    async def reorder_journey_events(
        self,
        info: Info,
        journey_id: JourneyId,
        event_ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Every event's id, in the new order.")
        ],
    ) -> JourneyPayload:
        return await JOURNEYS.reorder_items(info, journey_id, event_ids)

    @strawberry.mutation(
        description=(
            "Admins: move the journey's open (ACTIVE or SUSPENDED) runs to its latest version: events kept by id "
            "keep their state, new ones start NOT_STARTED, removed ones leave the progress; each moved run logs "
            "`upgraded` with {from, to}. Completed and abandoned runs never move."
        )
    )
    async def upgrade_journey_instances(
        self,
        info: Info,
        journey_id: JourneyId,
        from_version: Annotated[
            int | None, strawberry.argument(description="Only runs on this version (all older ones when omitted).")
        ] = None,
    ) -> UpgradeInstancesPayload:
        return await JOURNEYS.upgrade(
            info,
            journey_id,
            lambda s, tenant, key: upgrade.upgrade_journey_instances(
                s, tenant=tenant, journey_id=key, from_version=from_version
            ),
        )
