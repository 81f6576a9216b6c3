"""Admin mutations authoring onboardings: their fields, steps and classification forms (the work
they share with journeys: app/graphql/authoring.py)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.authoring import AuthoringMutations
from app.graphql.context import Info
from app.graphql.onboarding.forms import ClassificationFormInput, form_input
from app.graphql.onboarding.types import (
    OnboardingInput,
    OnboardingNode,
    OnboardingPayload,
    OnboardingStepInput,
    OnboardingStepNode,
    OnboardingStepPayload,
)
from app.graphql.versions import UpgradeInstancesPayload
from app.onboarding import authoring, reads, upgrade

OnboardingId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding's id.")]
StepId = Annotated[strawberry.ID, strawberry.argument(description="The onboarding step's id.")]

ONBOARDINGS: AuthoringMutations[OnboardingPayload, OnboardingStepPayload] = AuthoringMutations(
    authoring=authoring.AUTHORING,
    reads=reads.ONBOARDING_READS,
    type_name="Onboarding",
    item_type_name="OnboardingStep",
    node=OnboardingNode.from_model,
    item_node=OnboardingStepNode.from_model,
    payload=lambda node, errors: OnboardingPayload(onboarding=node, errors=errors),
    item_payload=lambda node, errors: OnboardingStepPayload(step=node, errors=errors),
)


@strawberry.type
class OnboardingAuthoringMutation:
    @strawberry.mutation(description="Admins: create a DRAFT onboarding.")
    async def create_onboarding(
        self, info: Info, input: Annotated[OnboardingInput, strawberry.argument(description="Its fields.")]
    ) -> OnboardingPayload:
        return await ONBOARDINGS.create(info, input)

    @strawberry.mutation(description="Admins: change the given fields of an onboarding.")
    async def update_onboarding(
        self,
        info: Info,
        id: OnboardingId,
        input: Annotated[OnboardingInput, strawberry.argument(description="The fields to change.")],
    ) -> OnboardingPayload:
        return await ONBOARDINGS.update(info, id, input)

    @strawberry.mutation(description="Admins: publish an onboarding (it needs at least one step).")
    async def publish_onboarding(self, info: Info, id: OnboardingId) -> OnboardingPayload:
        return await ONBOARDINGS.publish(info, id)

    @strawberry.mutation(description="Admins: archive an onboarding; users no longer see it.")
    async def archive_onboarding(self, info: Info, id: OnboardingId) -> OnboardingPayload:
        return await ONBOARDINGS.archive(info, id)

    @strawberry.mutation(description="Admins: append a step to an onboarding.")
    async def add_onboarding_step(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        input: Annotated[OnboardingStepInput, strawberry.argument(description="The step's fields.")],
    ) -> OnboardingStepPayload:
        return await ONBOARDINGS.add_item(info, onboarding_id, input)

    @strawberry.mutation(description="Admins: change the given fields of an onboarding step.")
    async def update_onboarding_step(
        self,
        info: Info,
        id: StepId,
        input: Annotated[OnboardingStepInput, strawberry.argument(description="The fields to change.")],
    ) -> OnboardingStepPayload:
        return await ONBOARDINGS.update_item(info, id, input)

    @strawberry.mutation(description="Admins: remove a step; later steps move up one.")
    async def remove_onboarding_step(self, info: Info, id: StepId) -> OnboardingStepPayload:
        return await ONBOARDINGS.remove_item(info, id)

    @strawberry.mutation(description="Admins: set the order of an onboarding's steps (each listed exactly once).")
    async def reorder_onboarding_steps(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        step_ids: Annotated[list[strawberry.ID], strawberry.argument(description="Every step's id, in the new order.")],
    ) -> OnboardingPayload:
        return await ONBOARDINGS.reorder_items(info, onboarding_id, step_ids)

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
        key = ONBOARDINGS.key(onboarding_id)
        form = form_input(input)
        return await ONBOARDINGS.served(
            info,
            lambda s: authoring.set_classification_form(
                s,
                tenant_id=viewer.tenant_id,
                onboarding_id=ONBOARDINGS.require(key, "onboardingId"),
                form_input=form,
            ),
        )

    @strawberry.mutation(
        description=(
            "Admins: move the onboarding's open (ACTIVE or SUSPENDED) journeys to its latest version: a run stays "
            "on its step (matched by id), or, if that step was removed, goes to the first step it has not "
            "completed; each moved run logs `upgraded` with {from, to}. Completed and abandoned runs never move."
        )
    )
    async def upgrade_onboarding_journeys(
        self,
        info: Info,
        onboarding_id: OnboardingId,
        from_version: Annotated[
            int | None, strawberry.argument(description="Only runs on this version (all older ones when omitted).")
        ] = None,
    ) -> UpgradeInstancesPayload:
        return await ONBOARDINGS.upgrade(
            info,
            onboarding_id,
            lambda s, tenant, key: upgrade.upgrade_onboarding_journeys(
                s, tenant=tenant, onboarding_id=key, from_version=from_version
            ),
        )
