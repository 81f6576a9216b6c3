"""A user's progress mutations: start and move journey instances, start and complete events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.graphql.context import Info
from app.graphql.errors import Failed, run_write, user_errors
from app.graphql.progress.types import (
    CompleteEventPayload,
    EventInstanceNode,
    EventInstancePayload,
    JourneyInstanceNode,
    JourneyInstancePayload,
)
from app.graphql.relay import local_id
from app.graphql.rewards.types import RewardNode
from app.graphql.scalars import JSON, json_argument
from app.modelbase import utcnow
from app.progress import service
from app.progress.models import JourneyInstance

InstanceId = Annotated[strawberry.ID, strawberry.argument(description="The journey instance's id.")]
JourneyEventId = Annotated[strawberry.ID, strawberry.argument(description="The journey event's id.")]
Metadata = Annotated[
    JSON | None, strawberry.argument(description="Free-form JSON object (at most 16 KiB) kept with the log entry.")
]
Transition = Callable[..., Awaitable[JourneyInstance]]


def _not_found(what: str, field: str) -> list[Any]:
    return user_errors(NotFound(what, field=[field]))


def _instance_payload(result: object) -> JourneyInstancePayload:
    if isinstance(result, Failed):
        return JourneyInstancePayload(instance=None, errors=result.errors)
    return JourneyInstancePayload(instance=JourneyInstanceNode.from_model(result.value), errors=[])  # type: ignore[attr-defined]


async def _transition(
    info: Info, instance_id: str, metadata: JSON | None, change: Transition
) -> JourneyInstancePayload:
    viewer = await info.context.viewer()
    key = local_id(instance_id, "JourneyInstance")
    if key is None:
        return JourneyInstancePayload(instance=None, errors=_not_found("Journey instance", "instanceId"))

    async def work(session: AsyncSession) -> JourneyInstance:
        return await change(
            session,
            tenant_id=viewer.tenant_id,
            user_id=viewer.user_id,
            instance_id=key,
            metadata=json_argument(metadata),
        )

    return _instance_payload(await run_write(info, work))


def _event_keys(instance_id: str, journey_event_id: str) -> tuple[uuid.UUID, uuid.UUID] | list[Any]:
    """Both keys, or the user errors of the ids that name nothing."""
    instance_key = local_id(instance_id, "JourneyInstance")
    if instance_key is None:
        return _not_found("Journey instance", "instanceId")
    event_key = local_id(journey_event_id, "JourneyEvent")
    if event_key is None:
        return _not_found("Journey event", "journeyEventId")
    return instance_key, event_key


@strawberry.type
class ProgressMutation:
    @strawberry.mutation(
        description=(
            "Start a journey: a new ACTIVE instance whose day 0 is today in the first of `timezone`, the token's, "
            "the user's, the tenant's, UTC. ALREADY_ACTIVE while an ACTIVE or SUSPENDED one exists."
        )
    )
    async def start_journey(
        self,
        info: Info,
        journey_id: Annotated[strawberry.ID, strawberry.argument(description="A published journey's id.")],
        timezone: Annotated[
            str | None, strawberry.argument(description="IANA timezone for the instance's local days.")
        ] = None,
        metadata: Metadata = None,
    ) -> JourneyInstancePayload:
        viewer = await info.context.viewer()
        key = local_id(journey_id, "Journey")
        if key is None:
            return JourneyInstancePayload(instance=None, errors=_not_found("Journey", "journeyId"))
        return _instance_payload(
            await run_write(
                info,
                lambda s: service.start_journey(
                    s,
                    viewer_tenant=viewer.tenant,
                    user_id=viewer.user_id,
                    journey_id=key,
                    timezone=timezone,
                    token_timezone=viewer.token_timezone,
                    user_timezone=viewer.user.timezone,
                    metadata=json_argument(metadata),
                ),
            )
        )

    @strawberry.mutation(description="Pause an ACTIVE journey instance (NOT_ACTIVE otherwise).")
    async def suspend_journey(
        self, info: Info, instance_id: InstanceId, metadata: Metadata = None
    ) -> JourneyInstancePayload:
        return await _transition(info, instance_id, metadata, service.suspend_journey)

    @strawberry.mutation(
        description=(
            "Resume a SUSPENDED journey instance (NOT_SUSPENDED otherwise); unfinished scheduled events move "
            "forward by the whole local days it was suspended."
        )
    )
    async def resume_journey(
        self, info: Info, instance_id: InstanceId, metadata: Metadata = None
    ) -> JourneyInstancePayload:
        return await _transition(info, instance_id, metadata, service.resume_journey)

    @strawberry.mutation(description="Give up an ACTIVE or SUSPENDED journey instance (NOT_ACTIVE otherwise).")
    async def abandon_journey(
        self, info: Info, instance_id: InstanceId, metadata: Metadata = None
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
        keys = _event_keys(instance_id, journey_event_id)
        if isinstance(keys, list):
            return EventInstancePayload(event_instance=None, errors=keys)
        instance_key, event_key = keys
        result = await run_write(
            info,
            lambda s: service.start_event(
                s,
                tenant_id=viewer.tenant_id,
                user_id=viewer.user_id,
                instance_id=instance_key,
                journey_event_id=event_key,
            ),
        )
        if isinstance(result, Failed):
            return EventInstancePayload(event_instance=None, errors=result.errors)
        return EventInstancePayload(event_instance=EventInstanceNode.from_state(result.value), errors=[])

    @strawberry.mutation(
        description=(
            "Complete an event, awarding its XP once; when it is the last one the instance completes and the "
            "journey's XP is awarded once. Completing a completed event returns it and awards nothing."
        )
    )
    async def complete_event(
        self, info: Info, instance_id: InstanceId, journey_event_id: JourneyEventId, metadata: Metadata = None
    ) -> CompleteEventPayload:
        viewer = await info.context.viewer()
        keys = _event_keys(instance_id, journey_event_id)
        if isinstance(keys, list):
            return _complete_failed(keys)
        instance_key, event_key = keys
        result = await run_write(
            info,
            lambda s: service.complete_event(
                s,
                tenant=viewer.tenant,
                user_id=viewer.user_id,
                instance_id=instance_key,
                journey_event_id=event_key,
                metadata=json_argument(metadata),
            ),
        )
        if isinstance(result, Failed):
            return _complete_failed(result.errors)
        done = result.value
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


def _complete_failed(errors: list[Any]) -> CompleteEventPayload:
    return CompleteEventPayload(
        event_instance=None,
        instance=None,
        xp_awarded=0,
        level_before=None,
        level_after=None,
        rewards_unlocked=[],
        errors=errors,
    )
