"""Reading progress: runs, their events with statuses, progress and logs (today's events:
app/progress/today.py).

The batched readers take many instance ids and answer in one statement, for dataloaders. As in
app/catalog/reads.py, the reads that serve GraphQL return Core rows of the served columns
(:class:`InstanceRow`; an :class:`EventState`'s ``journey_event`` is a row too), from statements
built once per shape. The state types live in app/progress/states.py (re-exported here).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, any_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col
from sqlmodel import select as orm_select

from app.catalog.models import JourneyEventVersion
from app.catalog.reads import EVENT_COLUMNS, ids_param
from app.catalog.reads import EVENT_VERSIONS as EVENTS
from app.core_rows import fetch_rows
from app.pagination import Count, Page, Window, forward, keyset
from app.progress.models import EventInstance, EventStatus, InstanceStatus, JourneyInstance, JourneyLog

# The state types, re-exported (``X as X``): callers read them from here.
from app.progress.states import EventInstanceRow as EventInstanceRow
from app.progress.states import EventState as EventState
from app.progress.states import InstanceRow as InstanceRow
from app.progress.states import Progress as Progress
from app.progress.states import event_state as event_state
from app.progress.states import scheduled_on as scheduled_on
from app.progress.states import state_of_row as state_of_row
from app.rawjson import raw_json

INSTANCE_KEYS = (col(JourneyInstance.started_at), col(JourneyInstance.id))

INSTANCES = SQLModel.metadata.tables[JourneyInstance.__tablename__]
EVENT_ROWS = SQLModel.metadata.tables[EventInstance.__tablename__]
INSTANCE_COLUMNS = (
    *(
        INSTANCES.c[name]
        for name in (
            "id",
            "user_id",
            "journey_id",
            "journey_version",
            "status",
            "started_at",
            "started_on",
            "timezone",
            "suspended_at",
            "completed_at",
            "shift_days",
        )
    ),
    raw_json(INSTANCES.c["metadata"], "metadata_"),
)
# What an event's state needs of its event instance row (absent: NOT_STARTED), under these labels.
EVENT_ROW_COLUMNS = (
    EVENT_ROWS.c.status.label("row_status"),
    EVENT_ROWS.c.started_at.label("row_started_at"),
    EVENT_ROWS.c.completed_at.label("row_completed_at"),
    EVENT_ROWS.c.shift_days_at_completion.label("row_shift_days_at_completion"),
)
EVENT_ROW_JOIN = and_(EVENT_ROWS.c.instance_id == INSTANCES.c.id, EVENT_ROWS.c.journey_event_id == EVENTS.c.id)
# A run's events are those of the journey version it pins (``EVENTS`` is the versions' table).
RUN_EVENTS_JOIN = and_(EVENTS.c.journey_id == INSTANCES.c.journey_id, EVENTS.c.version == INSTANCES.c.journey_version)


async def get_instance(
    session: AsyncSession, *, tenant_id: uuid.UUID, instance_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> InstanceRow | None:
    """One run of the tenant (only the user's own when ``user_id`` is given)."""
    found = await instances_by_ids(session, tenant_id=tenant_id, ids=[instance_id], user_id=user_id)
    return found.get(instance_id)


@cache
def _instances_statement(*, by_user: bool) -> Select[Any]:
    c = INSTANCES.c
    query = select(*INSTANCE_COLUMNS).where(c.tenant_id == bindparam("tenant_id"), c.id == any_(ids_param("ids")))
    return query.where(c.user_id == bindparam("user_id")) if by_user else query


async def instances_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID], user_id: uuid.UUID | None = None
) -> dict[uuid.UUID, InstanceRow]:
    """The tenant's runs with these ids (only the user's own when ``user_id`` is given)."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "ids": list(ids)}
    if user_id is not None:
        params["user_id"] = user_id
    result = await fetch_rows(session, _instances_statement(by_user=user_id is not None), params)
    return {row.id: row for row in result}  # InstanceRow each


@cache
def _my_instances_statement(
    *, by_user: bool, by_status: bool, by_journey: bool, window: tuple[bool, bool, bool] | None
) -> Select[Any]:
    c = INSTANCES.c
    query = select(*INSTANCE_COLUMNS).where(c.tenant_id == bindparam("tenant_id"))
    if by_user:
        query = query.where(c.user_id == bindparam("user_id"))
    if by_status:
        query = query.where(c.status == bindparam("status"))
    if by_journey:
        query = query.where(c.journey_id == bindparam("journey_id"))
    # Without a window (shape None): the list unordered, for its count.
    return keyset(query, (c.started_at, c.id), window, descending=True) if window is not None else query


async def my_instances(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID | None,
    status: InstanceStatus | None = None,
    journey_id: uuid.UUID | None = None,
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[Any]:
    """A page of the user's runs (every user's when ``user_id`` is None), newest started first
    (``started_at`` desc, then ``id``): rows of INSTANCE_COLUMNS (an :class:`InstanceRow` each;
    typed Any while callers' key functions still name ``JourneyInstance``)."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "user_id": user_id, "status": status, "journey_id": journey_id}
    params = {k: v for k, v in params.items() if v is not None}
    window = forward(window, first=first, after=after)
    shape = {"by_user": user_id is not None, "by_status": status is not None, "by_journey": journey_id is not None}
    rows = await fetch_rows(session, _my_instances_statement(**shape, window=window.shape), params | window.params())
    return window.page(rows, count=Count(_my_instances_statement(**shape, window=None), params))


async def event_states_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[EventState, uuid.UUID]]:
    """Started event instances by id, each with the id of the user whose run it belongs to.
    (An event never started has no row, so it is found through its run's ``events`` only.)"""
    rows = await session.execute(
        orm_select(EventInstance, JourneyInstance, JourneyEventVersion)
        .join(JourneyInstance, col(JourneyInstance.id) == col(EventInstance.instance_id))
        .join(
            JourneyEventVersion,
            and_(
                col(JourneyEventVersion.id) == col(EventInstance.journey_event_id),
                col(JourneyEventVersion.journey_id) == col(JourneyInstance.journey_id),
                col(JourneyEventVersion.version) == col(JourneyInstance.journey_version),
            ),
        )
        .where(col(EventInstance.tenant_id) == tenant_id, col(EventInstance.id).in_(ids))
    )
    return {
        row.id: (
            event_state(
                instance_id=instance.id,
                started_on=instance.started_on,
                shift_days=instance.shift_days,
                journey_event=journey_event,
                row=row,
            ),
            instance.user_id,
        )
        for row, instance, journey_event in rows.all()
    }


