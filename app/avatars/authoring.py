"""Avatars as admins author them, and the listings users and admins page through."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.avatars.models import Avatar, AvatarMode, AvatarStatus
from app.errors import NotFound, Problems
from app.modelbase import UNSET, PartialFields, utcnow
from app.pagination import Page, Window, fetch_page, forward

MAX_NAME = 200
MAX_DESCRIPTION = 10_000
PROVIDER_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
LISTING_KEYS = (col(Avatar.created_at), col(Avatar.id))


@dataclass
class AvatarFields(PartialFields):
    """Authorable avatar fields; ``UNSET`` ones are left as they are."""

    name: Any = UNSET
    description: Any = UNSET
    provider: Any = UNSET
    status: Any = UNSET
    modes: Any = UNSET
    metadata: Any = UNSET


def _clean_avatar(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if creating or "name" in values:
        name = values.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > MAX_NAME:
            problems.add("name", f"must be 1-{MAX_NAME} characters")
        clean["name"] = name
    if "description" in values:
        description = (values["description"] or "").strip()
        if len(description) > MAX_DESCRIPTION:
            problems.add("description", f"must be at most {MAX_DESCRIPTION} characters")
        clean["description"] = description
    if creating or "provider" in values:
        provider = values.get("provider")
        if not isinstance(provider, str) or not PROVIDER_RE.match(provider):
            problems.add("provider", "must be 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter")
        clean["provider"] = provider
    if "status" in values:
        try:
            clean["status"] = AvatarStatus(values["status"])
        except ValueError:
            problems.add("status", "must be ACTIVE or INACTIVE")
    if creating or "modes" in values:
        given = {m.value if isinstance(m, AvatarMode) else m for m in values.get("modes") or []}
        known = {m.value for m in AvatarMode}
        if not given:
            problems.add("modes", "must offer at least one mode")
        elif not given <= known:
            problems.add("modes", f"modes are {', '.join(sorted(known))}")
        # Distinct, in the enum's order, whatever order they were given in.
        clean["modes"] = [m.value for m in AvatarMode if m.value in given]
    if "metadata" in values:
        clean["metadata_"] = values["metadata"] or {}
    problems.raise_if_any()
    return clean


async def create_avatar(session: AsyncSession, *, tenant_id: uuid.UUID, values: AvatarFields) -> Avatar:
    """A new avatar (ACTIVE unless the input says otherwise)."""
    clean = _clean_avatar(values.given(), creating=True)
    avatar = Avatar(tenant_id=tenant_id, **clean)
    session.add(avatar)
    await session.flush()
    return avatar


async def update_avatar(
    session: AsyncSession, *, tenant_id: uuid.UUID, avatar_id: uuid.UUID, values: AvatarFields
) -> Avatar:
    """Change the given fields of an avatar."""
    clean = _clean_avatar(values.given(), creating=False)
    avatar = (
        await session.execute(
            select(Avatar)
            .where(col(Avatar.id) == avatar_id, col(Avatar.tenant_id) == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if avatar is None:
        raise NotFound("Avatar", field=["id"])
    for name, value in clean.items():
        setattr(avatar, name, value)
    avatar.updated_at = utcnow()
    await session.flush()
    return avatar


async def list_avatars(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    statuses: Sequence[AvatarStatus],
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[Avatar]:
    """A page of the tenant's avatars with these statuses (all when none), oldest first."""
    stmt = select(Avatar).where(col(Avatar.tenant_id) == tenant_id)
    if statuses:
        stmt = stmt.where(col(Avatar.status).in_(list(statuses)))
    window = forward(window, first=first, after=after)
    page: Page[Avatar] = await fetch_page(session, stmt, keys=LISTING_KEYS, window=window, descending=False)
    return page


async def avatars_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Avatar]:
    """The tenant's avatars with these ids."""
    result = await session.execute(select(Avatar).where(col(Avatar.tenant_id) == tenant_id, col(Avatar.id).in_(ids)))
    return {a.id: a for a in result.scalars()}


async def avatars_by_names(session: AsyncSession, *, tenant_id: uuid.UUID, names: Sequence[str]) -> dict[str, Avatar]:
    """The tenant's avatars with these names; the oldest one per name."""
    result = await session.execute(
        select(Avatar)
        .where(col(Avatar.tenant_id) == tenant_id, col(Avatar.name).in_(names))
        .order_by(col(Avatar.created_at).desc(), col(Avatar.id).desc())
    )
    return {a.name: a for a in result.scalars()}
