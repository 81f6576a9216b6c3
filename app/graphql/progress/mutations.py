"""A user's progress mutations: start and move journey instances, start and complete events;
admins and API keys make them on any user's runs (app/graphql/acting.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.graphql import acting
from app.graphql.acting import UserExternalId
from app.graphql.context import Info
from app.graphql.errors import UserError, require, write_payload
from app.graphql.progress.types import (
    CompleteEventPayload,
    EventInstanceNode,
    EventInstancePayload,
    JourneyInstanceNode,
    JourneyInstancePayload,
)
from app.graphql.relay import local_id
from app.graphql.rewards.types import RewardNode
from app.graphql.scalars import JSON, LogMetadata, json_argument
from app.modelbase import utcnow
from app.progress import events, service
from app.progress.models import JourneyInstance
from app.progress.reads import EventState

InstanceId = Annotated[strawberry.ID, strawberry.argument(description="The journey instance's id.")]
JourneyEventId = Annotated[strawberry.ID, strawberry.argument(description="The journey event's id.")]
Transition = Callable[..., Awaitable[JourneyInstance]]


async def _instance(info: Info, work: Callable[[AsyncSession], Awaitable[JourneyInstance]]) -> JourneyInstancePayload:
    return await write_payload(
        info,
        work,
        ok=lambda i: JourneyInstancePayload(instance=JourneyInstanceNode.from_model(i), errors=[]),
        failed=lambda errors: JourneyInstancePayload(instance=None, errors=errors),
    )


async def _transition(
    info: Info, instance_id: str, metadata: JSON | None, change: Transition
) -> JourneyInstancePayload:
    viewer = await info.context.viewer()
    key = local_id(instance_id, "JourneyInstance")

    async def work(session: AsyncSession) -> JourneyInstance:
        run_id = require(key, "Journey instance", "instanceId")
        return await change(
            session,
            tenant_id=viewer.tenant_id,
            user_id=await acting.journey_run_owner(session, viewer, run_id),
            instance_id=run_id,
            metadata=json_argument(metadata),
        )

    return await _instance(info, work)


@strawberry.type
class ProgressMutation:
    @strawberry.mutation(
        description=(
            "Start a journey: a new ACTIVE instance whose day 0 is today in the first of `timezone`, the token's, "
            "the user's, the tenant's, UTC. ALREADY_ACTIVE while an ACTIVE or SUSPENDED one exists. Admins and "
            "API keys start it for `userExternalId`."
        )
    )
    async def start_journey(
        self,
        info: Info,
        journey_id: Annotated[strawberry.ID, strawberry.argument(description="A published journey's id.")],
        timezone: Annotated[
            str | None, strawberry.argument(description="IANA timezone for the instance's local days.")
        ] = None,
        metadata: LogMetadata = None,
        user_external_id: UserExternalId = None,
    ) -> JourneyInstancePayload:
        viewer = await info.context.viewer()
        key = local_id(journey_id, "Journey")

        async def work(session: AsyncSession) -> JourneyInstance:
            target = await acting.for_user(session, viewer, user_external_id)
            journey = require(key, "Journey", "journeyId")
            return await service.start_journey(
                session,
                viewer_tenant=viewer.tenant,
                user_id=target.user_id,
                journey_id=journey,
                timezone=timezone,
                token_timezone=target.token_timezone,
                user_timezone=target.user_timezone,
                metadata=json_argument(metadata),
            )

        return await _instance(info, work)

    @strawberry.mutation(description="Pause an ACTIVE journey instance (NOT_ACTIVE otherwise).")
    async def suspend_journey(
        self, info: Info, instance_id: InstanceId, metadata: LogMetadata = None
    ) -> JourneyInstancePayload:
        return await _transition(info, instance_id, metadata, service.suspend_journey)

    @strawberry.mutation(
        description=(
            "Resume a SUSPENDED journey instance (NOT_SUSPENDED otherwise); unfinished scheduled events move "
            "forward by the whole local days it was suspended."
        )
    )
    async def resume_journey(
        self, info: Info, instance_id: InstanceId, metadata: LogMetadata = None
    ) -> JourneyInstancePayload:
        return await _transition(info, instance_id, metadata, service.resume_journey)

    @strawberry.mutation(description="Give up an ACTIVE or SUSPENDED journey instance (NOT_ACTIVE otherwise).")
    async def abandon_journey(
        self, info: Info, instance_id: InstanceId, metadata: LogMetadata = None
    ) -> JourneyInstancePayload:
        return await _transition(info, instance_id, metadata, service.abandon_journey)

    @strawberry.mutation(
        description=(
            "Start an event of an ACTIVE instance: its event instance, created IN_PROGRESS if there is none "
            "(an existing one is returned unchanged)."
        )
    )
    async def start_event(
        self, info: Info, instance_id: InstanceId, journey_event_id: JourneyEventId
    ) -> EventInstancePayload:
        viewer = await info.context.viewer()
        instance_key = local_id(instance_id, "JourneyInstance")
        event_key = local_id(journey_event_id, "JourneyEvent")

        async def work(session: AsyncSession) -> EventState:
            run_id = require(instance_key, "Journey instance", "instanceId")
            return await events.start_event(
                session,
                tenant_id=viewer.tenant_id,
                user_id=await acting.journey_run_owner(session, viewer, run_id),
                instance_id=run_id,
                journey_event_id=require(event_key, "Journey event", "journeyEventId"),
            )

        return await write_payload(
            info,
            work,
            ok=lambda state: EventInstancePayload(event_instance=EventInstanceNode.from_state(state), errors=[]),
            failed=lambda errors: EventInstancePayload(event_instance=None, errors=errors),
        )

    @strawberry.mutation(
        description=(
            "Complete an event, awarding its XP once; when it is the last one the instance completes and the "
            "journey's XP is awarded once. Completing a completed event returns it and awards nothing."
        )
    )
    async def complete_event(
        self, info: Info, instance_id: InstanceId, journey_event_id: JourneyEventId, metadata: LogMetadata = None
    ) -> CompleteEventPayload:
        viewer = await info.context.viewer()
        instance_key = local_id(instance_id, "JourneyInstance")
        event_key = local_id(journey_event_id, "JourneyEvent")

        async def work(session: AsyncSession) -> events.CompleteEventResult:
            run_id = require(instance_key, "Journey instance", "instanceId")
            return await events.complete_event(
                session,
                tenant=viewer.tenant,
                user_id=await acting.journey_run_owner(session, viewer, run_id),
                instance_id=run_id,
                journey_event_id=require(event_key, "Journey event", "journeyEventId"),
                metadata=json_argument(metadata),
            )

        return await write_payload(
            info,
            work,
            ok=_completed,
            failed=_complete_failed,
        )


def _completed(done: events.CompleteEventResult) -> CompleteEventPayload:
    at = done.event_instance.completed_at or utcnow()
    return CompleteEventPayload(
        event_instance=EventInstanceNode.from_state(done.event_instance),
        instance=JourneyInstanceNode.from_model(done.instance),
        xp_awarded=done.xp_awarded,
        level_before=done.level_before,
        level_after=done.level_after,
        rewards_unlocked=[RewardNode.unlocked_now(r, at) for r in done.rewards_unlocked],
        errors=[],
    )


def _complete_failed(errors: list[UserError]) -> CompleteEventPayload:
    return CompleteEventPayload(
        event_instance=None,
        instance=None,
        xp_awarded=0,
        level_before=None,
        level_after=None,
        rewards_unlocked=[],
        errors=errors,
    )
