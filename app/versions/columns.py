"""The columns every kind's version tables have (app/catalog/models.py, app/onboarding/models.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, ForeignKeyConstraint, Integer, String
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field


def definition_key(definitions: str) -> Any:
    """A version's definition: the first part of its key, a reference to ``definitions.id``."""
    return Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey(f"{definitions}.id", ondelete="CASCADE"), primary_key=True)
    )


def key_part(*, uuid: bool) -> Any:
    """Another part of a version's or a version item's key (a UUID, or the version's number)."""
    return Field(sa_column=Column(UUID(as_uuid=True) if uuid else Integer, primary_key=True))


def instant() -> Any:
    """A required timestamp (copied from the draft, or the publication)."""
    return Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def content_hash() -> Any:
    """The md5 of the content the version snapshots (app/versions/publish.py)."""
    return Field(sa_column=Column(String(32), nullable=False))


def live() -> Any:
    """Whether users list this version: the latest one of a published definition."""
    return Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))


def version_of(versions: str, parent: str) -> ForeignKeyConstraint:
    """A version item's reference to its version ``(parent, version)`` in ``versions``."""
    return ForeignKeyConstraint(
        [parent, "version"], [f"{versions}.{parent}", f"{versions}.version"], ondelete="CASCADE"
    )
