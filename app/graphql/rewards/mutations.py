"""Admin mutations authoring rewards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, FieldProblem, InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.errors import Failed, run_write, user_errors
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id
from app.graphql.resources import resource_id_in
from app.graphql.rewards.types import RewardInput, RewardNode, RewardPayload
from app.rewards import authoring
from app.rewards.models import Reward
from app.rewards.reads import UserReward

RewardId = Annotated[strawberry.ID, strawberry.argument(description="The reward's id.")]


async def _reward_payload(info: Info, work: Callable[[AsyncSession], Awaitable[Reward]]) -> RewardPayload:
    result = await run_write(info, work)
    if isinstance(result, Failed):
        return RewardPayload(reward=None, errors=result.errors)
    return await _as_viewer_sees(info, result.value)


async def _as_viewer_sees(info: Info, reward: Reward) -> RewardPayload:
    state = await info.context.loaders.viewer_reward.load(reward.id)
    return RewardPayload(reward=RewardNode.from_state(state or UserReward(reward, False, None)), errors=[])


def _fields(input: RewardInput, current: Reward | None = None) -> authoring.RewardFields:
    values = given_fields(input)
    if "resource_id" in values:
        kind = values.get("resource_type", current.resource_type if current else None)
        try:
            values["resource_id"] = resource_id_in(kind, values["resource_id"], field="resourceId")
        except DomainError as exc:
            # An input field like the others: its path under "input", listed with their problems.
            problems = [FieldProblem(("input", "resourceId"), exc.message)]
            del values["resource_id"]
            try:
                authoring.check_reward(authoring.RewardFields(**values), current=current)
            except InvalidInput as others:
                problems.extend(others.problems)
            raise InvalidInput(problems) from None
    return authoring.RewardFields(**values)


@strawberry.type
class RewardsMutation:
    @strawberry.mutation(description="Admins: create an active reward.")
    async def create_reward(
        self, info: Info, input: Annotated[RewardInput, strawberry.argument(description="The reward's fields.")]
    ) -> RewardPayload:
        viewer = await info.context.admin()
        try:
            values = _fields(input)
        except DomainError as exc:
            return RewardPayload(reward=None, errors=user_errors(exc))
        return await _reward_payload(
            info, lambda s: authoring.create_reward(s, tenant_id=viewer.tenant_id, values=values)
        )

    @strawberry.mutation(description="Admins: change the given fields of a reward (`active: false` withdraws it).")
    async def update_reward(
        self,
        info: Info,
        id: RewardId,
        input: Annotated[RewardInput, strawberry.argument(description="The fields to change.")],
    ) -> RewardPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Reward")
        current = await info.context.loaders.reward.load(key) if key else None
        if key is None or current is None:
            return RewardPayload(reward=None, errors=user_errors(NotFound("Reward", field=["id"])))
        try:
            values = _fields(input, current)
        except DomainError as exc:
            return RewardPayload(reward=None, errors=user_errors(exc))
        return await _reward_payload(
            info, lambda s: authoring.update_reward(s, tenant_id=viewer.tenant_id, reward_id=key, values=values)
        )

    @strawberry.mutation(
        description="Admins: withdraw a reward from listings (unlocks are kept); repeating is a no-op."
    )
    async def deactivate_reward(self, info: Info, id: RewardId) -> RewardPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Reward")
        if key is None:
            return RewardPayload(reward=None, errors=user_errors(NotFound("Reward", field=["id"])))
        return await _reward_payload(
            info, lambda s: authoring.deactivate_reward(s, tenant_id=viewer.tenant_id, reward_id=key)
        )
