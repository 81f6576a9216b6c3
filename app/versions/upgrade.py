"""Moving open runs to a definition's latest version, the same for every kind.

Concurrency: the definition's row is locked (no publish meanwhile), then every run to move is
locked in one statement (FOR NO KEY UPDATE, in id order), the lock each change of a run takes
first. A completion racing the upgrade therefore happens wholly before it (and the upgrade
sees its row) or wholly after it (on the new version): none is lost, none counted twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.errors import DomainError, ErrorCode
from app.versions.kinds import VersionedKind

Move = Callable[[Any, int, int], Awaitable[None]]  # (locked run, from version, to version)


async def upgrade_runs(
    session: AsyncSession,
    kind: VersionedKind,
    *,
    definition: Any,
    from_version: int | None,
    move: Move,
    field: str,
) -> list[Any]:
    """Move the (locked) definition's open runs — those on ``from_version`` only, when given — to
    its latest version: ``move`` carries each run's state over (it logs ``upgraded``); the
    pinned version is set afterwards. Returns the runs moved."""
    latest = definition.version
    if latest == 0:
        raise DomainError(ErrorCode.BAD_USER_INPUT, f"the {kind.label.lower()} has no published version", field=[field])
    if from_version is not None and not 1 <= from_version <= latest:
        raise DomainError(
            ErrorCode.BAD_USER_INPUT, f"fromVersion must be between 1 and {latest}", field=["fromVersion"]
        )
    run = kind.run
    pinned = getattr(run, kind.run_version)
    query = (
        select(run)
        .where(
            col(run.tenant_id) == definition.tenant_id,
            getattr(run, kind.parent) == definition.id,
            col(run.status).in_(kind.open_run_statuses),
            col(pinned) < latest,
        )
        .order_by(col(run.id))
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if from_version is not None:
        query = query.where(col(pinned) == from_version)
    runs = list((await session.execute(query)).scalars())
    for each in runs:
        before = getattr(each, kind.run_version)
        await move(each, before, latest)
        setattr(each, kind.run_version, latest)
    await session.flush()
    return runs


def upgraded_metadata(before: int, after: int) -> dict[str, Any]:
    """What an ``upgraded`` log entry says."""
    return {"from": before, "to": after}