@cache
def _instance_events_statement(status: str | None, window: tuple[bool, bool, bool], *, paged: bool) -> Select[Any]:
    """Each run's events ranked by position (from the last when paging back), with their rows;
    ``status``: None, "none" (not started: no row) or "row" (a row with the status parameter)."""
    after, before, backward = window
    order = EVENTS.c.position.desc() if backward else EVENTS.c.position.asc()
    rank = func.row_number().over(partition_by=INSTANCES.c.id, order_by=order)
    inner = (
        select(
            INSTANCES.c.id.label("instance_id"),
            INSTANCES.c.started_on,
            INSTANCES.c.shift_days,
            *EVENT_COLUMNS,
            *EVENT_ROW_COLUMNS,
            rank.label("rank"),
        )
        .select_from(INSTANCES)
        .join(EVENTS, RUN_EVENTS_JOIN)
        .outerjoin(EVENT_ROWS, EVENT_ROW_JOIN)
        .where(INSTANCES.c.tenant_id == bindparam("tenant_id"), INSTANCES.c.id == any_(ids_param("ids")))
    )
    if status == "none":
        inner = inner.where(EVENT_ROWS.c.id.is_(None))
    elif status == "row":
        inner = inner.where(EVENT_ROWS.c.status == bindparam("status"))
    if after:
        inner = inner.where(EVENTS.c.position > bindparam("after_0"))
    if before:
        inner = inner.where(EVENTS.c.position < bindparam("before_0"))
    ranked = inner.subquery("ranked")
    query = select(ranked).order_by(ranked.c.instance_id, ranked.c.rank)
    return query.where(ranked.c.rank <= bindparam("limit")) if paged else query


async def instance_events(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    instance_ids: Sequence[uuid.UUID],
    status: EventStatus | None = None,
    first: int | None = None,
    after_position: int | None = None,
    window: Window | None = None,
) -> dict[uuid.UUID, Page[EventState]]:
    """For each run, a page of its journey's events in position order with their statuses
    (``window`` per run, or ``first`` after ``after_position``; all when neither), in one query."""
    params, shape = _events_filter(tenant_id, instance_ids, status)
    paged = window is not None or first is not None
    if paged:
        window = forward(window, first=first, after=(after_position,) if after_position is not None else None)
        params |= window.params()
    query = _instance_events_statement(shape, window.shape if window else (False, False, False), paged=paged)
    grouped: dict[uuid.UUID, list[EventState]] = {i: [] for i in instance_ids}
    for row in await fetch_rows(session, query, params):
        grouped[row.instance_id].append(
            state_of_row(row, instance_id=row.instance_id, started_on=row.started_on, shift_days=row.shift_days)
        )
    if window is None:
        return {i: Page(items=items, has_next=False) for i, items in grouped.items()}
    return {i: window.page(items) for i, items in grouped.items()}


