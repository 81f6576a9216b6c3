"""GraphQL types of onboardings as content: an onboarding (a version of it), its steps, and for
admins its draft and versions (app/versions/)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from app.graphql.context import Info
from app.graphql.node import node_type
from app.graphql.onboarding.forms import ClassificationForm
from app.graphql.relay import Node, to_global_id
from app.graphql.scalars import JSON
from app.graphql.versions import draft_field, versions_field
from app.onboarding import reads
from app.onboarding.models import OnboardingStatus

OnboardingStatusEnum = strawberry.enum(
    OnboardingStatus,
    name="OnboardingStatus",
    description="DRAFT while authored, PUBLISHED for users, ARCHIVED when withdrawn.",
)


@strawberry.type(name="OnboardingStep", description="One step of an onboarding.")
class OnboardingStepNode(Node):
    order: int = strawberry.field(description="1..n within the onboarding.")
    name: str = strawberry.field(description="Short name.")
    description: str = strawberry.field(description="What the step is about.")
    metadata: JSON = strawberry.field(description="Free-form data for the frontend.")

    @classmethod
    def from_model(cls, step: Any) -> OnboardingStepNode:
        """From an ``OnboardingStep`` (the draft's), a version's step, or a Core row of either."""
        return cls(
            id=to_global_id("OnboardingStep", step.id),
            order=step.position,
            name=step.name,
            description=step.description,
            metadata=JSON(step.metadata_),
        )


@strawberry.type(
    name="OnboardingDraft", description="Admins: an onboarding's draft, what publishing would make its next version."
)
class OnboardingDraft:
    slug: str = strawberry.field(description="The draft's slug.")
    name: str = strawberry.field(description="The draft's name.")
    description: str = strawberry.field(description="The draft's description.")
    xp_reward: int = strawberry.field(description="The draft's XP for completing the onboarding.")
    updated_at: datetime = strawberry.field(description="When the draft's fields or form last changed.")
    form: ClassificationForm | None = strawberry.field(description="The draft's classification form, if any.")
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The draft's steps in order.")
    async def steps(self, info: Info) -> list[OnboardingStepNode]:
        steps = await info.context.loaders.steps_of_onboarding.load((self.key, 0))
        return [OnboardingStepNode.from_model(s) for s in steps]

    @classmethod
    def from_row(cls, row: Any) -> OnboardingDraft:
        return cls(
            slug=row.slug,
            name=row.name,
            description=row.description,
            xp_reward=row.xp_reward,
            updated_at=row.updated_at,
            form=ClassificationForm.from_form(row.form) if row.form else None,
            key=row.id,
        )


@strawberry.type(
    name="OnboardingVersion", description="Admins: one published version of an onboarding, as it was published."
)
class OnboardingVersionNode:
    version: int = strawberry.field(description="The version's number, 1..n.")
    published_at: datetime = strawberry.field(description="When it was published.")
    slug: str = strawberry.field(description="Its slug.")
    name: str = strawberry.field(description="Its name.")
    description: str = strawberry.field(description="Its description.")
    xp_reward: int = strawberry.field(description="Its XP for completing the onboarding.")
    form: ClassificationForm | None = strawberry.field(description="Its classification form, if any.")
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Its steps in order.")
    async def steps(self, info: Info) -> list[OnboardingStepNode]:
        steps = await info.context.loaders.steps_of_onboarding.load((self.key, self.version))
        return [OnboardingStepNode.from_model(s) for s in steps]

    @classmethod
    def from_row(cls, row: Any) -> OnboardingVersionNode:
        return cls(
            version=row.version,
            published_at=row.published_at,
            slug=row.slug,
            name=row.name,
            description=row.description,
            xp_reward=row.xp_reward,
            form=ClassificationForm.from_form(row.form) if row.form else None,
            key=row.id,
        )


@strawberry.type(
    name="Onboarding",
    description=(
        "A step-by-step onboarding flow, optionally ending in a form: its latest published version (the draft's "
        "before the first publish), or, for a run, the version the run follows."
    ),
)
class OnboardingNode(Node):
    slug: str = strawberry.field(description="A tenant-unique, URL-friendly name.")
    name: str = strawberry.field(description="Display name.")
    description: str = strawberry.field(description="Longer description.")
    status: OnboardingStatus = strawberry.field(description="Authoring status.")
    xp_reward: int = strawberry.field(description="XP awarded once when a user completes it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    published_at: datetime | None = strawberry.field(description="When this version was published.")
    version: int = strawberry.field(
        description="The version these fields, steps and form are (the latest published one; 0 before the first)."
    )
    form: ClassificationForm | None = strawberry.field(description="Its classification form, if it has one.")
    model: strawberry.Private[Any]

    @strawberry.field(description="The steps in order (of this version).")
    async def steps(self, info: Info) -> list[OnboardingStepNode]:
        steps = await info.context.loaders.steps_of_onboarding.load((self.model.id, self.model.version))
        return [OnboardingStepNode.from_model(s) for s in steps]

    draft = draft_field(lambda info: info.context.loaders.onboarding_draft, OnboardingDraft, what="onboarding")
    versions = versions_field(
        reads.ONBOARDING_READS, OnboardingVersionNode, list_name="Onboarding.versions", what="onboarding"
    )

    @classmethod
    def from_model(cls, onboarding: Any) -> OnboardingNode:
        """From a served Core row (app/onboarding/reads.py)."""
        return cls(
            id=to_global_id("Onboarding", onboarding.id),
            slug=onboarding.slug,
            name=onboarding.name,
            description=onboarding.description,
            status=onboarding.status,
            xp_reward=onboarding.xp_reward,
            created_at=onboarding.created_at,
            published_at=onboarding.published_at,
            version=onboarding.version,
            form=ClassificationForm.from_form(onboarding.form) if onboarding.form else None,
            model=onboarding,
        )


async def visible_onboarding(info: Info, key: uuid.UUID) -> Any:
    """An onboarding the viewer may see: published for users, any for admins."""
    return await info.context.visible(info.context.loaders.onboarding, key, published=OnboardingStatus.PUBLISHED)


@node_type("Onboarding")
async def onboarding_node(info: Info, key: uuid.UUID) -> OnboardingNode | None:
    onboarding = await visible_onboarding(info, key)
    return OnboardingNode.from_model(onboarding) if onboarding else None


@node_type("OnboardingStep")
async def onboarding_step_node(info: Info, key: uuid.UUID) -> OnboardingStepNode | None:
    step = await info.context.loaders.onboarding_step.load(key)
    if step is None or await visible_onboarding(info, step.onboarding_id) is None:
        return None
    if step.item_version == 0 and not (await info.context.viewer()).is_admin:
        return None  # only in the draft
    return OnboardingStepNode.from_model(step)
