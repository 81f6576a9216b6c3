"""XP and reward queries: the viewer's XP, level and rewards; admins list every reward."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest
from app.graphql.resources import resource_id_in
from app.graphql.rewards.types import RewardNode, XpSummaryType
from app.rewards import reads

ResourceType = Annotated[
    str | None, strawberry.argument(description="Only this resource type, e.g. `journey` or `onboarding`.")
]
ResourceId = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="Only this resource (a journey's or onboarding's global id); needs resourceType."),
]


def _reward_key(state: reads.UserReward) -> tuple[object, ...]:
    return (state.reward.required_level, state.reward.title, state.reward.id)


@strawberry.type
class RewardsQuery:
    @strawberry.field(description="The viewer's XP balance, level and history; with a filter, that resource's only.")
    async def my_xp(
        self, info: Info, resource_type: ResourceType = None, resource_id: ResourceId = None
    ) -> XpSummaryType:
        viewer = await info.context.viewer()
        stored_id = resource_id_in(resource_type, resource_id, field="resourceId")
        async with info.context.db.read() as session:
            summary = await reads.xp_summary(
                session,
                tenant=viewer.tenant,
                user_id=viewer.user_id,
                resource_type=resource_type,
                resource_id=stored_id,
            )
        return XpSummaryType(
            balance=summary.balance,
            level=summary.level,
            current_level_xp=summary.current_level_xp,
            next_level_xp=summary.next_level_xp,
            resource_type=resource_type,
            stored_resource_id=stored_id,
        )

    @strawberry.field(
        description=(
            "The tenant's active rewards by requiredLevel then title, each with whether the viewer unlocked it."
        )
    )
    async def my_rewards(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        resource_type: ResourceType = None,
        resource_id: ResourceId = None,
    ) -> Connection[RewardNode]:
        viewer = await info.context.viewer()
        stored_id = resource_id_in(resource_type, resource_id, field="resourceId")
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="myRewards",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={"resourceType": resource_type, "resourceId": stored_id},
        )
        async with info.context.db.read() as session:
            page = await reads.list_rewards_for_user(
                session,
                tenant=viewer.tenant,
                user_id=viewer.user_id,
                resource_type=resource_type,
                resource_id=stored_id,
                window=request.window,
            )
        return request.connection(page, key=_reward_key, node=RewardNode.from_state)
