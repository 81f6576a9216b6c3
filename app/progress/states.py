"""What a run's events and progress are made of: the rows the GraphQL layer serves (Core rows or
entities alike), an event's state in a run, and how its day is scheduled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from app.catalog.reads import EventRow
from app.progress.models import EventStatus, InstanceStatus, event_instance_id


class InstanceRow(Protocol):
    """What the GraphQL layer serves of a run: a row of INSTANCE_COLUMNS, or a ``JourneyInstance``."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...
    @property
    def journey_id(self) -> uuid.UUID: ...
    @property
    def journey_version(self) -> int: ...
    @property
    def status(self) -> InstanceStatus: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def started_on(self) -> date: ...
    @property
    def timezone(self) -> str: ...
    @property
    def suspended_at(self) -> datetime | None: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def shift_days(self) -> int: ...
    @property
    def metadata_(self) -> Any: ...


class EventInstanceRow(Protocol):
    @property
    def status(self) -> EventStatus: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def shift_days_at_completion(self) -> int | None: ...


class EventState:
    """One event of a run with its status; NOT_STARTED (and no times) when it has no row yet.

    A plain slotted class rather than a frozen dataclass, and its ``id`` (a uuid5 of the run and
    the journey event) made on first read: a run's event list is built for every page that
    shows it, most of which never ask for the ids (measured: 5% of a `myJourneys` request)."""

    __slots__ = ("_id", "completed_at", "instance_id", "journey_event", "scheduled_on", "started_at", "status")

    def __init__(
        self,
        *,
        instance_id: uuid.UUID,
        journey_event: EventRow,
        status: EventStatus,
        scheduled_on: date | None,
        started_at: datetime | None,
        completed_at: datetime | None,
    ) -> None:
        self._id: uuid.UUID | None = None
        self.instance_id = instance_id
        self.journey_event = journey_event
        self.status = status
        self.scheduled_on = scheduled_on
        self.started_at = started_at
        self.completed_at = completed_at

    @property
    def id(self) -> uuid.UUID:
        """The event instance's id: stable for (run, journey event), even before a row exists."""
        if self._id is None:
            self._id = event_instance_id(self.instance_id, self.journey_event.id)
        return self._id

    @property
    def position(self) -> int:
        return self.journey_event.position

    def __repr__(self) -> str:
        return f"EventState(id={self.id}, status={self.status.name}, scheduled_on={self.scheduled_on})"


@dataclass(frozen=True)
class Progress:
    """How far a run is."""

    completed_events: int
    total_events: int

    @property
    def percent(self) -> int:
        """Whole percent done, rounded down (100 only when every event is completed)."""
        return self.completed_events * 100 // self.total_events if self.total_events else 0


def _scheduled(
    started_on: date, shift_days: int, day_offset: int | None, status: EventStatus | None, frozen: int | None
) -> date | None:
    """The event's day: start day + offset + shift (frozen at completion); None if unscheduled."""
    if day_offset is None:
        return None
    if status is EventStatus.COMPLETED and frozen is not None:
        shift_days = frozen
    return started_on + timedelta(days=day_offset + shift_days)


def scheduled_on(
    started_on: date, shift_days: int, journey_event: EventRow, row: EventInstanceRow | None
) -> date | None:
    """The event's day: start day + offset + shift (frozen at completion); None if unscheduled."""
    status, frozen = (row.status, row.shift_days_at_completion) if row is not None else (None, None)
    return _scheduled(started_on, shift_days, journey_event.day_offset, status, frozen)


def event_state(
    *,
    instance_id: uuid.UUID,
    started_on: date,
    shift_days: int,
    journey_event: EventRow,
    row: EventInstanceRow | None,
) -> EventState:
    """The state of one event of a run, from its row (or its absence)."""
    return EventState(
        instance_id=instance_id,
        journey_event=journey_event,
        status=row.status if row is not None else EventStatus.NOT_STARTED,
        scheduled_on=scheduled_on(started_on, shift_days, journey_event, row),
        started_at=row.started_at if row is not None else None,
        completed_at=row.completed_at if row is not None else None,
    )


def state_of_row(row: Any, *, instance_id: uuid.UUID, started_on: date, shift_days: int) -> EventState:
    """The state of one event from a Core row of EVENT_COLUMNS and EVENT_ROW_COLUMNS (itself the journey event)."""
    status = row.row_status
    return EventState(
        instance_id=instance_id,
        journey_event=row,
        status=status if status is not None else EventStatus.NOT_STARTED,
        scheduled_on=_scheduled(started_on, shift_days, row.day_offset, status, row.row_shift_days_at_completion),
        started_at=row.row_started_at,
        completed_at=row.row_completed_at,
    )
