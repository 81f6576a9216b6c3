"""Onboarding mutations: a user's run through an onboarding and its completion with the
classification form; admins author onboardings, their steps and forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.graphql.context import Info
from app.graphql.errors import UserError, require, write_payload
from app.graphql.inputs import given_fields
from app.graphql.onboarding.queries import responses_of
from app.graphql.onboarding.types import (
    ClassificationFormInput,
    ClassificationType,
    CompleteOnboardingPayload,
    FormResponseInput,
    OnboardingInput,
    OnboardingJourneyNode,
    OnboardingJourneyPayload,
    OnboardingNode,
    OnboardingPayload,
    OnboardingStepInput,
    OnboardingStepNode,
    OnboardingStepPayload,
)
from app.graphql.progress.types import JourneyInstanceNode
from app.graphql.relay import local_id, parse_global_id
from app.graphql.scalars import JSON, json_argument
from app.onboarding import authoring, completion, lifecycle
from app.onboarding.models import Onboarding, OnboardingJourney, OnboardingStep

OnboardingId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding's id.")]
StepId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding step's id.")]
JourneyId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding journey's id.")]
Metadata = Annotated[
    JSON | None, strawberry.argument(description="Free-form JSON object (at most 16 KiB) kept with the log entry.")
]


async def _onboarding(info: Info, work: Callable[[AsyncSession], Awaitable[Onboarding]]) -> OnboardingPayload:
    return await write_payload(
        info,
        work,
        ok=lambda o: OnboardingPayload(onboarding=OnboardingNode.from_model(o), errors=[]),
        failed=lambda errors: OnboardingPayload(onboarding=None, errors=errors),
    )


async def _step(info: Info, work: Callable[[AsyncSession], Awaitable[OnboardingStep]]) -> OnboardingStepPayload:
    return await write_payload(
        info,
        work,
        ok=lambda s: OnboardingStepPayload(step=OnboardingStepNode.from_model(s), errors=[]),
        failed=lambda errors: OnboardingStepPayload(step=None, errors=errors),
    )


async def _run(info: Info, work: Callable[[AsyncSession], Awaitable[OnboardingJourney]]) -> OnboardingJourneyPayload:
    return await write_payload(
        info,
        work,
        ok=lambda j: OnboardingJourneyPayload(onboarding_journey=OnboardingJourneyNode.from_model(j), errors=[]),
        failed=lambda errors: OnboardingJourneyPayload(onboarding_journey=None, errors=errors),
    )


def _journey_key(value: str) -> str:
    """A recommended journey as the form stores it: the journey's UUID (anything else is left
    for the form's validation to reject)."""
    parsed = parse_global_id(value)
    return str(parsed[1]) if parsed is not None and parsed[0] == "Journey" else value


def form_input(value: ClassificationFormInput) -> dict[str, Any]:
    """The form input as the authoring service validates it."""
    return {
        "questions": [
            {
                "key": q.key,
                "prompt": q.prompt,
                "kind": q.kind.value,
                **({"required": q.required} if q.required is not None else {}),
                **(
                    {
                        "options": [
                            {
                                "value": o.value,
                                "label": o.label,
                                **({"scores": o.scores} if o.scores is not None else {}),
                            }
                            for o in q.options
                        ]
                    }
                    if q.options is not None
                    else {}
                ),
                **({"min": q.min} if q.min is not None else {}),
                **({"max": q.max} if q.max is not None else {}),
                **({"weights": q.weights} if q.weights is not None else {}),
            }
            for q in value.questions
        ],
        "segments": [
            {
                "key": s.key,
                "name": s.name,
                **({"description": s.description} if s.description is not None else {}),
                **({"insight": s.insight} if s.insight is not None else {}),
                **(
                    {"recommendedJourneys": [_journey_key(j) for j in s.recommended_journeys]}
                    if s.recommended_journeys is not None
                    else {}
                ),
                **({"priority": s.priority} if s.priority is not None else {}),
            }
            for s in value.segments
        ],
    }


def _completed(done: completion.CompletionResult) -> CompleteOnboardingPayload:
    return CompleteOnboardingPayload(
        classification=ClassificationType.from_model(done.classification),
        onboarding_journey=OnboardingJourneyNode.from_model(done.journey),
        started_journeys=[JourneyInstanceNode.from_model(i) for i in done.started_journeys],
        xp_awarded=done.award.xp_awarded if done.award else 0,
        errors=[],
    )


def _completion_failed(errors: list[UserError]) -> CompleteOnboardingPayload:
    return CompleteOnboardingPayload(
        classification=None, onboarding_journey=None, started_journeys=[], xp_awarded=0, errors=errors
    )


