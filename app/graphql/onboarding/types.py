"""GraphQL types of onboarding: users' onboarding journeys with their logs, classifications and
the payloads (onboardings themselves, their steps, drafts and versions: content.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.acting import ActorType
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_by_key, node_type
from app.graphql.onboarding.content import OnboardingNode as OnboardingNode
from app.graphql.onboarding.content import OnboardingStatusEnum as OnboardingStatusEnum
from app.graphql.onboarding.content import OnboardingStepNode as OnboardingStepNode
from app.graphql.onboarding.content import visible_onboarding as visible_onboarding
from app.graphql.onboarding.forms import ClassificationResult, FormResponse
from app.graphql.progress.types import JourneyInstanceNode
from app.graphql.relay import Node, to_global_id
from app.graphql.scalars import JSON
from app.onboarding.classification import Outcome
from app.onboarding.models import (
    Classification,
    OnboardingJourney,
    OnboardingJourneyStatus,
    OnboardingLog,
)

if TYPE_CHECKING:
    from app.graphql.tenancy.users import UserNode

OnboardingJourneyStatusEnum = strawberry.enum(
    OnboardingJourneyStatus,
    name="OnboardingJourneyStatus",
    description="ACTIVE while under way, SUSPENDED while paused, then COMPLETED or ABANDONED.",
)


@strawberry.type(name="OnboardingProgress", description="How far an onboarding journey is.")
class OnboardingProgressType:
    percent: int = strawberry.field(description="Whole percent of steps completed, rounded down.")
    completed_steps: list[int] = strawberry.field(description="The orders of the steps completed.")
    total_steps: int = strawberry.field(description="Steps in the onboarding.")
    current_step: int = strawberry.field(description="The order of the step the user is on.")


@strawberry.type(name="OnboardingLog", description="An entry of an onboarding journey's history.")
class OnboardingLogType:
    step_id: strawberry.ID | None = strawberry.field(description="The step's id; null once the step was removed.")
    step_name: str = strawberry.field(description="The step's name when logged.")
    step_order: int = strawberry.field(description="The step's order when logged.")
    action: str = strawberry.field(
        description="`started`, `completed`, `suspended`, `resumed`, `abandoned`, or an action the client logged."
    )
    metadata: JSON = strawberry.field(description="The metadata sent with it.")
    logged_at: datetime = strawberry.field(description="When it happened.")
    actor: ActorType = strawberry.field(description="Who did it: the run's user, an admin or an API key.")

    @classmethod
    def from_model(cls, entry: OnboardingLog) -> OnboardingLogType:
        return cls(
            step_id=to_global_id("OnboardingStep", entry.step_id) if entry.step_id else None,
            step_name=entry.step_name,
            step_order=entry.step_order,
            action=entry.action,
            metadata=JSON(entry.metadata_),
            logged_at=entry.logged_at,
            actor=ActorType.of(entry),
        )


@strawberry.type(name="OnboardingJourney", description="One user's run through an onboarding.")
class OnboardingJourneyNode(Node):
    user_id: strawberry.ID = strawberry.field(description="The global id of the user whose run it is.")
    current_step: int = strawberry.field(description="The order of the step the user is on.")
    onboarding_version: int = strawberry.field(
        description="The version of the onboarding this run follows: its steps, form and XP."
    )
    status: OnboardingJourneyStatus = strawberry.field(description="ACTIVE, SUSPENDED, COMPLETED or ABANDONED.")
    started_at: datetime = strawberry.field(description="When it was started.")
    suspended_at: datetime | None = strawberry.field(description="When it was suspended, while it is.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    metadata: JSON = strawberry.field(description="The metadata sent when it was started.")
    model: strawberry.Private[OnboardingJourney]

    @strawberry.field(description="The user whose run it is.")
    async def user(self, info: Info) -> Annotated[UserNode, strawberry.lazy("app.graphql.tenancy.users")]:
        user: UserNode = await node_by_key(info, "User", self.model.user_id)
        return user

    @strawberry.field(description="The onboarding as the version this run follows has it.")
    async def onboarding(self, info: Info) -> OnboardingNode:
        key = (self.model.onboarding_id, self.model.onboarding_version)
        onboarding = await info.context.loaders.onboarding_at.load(key)
        assert onboarding is not None  # a run's version is never deleted
        return OnboardingNode.from_model(onboarding)

    @strawberry.field(description="The step the user is on (null if the onboarding has no step at that order now).")
    async def current_step_detail(self, info: Info) -> OnboardingStepNode | None:
        step = await info.context.loaders.current_step.load(self.model.id)
        return OnboardingStepNode.from_model(step) if step else None

    @strawberry.field(description="Steps completed out of all.")
    async def progress(self, info: Info) -> OnboardingProgressType:
        found = await info.context.loaders.onboarding_progress.load(self.model.id)
        assert found is not None  # every run of the tenant has its progress
        return OnboardingProgressType(
            percent=found.percent,
            completed_steps=list(found.completed_steps),
            total_steps=found.total_steps,
            current_step=found.current_step,
        )

    @strawberry.field(description="Its history, oldest first.")
    async def logs(self, info: Info) -> list[OnboardingLogType]:
        entries = await info.context.loaders.onboarding_logs.load(self.model.id)
        return [OnboardingLogType.from_model(e) for e in entries]

    @classmethod
    def from_model(cls, journey: OnboardingJourney) -> OnboardingJourneyNode:
        return cls(
            id=to_global_id("OnboardingJourney", journey.id),
            user_id=to_global_id("User", journey.user_id),
            current_step=journey.current_step,
            onboarding_version=journey.onboarding_version,
            status=journey.status,
            started_at=journey.started_at,
            suspended_at=journey.suspended_at,
            completed_at=journey.completed_at,
            metadata=JSON(journey.metadata_),
            model=journey,
        )


async def visible_onboarding_journey(info: Info, key: uuid.UUID) -> OnboardingJourney | None:
    """A run the viewer may see: their own, or any of the tenant's for admins."""
    return await info.context.readable(info.context.loaders.onboarding_journey, key)


