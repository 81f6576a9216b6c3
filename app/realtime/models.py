"""The event store: every change's event, kept in the change's own transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from app.modelbase import tenant_fk, timestamp_now


class OutboxEvent(SQLModel, table=True):
    """One recorded event. Ids grow in commit order within a tenant (see outbox.py)."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_tenant_id", "tenant_id", "id"),
        Index("ix_outbox_events_tenant_user_id", "tenant_id", "user_id", "id"),
        Index("ix_outbox_events_occurred_at", "occurred_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    occurred_at: datetime = timestamp_now()


class AblyCursor(SQLModel, table=True):
    """How far the Ably mirror has published a tenant's events (see app/realtime/ably.py).

    Each mirror process claims a tenant by locking its row (FOR UPDATE SKIP LOCKED), so one
    process at a time publishes a tenant's next batch, in id order.
    """

    __tablename__ = "ably_cursors"

    tenant_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    )
    last_event_id: int = Field(sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
