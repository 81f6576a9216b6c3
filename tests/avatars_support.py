"""Factories and readers shared by the avatar service and API tests."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from app.avatars.authoring import AvatarFields, create_avatar
from app.avatars.models import Avatar, AvatarSession
from app.tenancy.models import Tenant


async def make_avatar(
    db: Any,
    tenant: Tenant,
    *,
    modes: tuple[str, ...] = ("VOICE", "VIDEO"),
    status: str = "ACTIVE",
    name: str | None = None,
) -> Avatar:
    async with db() as session:
        return await create_avatar(
            session,
            tenant_id=tenant.id,
            values=AvatarFields(
                name=name or f"Avatar {uuid.uuid4().hex[:6]}",
                provider="tavus",
                modes=list(modes),
                status=status,
                metadata={"voice": "warm"},
            ),
        )


async def sessions(db: Any) -> list[AvatarSession]:
    """Every stored avatar session, oldest first."""
    async with db() as session:
        rows = await session.execute(text("SELECT id FROM avatar_sessions ORDER BY created_at, id"))
        ids = list(rows.scalars())
        found = [await session.get(AvatarSession, i) for i in ids]
        return [row for row in found if row is not None]


async def session_row(db: Any, session_id: uuid.UUID) -> AvatarSession:
    async with db() as session:
        row = await session.get(AvatarSession, session_id)
        assert row is not None
        return row


async def event_types(db: Any) -> list[str]:
    """The avatar session events recorded, oldest first."""
    async with db() as session:
        rows = await session.execute(
            text("SELECT type FROM outbox_events WHERE type LIKE 'avatar_session.%' ORDER BY id")
        )
        return list(rows.scalars())


async def event_data(db: Any, type: str) -> list[dict[str, Any]]:
    async with db() as session:
        rows = await session.execute(text("SELECT data FROM outbox_events WHERE type = :t ORDER BY id"), {"t": type})
        return list(rows.scalars())
