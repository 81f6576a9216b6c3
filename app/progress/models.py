"""A user's runs through journeys: instances, their event instances and their logs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from app.modelbase import json_object, ref, tenant_fk, timestamp, timestamp_now, uuid_pk

OPEN_INSTANCE_INDEX = "uq_journey_instances_open"
EVENT_INSTANCE_UNIQUE = "uq_event_instances_instance_event"


class InstanceStatus(str, Enum):
    """Where a user's run through a journey is."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    ABANDONED = "ABANDONED"


OPEN_STATUSES = (InstanceStatus.ACTIVE, InstanceStatus.SUSPENDED)


class EventStatus(str, Enum):
    """Where one event of a run is (NOT_STARTED is never stored: it is the absence of a row)."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@lru_cache(maxsize=16384)  # pages show the same runs' events again and again; uuid5 is a SHA-1 each
def event_instance_id(instance_id: uuid.UUID, journey_event_id: uuid.UUID) -> uuid.UUID:
    """The id of an event instance: stable for (instance, journey event), even before a row exists."""
    return uuid.uuid5(instance_id, str(journey_event_id))


class JourneyInstance(SQLModel, table=True):
    """One user's run through one journey."""

    __tablename__ = "journey_instances"
    __table_args__ = (
        # The database itself guarantees at most one open run per user and journey.
        Index(
            OPEN_INSTANCE_INDEX,
            "tenant_id",
            "user_id",
            "journey_id",
            unique=True,
            postgresql_where=text("status IN ('ACTIVE', 'SUSPENDED')"),
        ),
        Index("ix_journey_instances_user_started", "tenant_id", "user_id", "started_at", "id"),
        Index("ix_journey_instances_journey", "journey_id"),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = ref("users.id")
    journey_id: uuid.UUID = ref("journeys.id")
    # The version of the journey the run follows (app/versions/): its events, schedule and XP.
    journey_version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    status: InstanceStatus = Field(
        default=InstanceStatus.ACTIVE,
        sa_column=Column(SAEnum(InstanceStatus, name="journey_instance_status"), nullable=False),
    )
    started_at: datetime = timestamp_now()
    # The local day the run started on, in ``timezone``: day 0 of the schedule.
    started_on: date = Field(sa_column=Column(Date, nullable=False))
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    suspended_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    ended_at: datetime | None = timestamp()
    metadata_: dict[str, Any] = json_object()
    # Whole local days the schedule moved forward because of suspensions.
    shift_days: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class EventInstance(SQLModel, table=True):
    """A started or completed event of a run; events without a row are NOT_STARTED."""

    __tablename__ = "event_instances"
    __table_args__ = (
        UniqueConstraint("instance_id", "journey_event_id", name=EVENT_INSTANCE_UNIQUE),
        Index("ix_event_instances_journey_event", "journey_event_id"),
    )

    # event_instance_id(instance_id, journey_event_id); never random.
    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    tenant_id: uuid.UUID = tenant_fk()
    instance_id: uuid.UUID = ref("journey_instances.id")
    # The event's id, stable across versions (no foreign key: an event removed from the draft
    # lives on in the versions that have it, and a run's history is never deleted by authoring).
    journey_event_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    status: EventStatus = Field(
        default=EventStatus.IN_PROGRESS,
        sa_column=Column(SAEnum(EventStatus, name="event_instance_status"), nullable=False),
    )
    started_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    # The instance's shift when the event was completed: later suspensions do not move it.
    shift_days_at_completion: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class JourneyLog(SQLModel, table=True):
    """An entry of a run's history: a transition, or an event started or completed."""

    __tablename__ = "journey_logs"
    __table_args__ = (Index("ix_journey_logs_instance", "instance_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    tenant_id: uuid.UUID = tenant_fk()
    instance_id: uuid.UUID = ref("journey_instances.id")
    action: str = Field(sa_column=Column(String(64), nullable=False))
    metadata_: dict[str, Any] = json_object()
    journey_event_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    # The event's position and title as they were when logged.
    event_position: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    event_title: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    logged_at: datetime = timestamp_now()
    # Who acted (app/tenancy/actors.py): the run's user, an admin, or an API key by its name then.
    actor_kind: str = Field(default="user", sa_column=Column(String(16), nullable=False, server_default="user"))
    actor_user_id: uuid.UUID | None = ref("users.id", nullable=True, ondelete="SET NULL")
    actor_api_key_id: uuid.UUID | None = ref("api_keys.id", nullable=True, ondelete="SET NULL")
    actor_api_key_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
