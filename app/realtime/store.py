"""Reading the event store for delivery: a channel's events, positions, recent activity, pruning.

Channels are ``user:{tenantId}:{userId}`` (one user's events) and ``admin:{tenantId}`` (every
event of the tenant, including tenant-wide ones with no user). Within a tenant, event ids grow
in commit order (see outbox.py), so "the channel's events with id > N" read at any moment is a
complete, ordered continuation of everything up to N: that is what makes catching up exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.realtime.outbox import OUTBOX

USER_PREFIX = "user"
PRUNE_BATCH = 5000
ADMIN_PREFIX = "admin"


@dataclass(frozen=True)
class Channel:
    """A parsed channel name: the tenant, and the user for a user channel (None for the admin channel)."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None

    @property
    def name(self) -> str:
        if self.user_id is None:
            return f"{ADMIN_PREFIX}:{self.tenant_id}"
        return f"{USER_PREFIX}:{self.tenant_id}:{self.user_id}"

    @classmethod
    def parse(cls, name: str) -> Channel:
        """The channel a name denotes; ValueError for a name that is not one of ours."""
        parts = name.split(":")
        if len(parts) == 3 and parts[0] == USER_PREFIX:
            return cls(tenant_id=uuid.UUID(parts[1]), user_id=uuid.UUID(parts[2]))
        if len(parts) == 2 and parts[0] == ADMIN_PREFIX:
            return cls(tenant_id=uuid.UUID(parts[1]), user_id=None)
        raise ValueError(f"not a realtime channel: {name!r}")


def user_channel(tenant_id: uuid.UUID, user_id: uuid.UUID) -> Channel:
    """A user's channel."""
    return Channel(tenant_id=tenant_id, user_id=user_id)


def admin_channel(tenant_id: uuid.UUID) -> Channel:
    """A tenant's admin channel."""
    return Channel(tenant_id=tenant_id, user_id=None)


def channels_of(tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> list[Channel]:
    """Where an event goes: its user's channel (if it has a user) and its tenant's admin channel."""
    if user_id is None:
        return [admin_channel(tenant_id)]
    return [user_channel(tenant_id, user_id), admin_channel(tenant_id)]


@dataclass(frozen=True)
class StoredEvent:
    """One committed event as read from the store (immutable: shared by every local subscriber)."""

    id: int
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    type: str
    data: dict[str, Any]
    occurred_at: datetime


def _in_channel(channel: Channel) -> ColumnElement[bool]:
    if channel.user_id is None:
        return OUTBOX.c.tenant_id == channel.tenant_id  # type: ignore[no-any-return]
    return and_(OUTBOX.c.tenant_id == channel.tenant_id, OUTBOX.c.user_id == channel.user_id)


async def events_after(
    session: AsyncSession,
    *,
    channel: Channel,
    after: int,
    upto: int | None = None,
    limit: int | None = None,
) -> list[StoredEvent]:
    """The channel's events with ``after < id <= upto``, oldest first, at most ``limit``."""
    query = select(
        OUTBOX.c.id, OUTBOX.c.tenant_id, OUTBOX.c.user_id, OUTBOX.c.type, OUTBOX.c.data, OUTBOX.c.occurred_at
    ).where(_in_channel(channel), OUTBOX.c.id > after)
    if upto is not None:
        query = query.where(OUTBOX.c.id <= upto)
    query = query.order_by(OUTBOX.c.id)
    if limit is not None:
        query = query.limit(limit)
    rows = (await session.execute(query)).all()
    return [
        StoredEvent(
            id=r.id, tenant_id=r.tenant_id, user_id=r.user_id, type=r.type, data=r.data, occurred_at=r.occurred_at
        )
        for r in rows
    ]


async def channel_position(session: AsyncSession, *, channel: Channel) -> int:
    """The channel's latest event id (0 when it has none): where a live subscription starts."""
    latest = (await session.execute(select(func.max(OUTBOX.c.id)).where(_in_channel(channel)))).scalar()
    return int(latest or 0)


async def recent_maxima(
    session: AsyncSession, *, tenant_ids: Collection[uuid.UUID], since: datetime
) -> dict[tuple[uuid.UUID, uuid.UUID | None], int]:
    """Latest event id per (tenant, user) among the given tenants' events since ``since``.

    The sweep compares these with what each channel has delivered; an admin channel's latest
    is the greatest of its tenant's entries (the user None holds tenant-wide events).
    """
    if not tenant_ids:
        return {}
    query = (
        select(OUTBOX.c.tenant_id, OUTBOX.c.user_id, func.max(OUTBOX.c.id))
        .where(OUTBOX.c.occurred_at >= since, OUTBOX.c.tenant_id.in_(list(tenant_ids)))
        .group_by(OUTBOX.c.tenant_id, OUTBOX.c.user_id)
    )
    return {(tenant_id, user_id): int(latest) for tenant_id, user_id, latest in (await session.execute(query)).all()}


async def prune(session: AsyncSession, *, before: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` events that occurred before ``before``; how many were deleted."""
    doomed = select(OUTBOX.c.id).where(OUTBOX.c.occurred_at < before).limit(batch).scalar_subquery()
    result = await session.execute(delete(OUTBOX).where(OUTBOX.c.id.in_(doomed)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
