"""Admin mutations authoring onboardings: their fields, steps and classification forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.graphql.context import Info
from app.graphql.errors import require, write_payload
from app.graphql.inputs import given_fields
from app.graphql.onboarding.forms import ClassificationFormInput, form_input
from app.graphql.onboarding.types import (
    OnboardingInput,
    OnboardingNode,
    OnboardingPayload,
    OnboardingStepInput,
    OnboardingStepNode,
    OnboardingStepPayload,
)
from app.graphql.relay import local_id
from app.onboarding import authoring
from app.onboarding.models import Onboarding, OnboardingStep

OnboardingId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding's id.")]
StepId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding step's id.")]


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


@strawberry.type
class OnboardingAuthoringMutation:
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