@node_type("OnboardingJourney")
async def onboarding_journey_node(info: Info, key: uuid.UUID) -> OnboardingJourneyNode | None:
    journey = await visible_onboarding_journey(info, key)
    return OnboardingJourneyNode.from_model(journey) if journey else None


@strawberry.type(
    name="Classification", description="A user's stored classification: their answers and the result they earned."
)
class ClassificationType(ClassificationResult):
    id: strawberry.ID = strawberry.field(description="The classification's id.")
    responses: list[FormResponse] = strawberry.field(description="The answers given.")
    classified_at: datetime = strawberry.field(description="When it was made.")
    onboarding_key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The onboarding whose form it answered.")
    async def onboarding(self, info: Info) -> OnboardingNode | None:
        onboarding = await info.context.loaders.onboarding.load(self.onboarding_key)
        return OnboardingNode.from_model(onboarding) if onboarding else None

    @classmethod
    def from_model(cls, row: Classification) -> ClassificationType:
        return cls(
            id=to_global_id("Classification", row.id),
            responses=[FormResponse(question_key=r["questionKey"], values=list(r["values"])) for r in row.responses],
            classified_at=row.created_at,
            onboarding_key=row.onboarding_id,
            **ClassificationResult.fields_of(Outcome.from_json(row.result)),
        )


@strawberry.type(description="The result of an onboarding mutation.")
class OnboardingPayload:
    onboarding: OnboardingNode | None = strawberry.field(description="The onboarding; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of an onboarding-step mutation.")
class OnboardingStepPayload:
    step: OnboardingStepNode | None = strawberry.field(
        description="The step (for removeOnboardingStep: as it was); null when it failed."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of an onboarding-journey mutation.")
class OnboardingJourneyPayload:
    onboarding_journey: OnboardingJourneyNode | None = strawberry.field(
        description="The onboarding journey; null when it failed."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of completing an onboarding with its form.")
class CompleteOnboardingPayload:
    classification: ClassificationType | None = strawberry.field(
        description="The stored classification; null when it failed."
    )
    onboarding_journey: OnboardingJourneyNode | None = strawberry.field(
        description="The completed onboarding journey; null when it failed."
    )
    started_journeys: list[JourneyInstanceNode] = strawberry.field(
        description="Recommended journeys this call started (those already active are left as they are)."
    )
    xp_awarded: int = strawberry.field(description="XP this call awarded (0 on a retry).")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.input(description="Onboarding fields. On create, `slug` and `name` are required.")
class OnboardingInput:
    slug: str | None = strawberry.field(
        default=strawberry.UNSET, description="Tenant-unique slug: lowercase words joined by hyphens."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    xp_reward: int | None = strawberry.field(
        default=strawberry.UNSET, description="XP for completing it, 0..1,000,000. Default 0."
    )


@strawberry.input(description="Onboarding-step fields. On add, `name` is required.")
class OnboardingStepInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Free-form JSON object for the frontend, at most 16 KiB."
    )
