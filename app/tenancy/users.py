"""A tenant's users as admins read them: by ids, by the tenant's own id for them, newest first
with an external-id prefix search, and their overall XP balances in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.pagination import Page, Window, fetch_page
from app.rewards.models import XpEntry
from app.tenancy.models import User

USER_ORDER = (col(User.created_at), col(User.id))
LIKE_ESCAPE = "\\"


async def users_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, User]:
    """The tenant's users among ``ids``, by id, in one statement."""
    rows = await session.execute(select(User).where(col(User.tenant_id) == tenant_id, col(User.id).in_(list(ids))))
    return {user.id: user for user in rows.scalars()}


async def user_by_external_id(session: AsyncSession, *, tenant_id: uuid.UUID, external_id: str) -> User | None:
    """The tenant's user known to the tenant as ``external_id``, if they were ever seen."""
    query = select(User).where(col(User.tenant_id) == tenant_id, col(User.external_id) == external_id)
    return (await session.execute(query)).scalar_one_or_none()


def prefix_pattern(prefix: str) -> str:
    """A LIKE pattern matching exactly the strings that start with ``prefix`` (its own `%`, `_`
    and escape characters taken literally)."""
    escaped = (
        prefix.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    )
    return escaped + "%"


async def list_users(session: AsyncSession, *, tenant_id: uuid.UUID, search: str | None, window: Window) -> Page[User]:
    """A page of the tenant's users, newest first; with ``search``, those whose external id starts
    with it (served by ``ix_users_tenant_external_prefix``)."""
    query = select(User).where(col(User.tenant_id) == tenant_id)
    if search:
        query = query.where(col(User.external_id).like(prefix_pattern(search), escape=LIKE_ESCAPE))
    return await fetch_page(session, query, keys=USER_ORDER, window=window, descending=True)


async def xp_balances(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Each user's overall XP (users without any are left out), in one statement."""
    rows = await session.execute(
        select(XpEntry.user_id, func.sum(XpEntry.amount))
        .where(col(XpEntry.tenant_id) == tenant_id, col(XpEntry.user_id).in_(list(user_ids)))
        .group_by(col(XpEntry.user_id))
    )
    return {user_id: int(total) for user_id, total in rows.all()}
