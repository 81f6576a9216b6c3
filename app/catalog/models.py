"""Journeys and their events, as authored by a tenant's admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.modelbase import json_object, ref, tenant_fk, timestamp, timestamp_now, uuid_pk
from app.versions import columns


class Visibility(str, Enum):
    """Who can find a journey in the catalogue."""

    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


class JourneyStatus(str, Enum):
    """Where a journey is in its authoring life."""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class Journey(SQLModel, table=True):
    """A program of scheduled and unscheduled events."""

    __tablename__ = "journeys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug", name="uq_journeys_tenant_slug"),
        Index("ix_journeys_catalogue", "tenant_id", "status", "visibility", "created_at", "id"),
        Index("ix_journeys_category", "tenant_id", "category", "created_at", "id"),
        Index(
            "ix_journeys_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            # No pending list: fresh rows are in the index at once, so the planner keeps using it.
            postgresql_with={"fastupdate": "off"},
        ),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    slug: str = Field(sa_column=Column(String(64), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    category: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    tags: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String(32)), nullable=False, server_default="{}"),
    )
    visibility: Visibility = Field(
        default=Visibility.PUBLIC,
        sa_column=Column(SAEnum(Visibility, name="journey_visibility"), nullable=False),
    )
    status: JourneyStatus = Field(
        default=JourneyStatus.DRAFT,
        sa_column=Column(SAEnum(JourneyStatus, name="journey_status"), nullable=False),
    )
    xp_reward: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # Lowercased title, description and tags: what `search` matches, through a trigram index.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()
    published_at: datetime | None = timestamp()
    # The latest published version (0 before the first publish); this row itself is the draft.
    version: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class JourneyEvent(SQLModel, table=True):
    """One step of a journey: scheduled on a day offset from the start, or unscheduled."""

    __tablename__ = "journey_events"
    __table_args__ = (
        UniqueConstraint(
            "journey_id",
            "position",
            name="uq_journey_events_position",
            deferrable=True,
            initially="DEFERRED",
        ),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    journey_id: uuid.UUID = ref("journeys.id")
    position: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    kind: str = Field(default="task", sa_column=Column(String(32), nullable=False))
    day_offset: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    duration_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    xp_reward: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    metadata_: dict[str, Any] = json_object()
    created_at: datetime = timestamp_now()


class JourneyVersion(SQLModel, table=True):
    """A published snapshot of a journey's fields (app/versions/); never changed but for ``live``."""

    __tablename__ = "journey_versions"
    __table_args__ = (
        # The catalogue reads live versions only: the latest version of a PUBLISHED journey.
        Index(
            "ix_journey_versions_catalogue",
            "tenant_id",
            "visibility",
            "created_at",
            "journey_id",
            postgresql_where=text("live"),
        ),
        Index(
            "ix_journey_versions_category",
            "tenant_id",
            "category",
            "created_at",
            "journey_id",
            postgresql_where=text("live"),
        ),
        Index(
            "ix_journey_versions_search_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
            postgresql_where=text("live"),
        ),
    )

    journey_id: uuid.UUID = columns.definition_key("journeys")
    version: int = columns.key_part(uuid=False)
    tenant_id: uuid.UUID = tenant_fk()
    slug: str = Field(sa_column=Column(String(64), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    category: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    tags: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(32)), nullable=False))
    visibility: Visibility = Field(sa_column=Column(SAEnum(Visibility, name="journey_visibility"), nullable=False))
    xp_reward: int = Field(sa_column=Column(Integer, nullable=False))
    search_text: str = Field(sa_column=Column(Text, nullable=False))
    # The journey's creation (the catalogue's order), and this version's publication.
    created_at: datetime = columns.instant()
    published_at: datetime = columns.instant()
    content_hash: str = columns.content_hash()
    live: bool = columns.live()


class JourneyEventVersion(SQLModel, table=True):
    """An event as it is in one published version of its journey; ``id`` is the event's own."""

    __tablename__ = "journey_event_versions"
    __table_args__ = (
        columns.version_of("journey_versions", "journey_id"),
        Index("ix_journey_event_versions_position", "journey_id", "version", "position"),
        Index("ix_journey_event_versions_event", "id"),
    )

    journey_id: uuid.UUID = columns.key_part(uuid=True)
    version: int = columns.key_part(uuid=False)
    id: uuid.UUID = columns.key_part(uuid=True)
    tenant_id: uuid.UUID = tenant_fk()
    position: int = Field(sa_column=Column(Integer, nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    day_offset: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    duration_minutes: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    xp_reward: int = Field(sa_column=Column(Integer, nullable=False))
    metadata_: dict[str, Any] = json_object()
