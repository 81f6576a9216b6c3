"""Onboardings (ordered steps and an optional classification form), users' runs through
them with their logs, and the classifications users' answers produced."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from app.modelbase import json_object, ref, tenant_fk, timestamp, timestamp_now, uuid_pk
from app.versions import columns

OPEN_ONBOARDING_JOURNEY_INDEX = "uq_onboarding_journeys_open"


class OnboardingStatus(str, Enum):
    """Where an onboarding is in its authoring life."""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class OnboardingJourneyStatus(str, Enum):
    """Where a user's run through an onboarding is."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    ABANDONED = "ABANDONED"


class Onboarding(SQLModel, table=True):
    """A step-by-step onboarding flow, optionally ending in a classification form."""

    __tablename__ = "onboardings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug", name="uq_onboardings_tenant_slug"),
        Index("ix_onboardings_listing", "tenant_id", "status", "created_at", "id"),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    slug: str = Field(sa_column=Column(String(64), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    status: OnboardingStatus = Field(
        default=OnboardingStatus.DRAFT,
        sa_column=Column(SAEnum(OnboardingStatus, name="onboarding_status"), nullable=False),
    )
    xp_reward: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # The classification form, validated on write (see app/onboarding/form_input.py): {"questions":
    # [...], "segments": [...]}; null when the onboarding has none.
    form: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()
    published_at: datetime | None = timestamp()
    # The latest published version (0 before the first publish); this row itself is the draft.
    version: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


class OnboardingStep(SQLModel, table=True):
    """One step of an onboarding; ``position`` (the API's ``order``) is 1..n."""

    __tablename__ = "onboarding_steps"
    __table_args__ = (
        # Deferrable, so a reorder can permute positions within one transaction.
        UniqueConstraint(
            "onboarding_id", "position", name="uq_onboarding_steps_position", deferrable=True, initially="DEFERRED"
        ),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    onboarding_id: uuid.UUID = ref("onboardings.id")
    position: int = Field(sa_column=Column(Integer, nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    metadata_: dict[str, Any] = json_object()
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()


class OnboardingJourney(SQLModel, table=True):
    """A user's run through an onboarding. ``current_step`` is the order of the step the user
    is on (as 23blocks counts it); the step at that order now is its detail."""

    __tablename__ = "onboarding_journeys"
    __table_args__ = (
        # The database itself guarantees at most one open run per user and onboarding.
        Index(
            OPEN_ONBOARDING_JOURNEY_INDEX,
            "tenant_id",
            "user_id",
            "onboarding_id",
            unique=True,
            postgresql_where=text("status IN ('ACTIVE', 'SUSPENDED')"),
        ),
        Index("ix_onboarding_journeys_user_started", "tenant_id", "user_id", "started_at", "id"),
        Index("ix_onboarding_journeys_onboarding_started", "onboarding_id", "started_at", "id"),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = ref("users.id")
    onboarding_id: uuid.UUID = ref("onboardings.id")
    # The version of the onboarding the run follows (app/versions/): its steps, form and XP.
    onboarding_version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    status: OnboardingJourneyStatus = Field(
        default=OnboardingJourneyStatus.ACTIVE,
        sa_column=Column(SAEnum(OnboardingJourneyStatus, name="onboarding_journey_status"), nullable=False),
    )
    current_step: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    started_at: datetime = timestamp_now()
    suspended_at: datetime | None = timestamp()
    completed_at: datetime | None = timestamp()
    abandoned_at: datetime | None = timestamp()
    metadata_: dict[str, Any] = json_object()
    updated_at: datetime = timestamp_now()


class OnboardingLog(SQLModel, table=True):
    """An entry of a run's history, keeping the step's name and order as they were."""

    __tablename__ = "onboarding_logs"
    __table_args__ = (
        Index("ix_onboarding_logs_journey", "journey_id", "id"),
        Index("ix_onboarding_logs_step_action", "step_id", "action"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    tenant_id: uuid.UUID = tenant_fk()
    journey_id: uuid.UUID = ref("onboarding_journeys.id")
    # The step's id (stable across versions; no foreign key: a step removed from the draft
    # lives on in the versions that have it). Name and order stay as they were.
    step_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    step_name: str = Field(sa_column=Column(String(200), nullable=False))
    step_order: int = Field(sa_column=Column(Integer, nullable=False))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    metadata_: dict[str, Any] = json_object()
    logged_at: datetime = timestamp_now()
    # Who acted (app/tenancy/actors.py): the run's user, an admin, or an API key by its name then.
    actor_kind: str = Field(default="user", sa_column=Column(String(16), nullable=False, server_default="user"))
    actor_user_id: uuid.UUID | None = ref("users.id", nullable=True, ondelete="SET NULL")
    actor_api_key_id: uuid.UUID | None = ref("api_keys.id", nullable=True, ondelete="SET NULL")
    actor_api_key_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class Classification(SQLModel, table=True):
    """The answers a user gave to an onboarding's form and the segment they earned. Every
    completion is kept; the newest is the user's classification."""

    __tablename__ = "classifications"
    __table_args__ = (
        Index("ix_classifications_user_created", "tenant_id", "user_id", "created_at", "id"),
        # One classification per completed run: a retried completion finds it.
        UniqueConstraint("journey_id", name="uq_classifications_journey"),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = ref("users.id")
    onboarding_id: uuid.UUID = ref("onboardings.id")
    journey_id: uuid.UUID = ref("onboarding_journeys.id")
    # [{"questionKey": ..., "values": [...]}] as given (validated).
    responses: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    segment_key: str = Field(sa_column=Column(String(64), nullable=False))
    # The result as computed then: {"segment": {...}, "scores": [...], "reasons": [...],
    # "insight": ..., "recommendedJourneys": [journey ids]} (the form may change later).
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = timestamp_now()


class OnboardingVersion(SQLModel, table=True):
    """A published snapshot of an onboarding's fields and form (app/versions/); never changed but for ``live``."""

    __tablename__ = "onboarding_versions"
    __table_args__ = (
        Index(
            "ix_onboarding_versions_listing", "tenant_id", "created_at", "onboarding_id", postgresql_where=text("live")
        ),
    )

    onboarding_id: uuid.UUID = columns.definition_key("onboardings")
    version: int = columns.key_part(uuid=False)
    tenant_id: uuid.UUID = tenant_fk()
    slug: str = Field(sa_column=Column(String(64), nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    xp_reward: int = Field(sa_column=Column(Integer, nullable=False))
    form: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = columns.instant()
    published_at: datetime = columns.instant()
    content_hash: str = columns.content_hash()
    live: bool = columns.live()


class OnboardingStepVersion(SQLModel, table=True):
    """A step as it is in one published version of its onboarding; ``id`` is the step's own."""

    __tablename__ = "onboarding_step_versions"
    __table_args__ = (
        columns.version_of("onboarding_versions", "onboarding_id"),
        Index("ix_onboarding_step_versions_position", "onboarding_id", "version", "position"),
        Index("ix_onboarding_step_versions_step", "id"),
    )

    onboarding_id: uuid.UUID = columns.key_part(uuid=True)
    version: int = columns.key_part(uuid=False)
    id: uuid.UUID = columns.key_part(uuid=True)
    tenant_id: uuid.UUID = tenant_fk()
    position: int = Field(sa_column=Column(Integer, nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    metadata_: dict[str, Any] = json_object()
