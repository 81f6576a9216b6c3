"""Onboarding mutations: a user's run through an onboarding and its completion with the
classification form (admins and API keys act on any user's: app/graphql/acting.py); admins
author onboardings, their steps and forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.graphql import acting
from app.graphql.acting import UserExternalId
from app.graphql.context import Info
from app.graphql.errors import UserError, require, write_payload
from app.graphql.onboarding.forms import FormResponseInput, responses_of
from app.graphql.onboarding.types import (
    ClassificationType,
    CompleteOnboardingPayload,
    OnboardingJourneyNode,
    OnboardingJourneyPayload,
)
from app.graphql.progress.types import JourneyInstanceNode
from app.graphql.relay import local_id
from app.graphql.scalars import JSON, LogMetadata, json_argument
from app.onboarding import completion, lifecycle, transitions
from app.onboarding.models import OnboardingJourney

OnboardingId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding's id.")]
StepId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding step's id.")]
JourneyId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding journey's id.")]


async def _run(info: Info, work: Callable[[AsyncSession], Awaitable[OnboardingJourney]]) -> OnboardingJourneyPayload:
    return await write_payload(
        info,
        work,
        ok=lambda j: OnboardingJourneyPayload(onboarding_journey=OnboardingJourneyNode.from_model(j), errors=[]),
        failed=lambda errors: OnboardingJourneyPayload(onboarding_journey=None, errors=errors),
    )


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
    @strawberry.mutation(
        description=(
            "Start a published onboarding: ACTIVE at step 1. ALREADY_ACTIVE while an open run exists. Admins and "
            "API keys start it for `userExternalId`."
        )
    )
    async def start_onboarding(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        metadata: LogMetadata = None,
        user_external_id: UserExternalId = None,
    ) -> OnboardingJourneyPayload:
        viewer = await info.context.viewer()
        key = local_id(onboarding_id, "Onboarding")

        async def work(session: AsyncSession) -> OnboardingJourney:
            target = await acting.for_user(session, viewer, user_external_id)
            onboarding = require(key, "Onboarding", "onboardingId")
            return await lifecycle.start_onboarding(
                session,
                tenant_id=viewer.tenant_id,
                user_id=target.user_id,
                onboarding_id=onboarding,
                metadata=json_argument(metadata),
            )

        return await _run(info, work)

    @strawberry.mutation(
        description=(
            "Complete the current step (logged with the metadata) and move to the next; on the last step the "
            "onboarding journey is COMPLETED and its XP awarded once. NOT_ACTIVE unless ACTIVE. With "
            "`expectedStep` a retry is safe: below the current step (or on a run completed at it) nothing "
            "changes and the run is returned; ahead of it is STEP_MISMATCH."
        )
    )
    async def progress_onboarding(
        self,
        info: Info,
        journey_id: JourneyId,
        metadata: LogMetadata = None,
        expected_step: Annotated[
            int | None,
            strawberry.argument(description="The step the client saw as current (1-based); makes retries safe."),
        ] = None,
    ) -> OnboardingJourneyPayload:
        viewer = await info.context.viewer()
        key = local_id(journey_id, "OnboardingJourney")

        async def work(session: AsyncSession) -> OnboardingJourney:
            run_id = require(key, "Onboarding journey", "journeyId")
            done = await lifecycle.progress_onboarding(
                session,
                tenant=viewer.tenant,
                user_id=await acting.onboarding_run_owner(session, viewer, run_id),
                journey_id=run_id,
                metadata=json_argument(metadata),
                expected_step=expected_step,
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
        metadata: LogMetadata = None,
    ) -> OnboardingJourneyPayload:
        viewer = await info.context.viewer()
        key = local_id(journey_id, "OnboardingJourney")

        async def work(session: AsyncSession) -> OnboardingJourney:
            run_id = require(key, "Onboarding journey", "journeyId")
            return await lifecycle.log_onboarding_step(
                session,
                tenant_id=viewer.tenant_id,
                user_id=await acting.onboarding_run_owner(session, viewer, run_id),
                journey_id=run_id,
                action=action,
                metadata=json_argument(metadata),
            )

        return await _run(info, work)

    @strawberry.mutation(description="Pause an ACTIVE onboarding journey (NOT_ACTIVE otherwise).")
    async def suspend_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: LogMetadata = None
    ) -> OnboardingJourneyPayload:
        return await _transition(info, journey_id, metadata, transitions.suspend_onboarding)

    @strawberry.mutation(description="Resume a SUSPENDED onboarding journey (NOT_SUSPENDED otherwise).")
    async def resume_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: LogMetadata = None
    ) -> OnboardingJourneyPayload:
        return await _transition(info, journey_id, metadata, transitions.resume_onboarding)

    @strawberry.mutation(description="Give up an ACTIVE or SUSPENDED onboarding journey (NOT_ACTIVE otherwise).")
    async def abandon_onboarding(
        self, info: Info, journey_id: JourneyId, metadata: LogMetadata = None
    ) -> OnboardingJourneyPayload:
        return await _transition(info, journey_id, metadata, transitions.abandon_onboarding)

    @strawberry.mutation(
        description=(
            "Answer an onboarding's form, in one transaction: store the answers and classification (latest wins, "
            "history kept), complete the viewer's onboarding journey for it, award its XP once and start the "
            "recommended journeys not already open. A retry returns the stored result and changes nothing. "
            "Admins and API keys complete it for `userExternalId`."
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
        user_external_id: UserExternalId = None,
    ) -> CompleteOnboardingPayload:
        viewer = await info.context.viewer()
        key = local_id(onboarding_id, "Onboarding")
        answers = responses_of(responses)

        async def work(session: AsyncSession) -> completion.CompletionResult:
            target = await acting.for_user(session, viewer, user_external_id)
            onboarding = require(key, "Onboarding", "onboardingId")
            return await completion.complete_onboarding(
                session,
                tenant=viewer.tenant,
                user_id=target.user_id,
                onboarding_id=onboarding,
                responses=answers,
                start_recommended=start_recommended,
                token_timezone=target.token_timezone,
                user_timezone=target.user_timezone,
            )

        return await write_payload(
            info,
            work,
            ok=_completed,
            failed=_completion_failed,
        )


async def _transition(
    info: Info, journey_id: str, metadata: JSON | None, change: Callable[..., Awaitable[OnboardingJourney]]
) -> OnboardingJourneyPayload:
    viewer = await info.context.viewer()
    key = local_id(journey_id, "OnboardingJourney")

    async def work(session: AsyncSession) -> OnboardingJourney:
        run_id = require(key, "Onboarding journey", "journeyId")
        return await change(
            session,
            tenant_id=viewer.tenant_id,
            user_id=await acting.onboarding_run_owner(session, viewer, run_id),
            journey_id=run_id,
            metadata=json_argument(metadata),
        )

    return await _run(info, work)
