"""XP and rewards as a user sees them: balance and level (overall or within one resource), the
XP history, and the tenant's rewards with the user's unlocks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.pagination import Page, Window, fetch_page, forward
from app.rewards.levels import level_for, level_progress, thresholds_of
from app.rewards.models import Reward, RewardUnlock, XpEntry
from app.rewards.service import REWARD_KEYS, scope_xp, xp_totals
from app.tenancy.models import Tenant

HISTORY_KEYS = (col(XpEntry.created_at), col(XpEntry.id))


@dataclass(frozen=True)
class XpSummary:
    """A user's XP (overall or within one resource) and level."""

    balance: int
    level: int
    current_level_xp: int
    next_level_xp: int | None


@dataclass(frozen=True)
class UserReward:
    """A reward as one user sees it."""

    reward: Reward
    unlocked: bool
    unlocked_at: datetime | None


async def current_level(session: AsyncSession, *, tenant: Tenant, user_id: uuid.UUID) -> int:
    """The user's overall level."""
    return (await xp_summary(session, tenant=tenant, user_id=user_id)).level


async def xp_summary(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> XpSummary:
    """The user's XP balance and level, overall or (with a filter) within that resource only."""
    query = select(func.coalesce(func.sum(XpEntry.amount), 0)).where(
        col(XpEntry.tenant_id) == tenant.id, col(XpEntry.user_id) == user_id
    )
    query = _resource_filter(query, resource_type, resource_id)
    balance = int((await session.execute(query)).scalar_one())
    progress = level_progress(thresholds_of(tenant), balance)
    return XpSummary(balance, progress.level, progress.current_level_xp, progress.next_level_xp)


def _resource_filter(query: Any, resource_type: str | None, resource_id: str | None) -> Any:
    if resource_type is not None:
        query = query.where(col(XpEntry.resource_type) == resource_type)
    if resource_id is not None:
        query = query.where(col(XpEntry.resource_id) == resource_id)
    return query


async def xp_history(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    resource_type: str | None = None,
    resource_id: str | None = None,
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[XpEntry]:
    """A page of the user's XP entries, newest first (``created_at`` desc, then ``id``)."""
    query = select(XpEntry).where(col(XpEntry.tenant_id) == tenant_id, col(XpEntry.user_id) == user_id)
    query = _resource_filter(query, resource_type, resource_id)
    window = forward(window, first=first, after=after)
    return await fetch_page(session, query, keys=HISTORY_KEYS, window=window, descending=True)


async def user_rewards(
    session: AsyncSession, *, tenant: Tenant, user_id: uuid.UUID, rewards: Sequence[Reward]
) -> list[UserReward]:
    """Each reward with whether (and when) the user unlocked it, in two queries."""
    if not rewards:
        return []
    stored = dict(
        (
            await session.execute(
                select(RewardUnlock.reward_id, RewardUnlock.unlocked_at).where(
                    col(RewardUnlock.user_id) == user_id,
                    col(RewardUnlock.reward_id).in_([r.id for r in rewards]),
                )
            )
        ).all()
    )
    totals = await xp_totals(session, tenant_id=tenant.id, user_id=user_id)
    thresholds = thresholds_of(tenant)
    return [
        UserReward(
            reward=r,
            unlocked=r.id in stored
            or level_for(thresholds, scope_xp(totals, r.resource_type, r.resource_id)) >= r.required_level,
            unlocked_at=stored.get(r.id),
        )
        for r in rewards
    ]


async def list_rewards_for_user(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    resource_type: str | None = None,
    resource_id: str | None = None,
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[UserReward]:
    """A page of the tenant's active rewards (by required level, title, id) with the user's unlocks."""
    query = select(Reward).where(col(Reward.tenant_id) == tenant.id, col(Reward.active).is_(True))
    if resource_type is not None:
        query = query.where(col(Reward.resource_type) == resource_type)
    if resource_id is not None:
        query = query.where(col(Reward.resource_id) == resource_id)
    window = forward(window, first=first, after=after)
    page: Page[Reward] = await fetch_page(session, query, keys=REWARD_KEYS, window=window, descending=False)
    return page.with_items(await user_rewards(session, tenant=tenant, user_id=user_id, rewards=page.items))
