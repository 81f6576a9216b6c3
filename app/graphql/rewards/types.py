"""GraphQL types of XP, levels and rewards."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_type
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, Node, PageRequest, to_global_id
from app.graphql.resources import resource_id_out
from app.rewards import reads
from app.rewards.models import Reward, XpEntry


@strawberry.type(name="Reward", description="Something a user unlocks by reaching a level.")
class RewardNode(Node):
    title: str = strawberry.field(description="Title shown to users.")
    description: str = strawberry.field(description="Longer description.")
    image_url: str | None = strawberry.field(description="An image to show, if any.")
    required_level: int = strawberry.field(description="The level that unlocks it.")
    resource_type: str | None = strawberry.field(
        description="When set, only XP of this resource type counts towards `requiredLevel` (e.g. `journey`)."
    )
    resource_id: strawberry.ID | None = strawberry.field(
        description="When set, only XP of this one resource counts (a global id for journeys and onboardings)."
    )
    active: bool = strawberry.field(description="Inactive rewards are withdrawn from `myRewards`.")
    unlocked: bool = strawberry.field(
        description="Whether the viewer's level (within the reward's resource, if it has one) reaches `requiredLevel`."
    )
    unlocked_at: datetime | None = strawberry.field(
        description="When an award of the viewer's unlocked it; null if not unlocked or reached before it existed."
    )

    @classmethod
    def from_state(cls, state: reads.UserReward) -> RewardNode:
        reward = state.reward
        return cls(
            id=to_global_id("Reward", reward.id),
            title=reward.title,
            description=reward.description,
            image_url=reward.image_url,
            required_level=reward.required_level,
            resource_type=reward.resource_type,
            resource_id=resource_id_out(reward.resource_type, reward.resource_id),
            active=reward.active,
            unlocked=state.unlocked,
            unlocked_at=state.unlocked_at,
        )

    @classmethod
    def unlocked_now(cls, reward: Reward, at: datetime) -> RewardNode:
        """A reward an award has just unlocked."""
        return cls.from_state(reads.UserReward(reward=reward, unlocked=True, unlocked_at=at))


@node_type("Reward")
async def reward_node(info: Info, key: uuid.UUID) -> RewardNode | None:
    state = await info.context.loaders.viewer_reward.load(key)
    if state is None:
        return None
    viewer = await info.context.viewer()
    if not state.reward.active and not viewer.is_admin:
        return None
    return RewardNode.from_state(state)


@strawberry.type(name="XpEntry", description="One award of XP.")
class XpEntryType:
    id: strawberry.ID = strawberry.field(description="The entry's id.")
    amount: int = strawberry.field(description="XP awarded.")
    reason: str = strawberry.field(description="Why: `event_completed`, `journey_completed` or `onboarding_completed`.")
    resource_type: str | None = strawberry.field(description="The kind of thing it was earned in, e.g. `journey`.")
    resource_id: strawberry.ID | None = strawberry.field(
        description="The thing it was earned in (a global id for journeys and onboardings)."
    )
    created_at: datetime = strawberry.field(description="When it was awarded.")

    @classmethod
    def from_model(cls, entry: XpEntry) -> XpEntryType:
        return cls(
            id=to_global_id("XpEntry", entry.id),
            amount=entry.amount,
            reason=entry.reason,
            resource_type=entry.resource_type,
            resource_id=resource_id_out(entry.resource_type, entry.resource_id),
            created_at=entry.created_at,
        )


def _entry_key(entry: XpEntry) -> tuple[object, ...]:
    return (entry.created_at, entry.id)


@strawberry.type(
    name="XpSummary", description="A user's XP and level (in `myXp`, the viewer's), overall or within one resource."
)
class XpSummaryType:
    balance: int = strawberry.field(description="Total XP (within the filter, if one was given).")
    level: int = strawberry.field(description="The level that balance reaches under the tenant's thresholds.")
    current_level_xp: int = strawberry.field(description="The XP threshold of the current level.")
    next_level_xp: int | None = strawberry.field(
        description="The XP threshold of the next level; null at the highest level."
    )
    resource_type: strawberry.Private[str | None]
    stored_resource_id: strawberry.Private[str | None]
    # Whose XP (`User.xp`); None: the viewer's.
    user_key: strawberry.Private[uuid.UUID | None] = None

    @strawberry.field(description="The XP entries (within the filter), newest first.")
    async def history(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[XpEntryType]:
        viewer = await info.context.viewer()
        user_id = self.user_key or viewer.user_id
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name=f"xpHistory:{user_id}",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={"resourceType": self.resource_type, "resourceId": self.stored_resource_id},
        )
        async with info.context.db.read() as session:
            page = await reads.xp_history(
                session,
                tenant_id=viewer.tenant_id,
                user_id=user_id,
                resource_type=self.resource_type,
                resource_id=self.stored_resource_id,
                window=request.window,
            )
        return request.connection(page, key=_entry_key, node=XpEntryType.from_model)


@strawberry.input(description="Reward fields. On create, `title` and `requiredLevel` are required.")
class RewardInput:
    title: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    image_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="An http(s) URL of at most 2048 characters, or null."
    )
    required_level: int | None = strawberry.field(default=strawberry.UNSET, description="1..100.")
    resource_type: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Count only XP of this resource type (lowercase, e.g. `journey`); null for all XP.",
    )
    resource_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Count only XP of this resource (a journey's or onboarding's global id); needs `resourceType`.",
    )
    active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="False withdraws it from `myRewards`; default true."
    )


@strawberry.type(description="The result of a reward mutation.")
class RewardPayload:
    reward: RewardNode | None = strawberry.field(description="The reward; null when the mutation failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")