def _events_filter(
    tenant_id: uuid.UUID, instance_ids: Sequence[uuid.UUID], status: EventStatus | None
) -> tuple[dict[str, Any], str | None]:
    params: dict[str, Any] = {"tenant_id": tenant_id, "ids": list(instance_ids)}
    shape = None if status is None else "none" if status is EventStatus.NOT_STARTED else "row"
    if shape == "row":
        params["status"] = status
    return params, shape


@cache
def _event_counts_statement(status: str | None) -> Select[Any]:
    listed = _instance_events_statement(status, (False, False, False), paged=False).subquery("listed")
    return select(listed.c.instance_id, func.count()).group_by(listed.c.instance_id)


async def instance_event_counts(
    session: AsyncSession, *, tenant_id: uuid.UUID, instance_ids: Sequence[uuid.UUID], status: EventStatus | None
) -> dict[uuid.UUID, int]:
    """How many events (with this status) each run's event list holds, in one query."""
    params, shape = _events_filter(tenant_id, instance_ids, status)
    rows = await fetch_rows(session, _event_counts_statement(shape), params)
    found: dict[uuid.UUID, int] = {i: n for i, n in rows}  # noqa: C416 (typed rows)
    return {i: found.get(i, 0) for i in instance_ids}


_completed = func.count(EVENT_ROWS.c.id).filter(EVENT_ROWS.c.status == EventStatus.COMPLETED)
PROGRESS = (
    select(INSTANCES.c.id, func.count(EVENTS.c.id).label("total"), _completed.label("done"))
    .select_from(INSTANCES)
    .outerjoin(EVENTS, RUN_EVENTS_JOIN)
    .outerjoin(EVENT_ROWS, EVENT_ROW_JOIN)
    .where(INSTANCES.c.tenant_id == bindparam("tenant_id"), INSTANCES.c.id == any_(ids_param("ids")))
    .group_by(INSTANCES.c.id)
)


async def progress(
    session: AsyncSession, *, tenant_id: uuid.UUID, instance_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Progress]:
    """Each run's completed and total events, in one query."""
    rows = await fetch_rows(session, PROGRESS, {"tenant_id": tenant_id, "ids": list(instance_ids)})
    found = {i: Progress(completed_events=done, total_events=total) for i, total, done in rows}
    return {i: found.get(i, Progress(0, 0)) for i in instance_ids}


async def instance_logs(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    instance_ids: Sequence[uuid.UUID],
    first: int | None = None,
    after_id: int | None = None,
    window: Window | None = None,
) -> dict[uuid.UUID, Page[JourneyLog]]:
    """For each run, a page of its log oldest first (by ``id``, the order entries were
    written; ``window`` per run, or ``first`` after ``after_id``), in one query."""
    window = forward(window, first=first, after=(after_id,) if after_id is not None else None)
    order = col(JourneyLog.id).desc() if window.backward else col(JourneyLog.id).asc()
    rank = func.row_number().over(partition_by=col(JourneyLog.instance_id), order_by=order)
    inner = select(col(JourneyLog.id).label("log_id"), rank.label("rank")).where(
        col(JourneyLog.tenant_id) == tenant_id, col(JourneyLog.instance_id).in_(instance_ids)
    )
    if window.after is not None:
        inner = inner.where(col(JourneyLog.id) > window.after[0])
    if window.before is not None:
        inner = inner.where(col(JourneyLog.id) < window.before[0])
    ranked = inner.subquery()
    query = (
        orm_select(JourneyLog)
        .join(ranked, ranked.c.log_id == col(JourneyLog.id))
        .where(ranked.c.rank <= window.limit)
        .order_by(col(JourneyLog.instance_id), ranked.c.rank)
    )
    grouped: dict[uuid.UUID, list[JourneyLog]] = {i: [] for i in instance_ids}
    for entry in (await session.execute(query)).scalars():
        grouped[entry.instance_id].append(entry)
    return {i: window.page(items) for i, items in grouped.items()}


async def instance_log_counts(
    session: AsyncSession, *, tenant_id: uuid.UUID, instance_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many entries each run's log holds, in one query."""
    query = (
        select(col(JourneyLog.instance_id), func.count())
        .where(col(JourneyLog.tenant_id) == tenant_id, col(JourneyLog.instance_id).in_(instance_ids))
        .group_by(col(JourneyLog.instance_id))
    )
    found: dict[uuid.UUID, int] = {i: n for i, n in await session.execute(query)}  # noqa: C416 (typed rows)
    return {i: found.get(i, 0) for i in instance_ids}


async def journey_logs(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    instance_id: uuid.UUID,
    first: int,
    after: Sequence[Any] | None,
) -> Page[JourneyLog]:
    """A page of one run's log, oldest first."""
    pages = await instance_logs(
        session,
        tenant_id=tenant_id,
        instance_ids=[instance_id],
        first=first,
        after_id=int(after[0]) if after else None,
    )
    return pages[instance_id]
