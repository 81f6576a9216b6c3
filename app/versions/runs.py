"""What starting and changing a run share, for every kind (journey instances, onboarding
journeys): the one open run per user and definition, and the run's row lock."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db import violates
from app.errors import DomainError, ErrorCode, NotFound


async def insert_open_run(session: AsyncSession, run: Any, *, open_index: str, what: str, field: str) -> None:
    """Insert a new open run; ALREADY_ACTIVE (on ``field``) when the user already has one of this
    ``what`` open. The partial unique index ``open_index`` decides racing starts."""
    try:
        # A savepoint, so losing the race leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(run)
            await session.flush()
    except IntegrityError as exc:
        if violates(exc, open_index):
            raise DomainError(
                ErrorCode.ALREADY_ACTIVE, f"an active or suspended run of this {what} exists", field=[field]
            ) from None
        raise


async def lock_run(
    session: AsyncSession,
    model: Any,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    run_id: uuid.UUID,
    share: bool,
    label: str,
    field: str,
) -> Any:
    """The user's run of ``model``, row-locked for this transaction and read afresh; NotFound
    (``label``, on ``field``) for anyone else's."""
    found = (
        await session.execute(
            select(model)
            .where(col(model.id) == run_id, col(model.tenant_id) == tenant_id, col(model.user_id) == user_id)
            # Shared, or FOR NO KEY UPDATE: enough to change the status, and no obstacle to
            # inserts that merely reference the run.
            .with_for_update(read=share, key_share=not share)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(label, field=[field])
    return found


async def run_owner(
    session: AsyncSession, model: Any, *, tenant_id: uuid.UUID, run_id: uuid.UUID, label: str, field: str
) -> uuid.UUID:
    """Whose run of the tenant this is (an admin or API key acts on any); NotFound otherwise."""
    owner: uuid.UUID | None = await session.scalar(
        select(model.user_id).where(col(model.id) == run_id, col(model.tenant_id) == tenant_id)
    )
    if owner is None:
        raise NotFound(label, field=[field])
    return owner
