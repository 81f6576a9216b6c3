"""XP awards, levels and reward unlocks: every award happens once, and unlocks follow the
levels (reading XP and rewards as a user sees them: app/rewards/reads.py).

A reward with a resource (``resource_type``, optionally ``resource_id``) is unlocked by the
level computed from that resource's XP only; one without by the overall level. Unlocks are
stored (with a ``reward.unlocked`` event) when an award reaches them; listings also show as
unlocked any reward whose level the viewer already has (e.g. one authored after the award),
with ``unlocked_at`` set once an award has stored it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.modelbase import utcnow
from app.realtime.outbox import EventType, record_event
from app.rewards.levels import level_for, thresholds_of
from app.rewards.models import XP_IDEMPOTENCY_UNIQUE, Reward, RewardUnlock, XpEntry
from app.tenancy.models import Tenant
from app.tenancy.service import lock_user

MAX_REASON = 200
MAX_IDEMPOTENCY_KEY = 200
REWARD_KEYS = (col(Reward.required_level), col(Reward.title), col(Reward.id))

# XP per resource: {(resource_type, resource_id): total}; (None, None) holds unattributed XP.
Totals = dict[tuple[str | None, str | None], int]


@dataclass(frozen=True)
class AwardResult:
    """What an award did: nothing (``xp_awarded`` 0, ``entry`` None) when its key was used."""

    xp_awarded: int
    level_before: int
    level_after: int
    rewards_unlocked: list[Reward]
    entry: XpEntry | None


def scope_xp(totals: Totals, resource_type: str | None, resource_id: str | None) -> int:
    """XP within a scope: all of it, one resource type, or one resource."""
    return sum(
        amount
        for (kind, ident), amount in totals.items()
        if (resource_type is None or kind == resource_type) and (resource_id is None or ident == resource_id)
    )


async def xp_totals(session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Totals:
    """The user's XP per resource, in one query."""
    rows = await session.execute(
        select(XpEntry.resource_type, XpEntry.resource_id, func.sum(XpEntry.amount))
        .where(col(XpEntry.tenant_id) == tenant_id, col(XpEntry.user_id) == user_id)
        .group_by(col(XpEntry.resource_type), col(XpEntry.resource_id))
    )
    return {(kind, ident): int(total) for kind, ident, total in rows.all()}


async def award_xp(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    amount: int,
    reason: str,
    resource_type: str | None = None,
    resource_id: str | None = None,
    idempotency_key: str,
) -> AwardResult:
    """Add ``amount`` XP once per ``idempotency_key``; report the levels and rewards it unlocked."""
    if amount < 0 or not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise ValueError("an award needs amount >= 0 and an idempotency key of 1-200 characters")
    await lock_user(session, tenant_id=tenant.id, user_id=user_id)
    thresholds = thresholds_of(tenant)
    totals = await xp_totals(session, tenant_id=tenant.id, user_id=user_id)
    level_before = level_for(thresholds, scope_xp(totals, None, None))
    nothing = AwardResult(0, level_before, level_before, [], None)
    if amount == 0:
        return nothing
    entry = (
        await session.execute(
            insert(XpEntry)
            .values(
                id=uuid.uuid4(),
                tenant_id=tenant.id,
                user_id=user_id,
                amount=amount,
                reason=reason[:MAX_REASON],
                resource_type=resource_type,
                resource_id=resource_id,
                idempotency_key=idempotency_key,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(constraint=XP_IDEMPOTENCY_UNIQUE)
            .returning(XpEntry)
        )
    ).scalar_one_or_none()
    if entry is None:
        return nothing
    key = (resource_type, resource_id)
    totals[key] = totals.get(key, 0) + amount
    balance = scope_xp(totals, None, None)
    level_after = level_for(thresholds, balance)
    record_event(
        session,
        tenant_id=tenant.id,
        user_id=user_id,
        type=EventType.XP_AWARDED,
        data={
            "entryId": str(entry.id),
            "amount": amount,
            "reason": entry.reason,
            "resourceType": resource_type,
            "resourceId": resource_id,
            "balance": balance,
            "level": level_after,
        },
    )
    if level_after > level_before:
        record_event(
            session,
            tenant_id=tenant.id,
            user_id=user_id,
            type=EventType.LEVEL_UP,
            data={"levelBefore": level_before, "levelAfter": level_after, "balance": balance},
        )
    unlocked = await _unlock_rewards(
        session, tenant=tenant, user_id=user_id, totals=totals, resource_type=resource_type, resource_id=resource_id
    )
    return AwardResult(amount, level_before, level_after, unlocked, entry)


async def _unlock_rewards(
    session: AsyncSession,
    *,
    tenant: Tenant,
    user_id: uuid.UUID,
    totals: Totals,
    resource_type: str | None,
    resource_id: str | None,
) -> list[Reward]:
    """Store the unlocks of rewards the award's scopes now reach; each is recorded once."""
    scopes: list[ColumnElement[bool]] = [col(Reward.resource_type).is_(None)]
    if resource_type is not None:
        scopes.append(
            and_(
                col(Reward.resource_type) == resource_type,
                or_(col(Reward.resource_id).is_(None), col(Reward.resource_id) == resource_id),
            )
        )
    already = select(RewardUnlock.reward_id).where(col(RewardUnlock.user_id) == user_id)
    candidates = (
        await session.execute(
            select(Reward)
            .where(
                col(Reward.tenant_id) == tenant.id,
                col(Reward.active).is_(True),
                or_(*scopes),
                col(Reward.id).not_in(already),
            )
            .order_by(*REWARD_KEYS)
        )
    ).scalars()
    thresholds = thresholds_of(tenant)
    reached = [
        r
        for r in candidates
        if level_for(thresholds, scope_xp(totals, r.resource_type, r.resource_id)) >= r.required_level
    ]
    if not reached:
        return []
    now = utcnow()
    stored = set(
        (
            await session.execute(
                insert(RewardUnlock)
                .values(
                    [
                        {"tenant_id": tenant.id, "user_id": user_id, "reward_id": r.id, "unlocked_at": now}
                        for r in reached
                    ]
                )
                .on_conflict_do_nothing()
                .returning(col(RewardUnlock.reward_id))
            )
        ).scalars()
    )
    unlocked = [r for r in reached if r.id in stored]
    for reward in unlocked:
        record_event(
            session,
            tenant_id=tenant.id,
            user_id=user_id,
            type=EventType.REWARD_UNLOCKED,
            data={
                "rewardId": str(reward.id),
                "title": reward.title,
                "requiredLevel": reward.required_level,
                "resourceType": reward.resource_type,
                "resourceId": reward.resource_id,
            },
        )
    return unlocked
