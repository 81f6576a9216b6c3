"""Tenants, their users and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.modelbase import tenant_fk, timestamp, timestamp_now, uuid_pk

DEFAULT_LEVEL_THRESHOLDS = [0, 100, 250, 500, 1000, 2000, 4000, 8000]


class Tenant(SQLModel, table=True):
    """An organisation using Journeys; every other row belongs to one."""

    __tablename__ = "tenants"

    id: uuid.UUID = uuid_pk()
    slug: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    timezone: str = Field(default="UTC", sa_column=Column(String(64), nullable=False, server_default="UTC"))
    level_thresholds: list[int] = Field(
        default_factory=lambda: list(DEFAULT_LEVEL_THRESHOLDS),
        sa_column=Column(
            JSONB,
            nullable=False,
            server_default=text("'[0, 100, 250, 500, 1000, 2000, 4000, 8000]'::jsonb"),
        ),
    )
    created_at: datetime = timestamp_now()


class User(SQLModel, table=True):
    """A person of a tenant, known by the tenant's own id for them; created on first sight."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id", name="uq_users_tenant_external"),
        Index("ix_users_tenant_created", "tenant_id", "created_at", "id"),
        # Serves `users(search:)`, a LIKE 'prefix%' whatever the database's collation.
        Index(
            "ix_users_tenant_external_prefix",
            "tenant_id",
            "external_id",
            postgresql_ops={"external_id": "varchar_pattern_ops"},
        ),
    )

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    external_id: str = Field(sa_column=Column(String(200), nullable=False))
    timezone: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = timestamp_now()
    # The role of the user's latest credential and about when they last used the API (both
    # written at most once a minute, app/tenancy/last_seen.py); never seen: `user` and null.
    role: str = Field(default="user", sa_column=Column(String(16), nullable=False, server_default="user"))
    last_seen_at: datetime | None = timestamp()


class ApiKey(SQLModel, table=True):
    """A tenant API key; only a hash of its secret is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant", "tenant_id", "created_at"),)

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    name: str = Field(sa_column=Column(String(200), nullable=False))
    key_id: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    secret_hash: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = timestamp_now()
    revoked_at: datetime | None = timestamp()
    last_used_at: datetime | None = timestamp()
