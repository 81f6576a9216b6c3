"""AI avatars authored by admins, users' sessions with them in LiveKit rooms, and the
LiveKit webhook deliveries already processed."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, false, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.modelbase import json_object, ref, tenant_fk, timestamp, timestamp_now, uuid_pk


class AvatarStatus(str, Enum):
    """Whether users can start sessions with an avatar."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class AvatarMode(str, Enum):
    """How a user talks with an avatar."""

    VOICE = "VOICE"
    VIDEO = "VIDEO"


class AvatarSessionStatus(str, Enum):
    """ACTIVE while the room is open; ENDED once closed; FAILED when LiveKit refused the room."""

    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    FAILED = "FAILED"


class Avatar(SQLModel, table=True):
    """An AI avatar users can talk with in a LiveKit room."""

    __tablename__ = "avatars"
    __table_args__ = (Index("ix_avatars_listing", "tenant_id", "status", "created_at", "id"),)

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    name: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    provider: str = Field(sa_column=Column(String(64), nullable=False))
    status: AvatarStatus = Field(
        default=AvatarStatus.ACTIVE,
        sa_column=Column(SAEnum(AvatarStatus, name="avatar_status"), nullable=False),
    )
    # AvatarMode values; a plain text array (an enum array needs casts on every comparison).
    modes: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(16)), nullable=False, server_default="{}")
    )
    metadata_: dict[str, Any] = json_object()
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()


class AvatarSession(SQLModel, table=True):
    """A user's session with an avatar, in a LiveKit room of its own.

    ``room_cleanup_pending`` marks a room that may still exist in LiveKit although the session
    is over (a failed delete, or a create whose outcome is unknown); the reconciliation task
    deletes it and clears the flag, retrying after ``room_cleanup_after`` with backoff.
    """

    __tablename__ = "avatar_sessions"
    __table_args__ = (
        Index("ix_avatar_sessions_user", "tenant_id", "user_id", "created_at", "id"),
        Index("uq_avatar_sessions_room_name", "livekit_room_name", unique=True),
        Index("ix_avatar_sessions_active", "status", postgresql_where=text("status = 'ACTIVE'")),
        Index(
            "ix_avatar_sessions_cleanup",
            "room_cleanup_after",
            postgresql_where=text("room_cleanup_pending"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = ref("users.id")
    avatar_id: uuid.UUID = ref("avatars.id")
    livekit_room_name: str = Field(sa_column=Column(String(128), nullable=False))
    livekit_room_sid: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    mode: AvatarMode = Field(sa_column=Column(SAEnum(AvatarMode, name="avatar_mode"), nullable=False))
    status: AvatarSessionStatus = Field(
        default=AvatarSessionStatus.ACTIVE,
        sa_column=Column(SAEnum(AvatarSessionStatus, name="avatar_session_status"), nullable=False),
    )
    # Why it ended: "user", "room_finished" (webhook), "room_gone" (reconciliation), "upstream_failed".
    end_reason: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    started_at: datetime = timestamp_now()
    ended_at: datetime | None = timestamp()
    room_cleanup_pending: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    room_cleanup_attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    room_cleanup_after: datetime | None = timestamp()
    metadata_: dict[str, Any] = json_object()
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()


class LiveKitWebhookDelivery(SQLModel, table=True):
    """A LiveKit webhook event already processed, by its id: redeliveries are ignored."""

    __tablename__ = "livekit_webhook_events"
    __table_args__ = (Index("ix_livekit_webhook_events_received", "received_at"),)

    id: str = Field(sa_column=Column(String(128), primary_key=True))
    event: str = Field(sa_column=Column(String(64), nullable=False))
    room_name: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    received_at: datetime = timestamp_now()
