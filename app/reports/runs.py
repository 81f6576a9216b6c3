"""How the runs started in a period went: the same computation for journeys and onboardings.

A kind (app/versions/kinds.py) names its runs, definitions and version items; the kind's report
supplies only what differs: how much of its version a run has done, and what a run did on each
item. Everything is aggregated in SQL, in at most two statements whatever the number of runs:
``item_figures`` (which also tells whether the definition exists) and ``run_figures``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, FromClause, Subquery, and_, cast, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.versions.kinds import VersionedKind

# Every kind's runs share these statuses (str enums, stored by name).
ACTIVE, SUSPENDED, COMPLETED, ABANDONED = "ACTIVE", "SUSPENDED", "COMPLETED", "ABANDONED"
OPEN = (ACTIVE, SUSPENDED)


@dataclass(frozen=True)
class RunFigures:
    """How the runs in a report's range went, whatever their kind.

    ``completion_rate`` = completed / total (0 with no runs); ``median_seconds_to_complete`` =
    the median (``percentile_cont(0.5)``) of ``completed_at - started_at`` over COMPLETED runs
    (None when none); ``average_progress`` = the mean over the runs of each one's percent done
    (0..100, not rounded per run; 0 with no runs), as the kind's report defines a run's percent.
    """

    total: int
    active: int
    suspended: int
    completed: int
    abandoned: int
    completion_rate: float
    median_seconds_to_complete: float | None
    average_progress: float


def started_in(
    kind: VersionedKind,
    *,
    tenant_id: uuid.UUID,
    definition_id: uuid.UUID | None,
    started_from: datetime | None,
    started_to: datetime | None,
) -> list[ColumnElement[bool]]:
    """The tenant's runs of a definition (of every one when None) whose ``started_at`` is in
    ``[started_from, started_to)``, either end open when None."""
    runs = kind.runs
    conditions: list[ColumnElement[bool]] = [runs.c.tenant_id == tenant_id]
    if definition_id is not None:
        conditions.append(runs.c[kind.parent] == definition_id)
    if started_from is not None:
        conditions.append(runs.c.started_at >= started_from)
    if started_to is not None:
        conditions.append(runs.c.started_at < started_to)
    return conditions


def in_run_version(kind: VersionedKind) -> ColumnElement[bool]:
    """``kind.version_items`` rows of the version the run of the enclosing query pins."""
    items, runs = kind.version_items, kind.runs
    return and_(items.c[kind.parent] == runs.c[kind.parent], items.c.version == runs.c[kind.run_version])


def sized_runs(
    kind: VersionedKind, *, tenant_id: uuid.UUID, definition_id: uuid.UUID | None
) -> tuple[FromClause, ColumnElement[int]]:
    """``kind.runs`` joined to how many items the version each run pins has (the second value;
    0 for a version without items), for the tenant's runs of a definition (of every one when
    None)."""
    items, runs = kind.version_items, kind.runs
    sizes = select(items.c[kind.parent].label("parent"), items.c.version, func.count().label("items")).where(
        items.c.tenant_id == tenant_id
    )
    if definition_id is not None:
        sizes = sizes.where(items.c[kind.parent] == definition_id)
    sized = sizes.group_by(items.c[kind.parent], items.c.version).subquery("sizes")
    joined = runs.outerjoin(
        sized, and_(sized.c.parent == runs.c[kind.parent], sized.c.version == runs.c[kind.run_version])
    )
    return joined, func.coalesce(sized.c["items"], 0)


def percent(done: ColumnElement[Any], total: ColumnElement[Any]) -> ColumnElement[float]:
    """100 * done / total as a float; 0 when there are no items."""
    return func.coalesce(100.0 * cast(done, Float) / func.nullif(total, 0), 0.0)


async def run_figures(
    session: AsyncSession,
    kind: VersionedKind,
    *,
    runs: FromClause,
    in_range: list[ColumnElement[bool]],
    progress: ColumnElement[float],
) -> RunFigures:
    """The figures of the runs matching ``in_range``: ``runs`` is ``kind.runs`` with what the
    kind joins to it (``sized_runs``, …) and ``progress`` a run's percent done over it. One
    statement."""
    table = kind.runs
    per_run = (
        select(
            table.c.status.label("status"),
            cast(func.extract("epoch", table.c.completed_at - table.c.started_at), Float).label("seconds"),
            progress.label("progress"),
        )
        .select_from(runs)
        .where(*in_range)
        .subquery("per_run")
    )
    status = per_run.c.status
    done = status == COMPLETED
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(status == ACTIVE),
                func.count().filter(status == SUSPENDED),
                func.count().filter(done),
                func.count().filter(status == ABANDONED),
                func.percentile_cont(0.5).within_group(per_run.c.seconds).filter(done),
                func.avg(per_run.c.progress),
            ).select_from(per_run)
        )
    ).one()
    total, active, suspended, completed, abandoned, median, average = row
    return RunFigures(
        total=total,
        active=active,
        suspended=suspended,
        completed=completed,
        abandoned=abandoned,
        completion_rate=completed / total if total else 0.0,
        median_seconds_to_complete=float(median) if median is not None else None,
        average_progress=float(average) if average is not None else 0.0,
    )


async def item_figures(
    session: AsyncSession,
    kind: VersionedKind,
    *,
    tenant_id: uuid.UUID,
    definition_id: uuid.UUID,
    per_run: Subquery,
    still_open: Callable[[Any], ColumnElement[bool]],
) -> list[tuple[Any, int, int, int]] | None:
    """Per item of the definition's latest published version, in order: ``(item, reached,
    completed, drop_off)``, the item a ``kind.version_item``; None when the tenant has no such
    definition (before the first publish: no items). One statement.

    ``per_run`` has one row per (item, run in range) with ``item_id``, ``status`` (the run's) and
    the booleans ``reached`` and ``completed``; an item's figures count its runs on any version
    (items keep their id across versions). ``drop_off`` counts the runs that reached the item,
    did not complete it and are not ``still_open(item)`` on it (over ``per_run`` and the
    item's row of ``kind.version_items``)."""
    definitions, items = kind.definitions, kind.version_items
    latest = (
        select(definitions.c.version)
        .where(definitions.c.tenant_id == tenant_id, definitions.c.id == definition_id)
        .scalar_subquery()
        .correlate(None)
    )
    # The runs' figures per item first, grouped by the item's id alone (a few groups), then
    # joined to the items' rows.
    item = items.alias("item")
    reached, completed = per_run.c.reached, per_run.c.completed
    counts = (
        select(
            item.c.id.label("item_id"),
            func.count().filter(reached).label("reached"),
            func.count().filter(completed).label("completed"),
            func.count().filter(and_(reached, not_(completed), not_(still_open(item)))).label("drop_off"),
        )
        .select_from(per_run)
        .join(item, item.c.id == per_run.c.item_id)
        .where(item.c[kind.parent] == definition_id, item.c.version == latest)
        .group_by(item.c.id)
        .subquery("counts")
    )
    rows = await session.execute(
        select(
            definitions.c.id,
            kind.version_item,
            *(func.coalesce(counts.c[name], 0) for name in ("reached", "completed", "drop_off")),
        )
        .select_from(definitions)
        .outerjoin(items, and_(items.c[kind.parent] == definitions.c.id, items.c.version == definitions.c.version))
        .outerjoin(counts, counts.c.item_id == items.c.id)
        .where(definitions.c.tenant_id == tenant_id, definitions.c.id == definition_id)
        .order_by(items.c.position)
    )
    found: list[Any] = list(rows)
    if not found:
        return None
    return [(item, r, c, d) for _, item, r, c, d in found if item is not None]