@strawberry.type
class OnboardingMutation:
    # --- a user's run ------------------------------------------------------------------------

    @strawberry.mutation(
        description="Start a published onboarding: ACTIVE at step 1. ALREADY_ACTIVE while an open run exists."
    )
    async def start_onboarding(
        self, info: Info, onboarding_id: OnboardingId, metadata: Metadata = None
    ) -> OnboardingJourneyPayload:
        viewer = await info.context.viewer()
        key = local_id(onboarding_id, "Onboarding")
        return await _run(
            info,
            lambda s: lifecycle.start_onboarding(
                s,
                tenant_id=viewer.tenant_id,
                user_id=viewer.user_id,
                onboarding_id=require(key, "Onboarding", "onboardingId"),
                metadata=json_argument(metadata),
            ),
        )

    @strawberry.mutation(
        description=(
            "Complete the current step (logged with the metadata) and move to the next; on the last step the "
            "onboarding journey is COMPLETED and its XP awarded once. NOT_ACTIVE unless ACTIVE."
        )
    )
    async def progress_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: Metadata = None
    ) -> OnboardingJourneyPayload:
        viewer = await info.context.viewer()
        key = local_id(journey_id, "OnboardingJourney")

        async def work(session: AsyncSession) -> OnboardingJourney:
            done = await lifecycle.progress_onboarding(
                session,
                tenant=viewer.tenant,
                user_id=viewer.user_id,
                journey_id=require(key, "Onboarding journey", "journeyId"),
                metadata=json_argument(metadata),
            )
            return done.journey

        return await _run(info, work)

    @strawberry.mutation(
        description="Log an action on the current step without moving (action 1-64 characters). NOT_ACTIVE unless ACTIVE."
    )
    async def log_onboarding_step(
        self,
        info: Info,
        journey_id: JourneyId,
        action: Annotated[str, strawberry.argument(description="What happened, e.g. `field_completed`.")],
        metadata: Metadata = None,
    ) -> OnboardingJourneyPayload:
        viewer = await info.context.viewer()
        key = local_id(journey_id, "OnboardingJourney")
        return await _run(
            info,
            lambda s: lifecycle.log_onboarding_step(
                s,
                tenant_id=viewer.tenant_id,
                user_id=viewer.user_id,
                journey_id=require(key, "Onboarding journey", "journeyId"),
                action=action,
                metadata=json_argument(metadata),
            ),
        )

    @strawberry.mutation(description="Pause an ACTIVE onboarding journey (NOT_ACTIVE otherwise).")
    async def suspend_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: Metadata = None
    ) -> OnboardingJourneyPayload:
        return await _transition(info, journey_id, metadata, lifecycle.suspend_onboarding)

    @strawberry.mutation(description="Resume a SUSPENDED onboarding journey (NOT_SUSPENDED otherwise).")
    async def resume_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: Metadata = None
    ) -> OnboardingJourneyPayload:
        return await _transition(info, journey_id, metadata, lifecycle.resume_onboarding)

    @strawberry.mutation(description="Give up an ACTIVE or SUSPENDED onboarding journey (NOT_ACTIVE otherwise).")
    async def abandon_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: Metadata = None
    ) -> OnboardingJourneyPayload:
        return await _transition(info, journey_id, metadata, lifecycle.abandon_onboarding)

    @strawberry.mutation(
        description=(
            "Answer an onboarding's form, in one transaction: store the answers and classification (latest wins, "
            "history kept), complete the viewer's onboarding journey for it, award its XP once and start the "
            "recommended journeys not already open. A retry returns the stored result and changes nothing."
        )
    )
    async def complete_onboarding(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        responses: Annotated[list[FormResponseInput], strawberry.argument(description="The answers.")],
        start_recommended: Annotated[
            bool, strawberry.argument(description="Whether to start the recommended journeys.")
        ] = True,
    ) -> CompleteOnboardingPayload:
        viewer = await info.context.viewer()
        key = local_id(onboarding_id, "Onboarding")
        answers = responses_of(responses)
        return await write_payload(
            info,
            lambda s: completion.complete_onboarding(
                s,
                tenant=viewer.tenant,
                user_id=viewer.user_id,
                onboarding_id=require(key, "Onboarding", "onboardingId"),
                responses=answers,
                start_recommended=start_recommended,
                token_timezone=viewer.token_timezone,
                user_timezone=viewer.user.timezone,
            ),
            ok=_completed,
            failed=_completion_failed,
        )

    # --- authoring (admins) ------------------------------------------------------------------

    @strawberry.mutation(description="Admins: create a DRAFT onboarding.")
    async def create_onboarding(
        self, info: Info, input: Annotated[OnboardingInput, strawberry.argument(description="Its fields.")]
    ) -> OnboardingPayload:
        viewer = await info.context.admin()
        values = authoring.OnboardingFields(**given_fields(input))
        return await _onboarding(
            info, lambda s: authoring.create_onboarding(s, tenant_id=viewer.tenant_id, values=values)
        )

    @strawberry.mutation(description="Admins: change the given fields of an onboarding.")
    async def update_onboarding(
        self,
        info: Info,
        id: OnboardingId,
        input: Annotated[OnboardingInput, strawberry.argument(description="The fields to change.")],
    ) -> OnboardingPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Onboarding")
        values = authoring.OnboardingFields(**given_fields(input))
        return await _onboarding(
            info,
            lambda s: authoring.update_onboarding(
                s, tenant_id=viewer.tenant_id, onboarding_id=require(key, "Onboarding", "id"), values=values
            ),
        )

    @strawberry.mutation(description="Admins: publish an onboarding (it needs at least one step).")
    async def publish_onboarding(self, info: Info, id: OnboardingId) -> OnboardingPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Onboarding")
        return await _onboarding(
            info,
            lambda s: authoring.publish_onboarding(
                s, tenant_id=viewer.tenant_id, onboarding_id=require(key, "Onboarding", "id")
            ),
        )

    @strawberry.mutation(description="Admins: archive an onboarding; users no longer see it.")
    async def archive_onboarding(self, info: Info, id: OnboardingId) -> OnboardingPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Onboarding")
        return await _onboarding(
            info,
            lambda s: authoring.archive_onboarding(
                s, tenant_id=viewer.tenant_id, onboarding_id=require(key, "Onboarding", "id")
            ),
        )

    @strawberry.mutation(description="Admins: append a step to an onboarding.")
    async def add_onboarding_step(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        input: Annotated[OnboardingStepInput, strawberry.argument(description="The step's fields.")],
    ) -> OnboardingStepPayload:
        viewer = await info.context.admin()
        key = local_id(onboarding_id, "Onboarding")
        values = authoring.StepFields(**given_fields(input))
        return await _step(
            info,
            lambda s: authoring.add_step(
                s, tenant_id=viewer.tenant_id, onboarding_id=require(key, "Onboarding", "onboardingId"), values=values
            ),
        )

    @strawberry.mutation(description="Admins: change the given fields of an onboarding step.")
    async def update_onboarding_step(
        self,
        info: Info,
        id: StepId,
        input: Annotated[OnboardingStepInput, strawberry.argument(description="The fields to change.")],
    ) -> OnboardingStepPayload:
        viewer = await info.context.admin()
        key = local_id(id, "OnboardingStep")
        values = authoring.StepFields(**given_fields(input))
        return await _step(
            info,
            lambda s: authoring.update_step(
                s, tenant_id=viewer.tenant_id, step_id=require(key, "Onboarding step", "id"), values=values
            ),
        )

    @strawberry.mutation(description="Admins: remove a step; later steps move up one.")
    async def remove_onboarding_step(self, info: Info, id: StepId) -> OnboardingStepPayload:
        viewer = await info.context.admin()
        key = local_id(id, "OnboardingStep")
        return await _step(
            info,
            lambda s: authoring.remove_step(
                s, tenant_id=viewer.tenant_id, step_id=require(key, "Onboarding step", "id")
            ),
        )

    @strawberry.mutation(description="Admins: set the order of an onboarding's steps (each listed exactly once).")
    async def reorder_onboarding_steps(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        step_ids: Annotated[list[strawberry.ID], strawberry.argument(description="Every step's id, in the new order.")],
    ) -> OnboardingPayload:
        viewer = await info.context.admin()
        key = local_id(onboarding_id, "Onboarding")
        keys = [local_id(i, "OnboardingStep") for i in step_ids]
        return await _onboarding(
            info,
            lambda s: authoring.reorder_steps(
                s,
                tenant_id=viewer.tenant_id,
                onboarding_id=require(key, "Onboarding", "onboardingId"),
                step_ids=[require(k, "Onboarding step", "stepIds") for k in keys],
            ),
        )

    @strawberry.mutation(
        description="Admins: set (or, with no questions and no segments, remove) an onboarding's classification form."
    )
    async def set_classification_form(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        input: Annotated[ClassificationFormInput, strawberry.argument(description="The whole form.")],
    ) -> OnboardingPayload:
        viewer = await info.context.admin()
        key = local_id(onboarding_id, "Onboarding")
        form = form_input(input)
        return await _onboarding(
            info,
            lambda s: authoring.set_classification_form(
                s, tenant_id=viewer.tenant_id, onboarding_id=require(key, "Onboarding", "onboardingId"), form_input=form
            ),
        )


async def _transition(
    info: Info, journey_id: str, metadata: JSON | None, change: Callable[..., Awaitable[OnboardingJourney]]
) -> OnboardingJourneyPayload:
    viewer = await info.context.viewer()
    key = local_id(journey_id, "OnboardingJourney")
    return await _run(
        info,
        lambda s: change(
            s,
            tenant_id=viewer.tenant_id,
            user_id=viewer.user_id,
            journey_id=require(key, "Onboarding journey", "journeyId"),
            metadata=json_argument(metadata),
        ),
    )
