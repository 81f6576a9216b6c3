"""The XP ledger, rewards authored by admins, and the rewards users have unlocked."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from app.modelbase import ref, tenant_fk, timestamp_now, uuid_pk

XP_IDEMPOTENCY_UNIQUE = "uq_xp_entries_idempotency"


class XpEntry(SQLModel, table=True):
    """One award of XP. The idempotency key makes every award happen at most once."""

    __tablename__ = "xp_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key", name=XP_IDEMPOTENCY_UNIQUE),
        CheckConstraint("amount > 0", name="ck_xp_entries_amount_positive"),
        Index("ix_xp_entries_user_created", "tenant_id", "user_id", "created_at", "id"),
        Index(
            "ix_xp_entries_user_resource",
            "tenant_id",
            "user_id",
            "resource_type",
            "resource_id",
            "created_at",
            "id",
        ),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = ref("users.id")
    amount: int = Field(sa_column=Column(Integer, nullable=False))
    reason: str = Field(sa_column=Column(String(200), nullable=False))
    resource_type: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Text, so ids of any resource fit (UUIDs, slugs, external ids).
    resource_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = timestamp_now()


class Reward(SQLModel, table=True):
    """Something a user unlocks by reaching a level, overall or within one resource."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("required_level >= 1", name="ck_rewards_required_level"),
        Index("ix_rewards_listing", "tenant_id", "active", "required_level", "title", "id"),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    title: str = Field(sa_column=Column(String(200), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    image_url: str | None = Field(default=None, sa_column=Column(String(2048), nullable=True))
    required_level: int = Field(sa_column=Column(Integer, nullable=False))
    # Null: unlocked by the overall level; else by the level of this resource's XP only.
    resource_type: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    resource_id: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()


class RewardUnlock(SQLModel, table=True):
    """When a user unlocked a reward (at most once)."""

    __tablename__ = "reward_unlocks"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "reward_id", name="pk_reward_unlocks"),
        Index("ix_reward_unlocks_reward", "reward_id"),
    )

    tenant_id: uuid.UUID = tenant_fk()
    user_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    reward_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("rewards.id", ondelete="CASCADE"), nullable=False)
    )
    unlocked_at: datetime = timestamp_now()
