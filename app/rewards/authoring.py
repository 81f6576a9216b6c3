"""Rewards as admins author them: create, change, deactivate."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.catalog.models import Journey
from app.errors import NotFound, Problems
from app.modelbase import UNSET, PartialFields, utcnow
from app.onboarding.models import Onboarding
from app.rewards.models import Reward
from app.tenancy.service import MAX_LEVELS

MAX_TITLE = 200
MAX_DESCRIPTION = 10_000
MAX_IMAGE_URL = 2048
MAX_RESOURCE_ID = 200
RESOURCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


@dataclass
class RewardFields(PartialFields):
    """Authorable reward fields; ``UNSET`` ones are left as they are."""

    title: Any = UNSET
    description: Any = UNSET
    image_url: Any = UNSET
    required_level: Any = UNSET
    resource_type: Any = UNSET
    resource_id: Any = UNSET
    active: Any = UNSET


def _clean_reward(values: dict[str, Any], *, current: Reward | None) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if current is None or "title" in values:
        title = values.get("title")
        title = title.strip() if isinstance(title, str) else None
        if not title or len(title) > MAX_TITLE:
            problems.add("title", f"must be 1-{MAX_TITLE} characters")
        clean["title"] = title
    if "description" in values:
        description = (values["description"] or "").strip()
        if len(description) > MAX_DESCRIPTION:
            problems.add("description", f"must be at most {MAX_DESCRIPTION} characters")
        clean["description"] = description
    if "image_url" in values:
        url = (values["image_url"] or "").strip() or None
        if url is not None and (len(url) > MAX_IMAGE_URL or not url.startswith(("https://", "http://"))):
            problems.add("imageUrl", f"must be an http(s) URL of at most {MAX_IMAGE_URL} characters")
        clean["image_url"] = url
    if current is None or "required_level" in values:
        level = values.get("required_level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= MAX_LEVELS:
            problems.add("requiredLevel", f"must be between 1 and {MAX_LEVELS}")
        clean["required_level"] = level
    if "resource_type" in values:
        kind = values["resource_type"] or None
        if kind is not None and not RESOURCE_TYPE_RE.match(kind):
            problems.add(
                "resourceType", "must be 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter"
            )
        clean["resource_type"] = kind
    if "resource_id" in values:
        ident = values["resource_id"] or None
        if ident is not None and len(ident) > MAX_RESOURCE_ID:
            problems.add("resourceId", f"must be at most {MAX_RESOURCE_ID} characters")
        clean["resource_id"] = ident
    if "active" in values:
        if not isinstance(values["active"], bool):
            problems.add("active", "must be true or false")
        clean["active"] = values["active"]
    kind = clean.get("resource_type", current.resource_type if current else None)
    ident = clean.get("resource_id", current.resource_id if current else None)
    if ident is not None and kind is None:
        problems.add("resourceId", "needs a resourceType")
    problems.raise_if_any()
    return clean


def check_reward(values: RewardFields, *, current: Reward | None) -> None:
    """Raise ``InvalidInput`` listing every problem of ``values`` (for a new reward if no ``current``)."""
    _clean_reward(values.given(), current=current)


# Resource types this API serves: a reward scoped to one must name one of the tenant's own.
_OWN_RESOURCES: dict[str, tuple[str, type[Any]]] = {
    "journey": ("Journey", Journey),
    "onboarding": ("Onboarding", Onboarding),
}


async def _check_resource(session: AsyncSession, *, tenant_id: uuid.UUID, kind: str | None, ident: str | None) -> None:
    """NOT_FOUND unless a journey or onboarding resource id is one of the tenant's."""
    own = _OWN_RESOURCES.get(kind or "")
    if own is None or ident is None:
        return
    what, model = own
    try:
        key = uuid.UUID(ident)
    except ValueError:
        raise NotFound(what, field=["input", "resourceId"]) from None
    found = await session.execute(select(model.id).where(model.id == key, model.tenant_id == tenant_id))
    if found.first() is None:
        raise NotFound(what, field=["input", "resourceId"])


async def create_reward(session: AsyncSession, *, tenant_id: uuid.UUID, values: RewardFields) -> Reward:
    """A new active reward."""
    clean = _clean_reward(values.given(), current=None)
    await _check_resource(session, tenant_id=tenant_id, kind=clean.get("resource_type"), ident=clean.get("resource_id"))
    reward = Reward(tenant_id=tenant_id, **clean)
    session.add(reward)
    await session.flush()
    return reward


async def _lock_reward(session: AsyncSession, *, tenant_id: uuid.UUID, reward_id: uuid.UUID) -> Reward:
    reward = (
        await session.execute(
            select(Reward)
            .where(col(Reward.id) == reward_id, col(Reward.tenant_id) == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if reward is None:
        raise NotFound("Reward", field=["id"])
    return reward


async def update_reward(
    session: AsyncSession, *, tenant_id: uuid.UUID, reward_id: uuid.UUID, values: RewardFields
) -> Reward:
    """Change the given fields of a reward."""
    reward = await _lock_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    clean = _clean_reward(values.given(), current=reward)
    if "resource_type" in clean or "resource_id" in clean:
        kind = clean.get("resource_type", reward.resource_type)
        ident = clean.get("resource_id", reward.resource_id)
        await _check_resource(session, tenant_id=tenant_id, kind=kind, ident=ident)
    for name, value in clean.items():
        setattr(reward, name, value)
    reward.updated_at = utcnow()
    await session.flush()
    return reward


async def deactivate_reward(session: AsyncSession, *, tenant_id: uuid.UUID, reward_id: uuid.UUID) -> Reward:
    """Withdraw a reward from listings (unlocks are kept); deactivating twice is a no-op."""
    reward = await _lock_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    if reward.active:
        reward.active = False
        reward.updated_at = utcnow()
        await session.flush()
    return reward


async def rewards_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Reward]:
    """The tenant's rewards with these ids."""
    result = await session.execute(select(Reward).where(col(Reward.tenant_id) == tenant_id, col(Reward.id).in_(ids)))
    return {r.id: r for r in result.scalars()}


async def rewards_by_titles(session: AsyncSession, *, tenant_id: uuid.UUID, titles: Sequence[str]) -> dict[str, Reward]:
    """The tenant's rewards (active or not) with these titles; the oldest one per title."""
    result = await session.execute(
        select(Reward)
        .where(col(Reward.tenant_id) == tenant_id, col(Reward.title).in_(titles))
        .order_by(col(Reward.created_at).desc(), col(Reward.id).desc())
    )
    return {r.title: r for r in result.scalars()}
