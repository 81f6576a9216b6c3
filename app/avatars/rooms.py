"""The bookkeeping of a session's LiveKit room: ending a session, and deleting its room
with the outcome recorded, so a failed deletion is retried (by ``reconcile.py``) with backoff."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.avatars.livekit import LiveKit, LiveKitError
from app.avatars.models import AvatarSession, AvatarSessionStatus
from app.avatars.units import UnitRunner
from app.errors import NotFound
from app.modelbase import utcnow
from app.realtime.outbox import EventType, record_event

log = logging.getLogger(__name__)

CLEANUP_BACKOFF = timedelta(seconds=5)
CLEANUP_MAX_BACKOFF = timedelta(minutes=15)
# After this many failed deletions the room is left to LiveKit's empty timeout.
CLEANUP_MAX_ATTEMPTS = 20


def cleanup_backoff(attempts: int) -> timedelta:
    """How long to wait before retrying a room deletion that failed ``attempts`` times."""
    return min(CLEANUP_BACKOFF * (1 << min(max(attempts - 1, 0), 16)), CLEANUP_MAX_BACKOFF)


def session_data(session: AvatarSession, **extra: Any) -> dict[str, Any]:
    """The data of a session's events."""
    return {
        "sessionId": str(session.id),
        "avatarId": str(session.avatar_id),
        "mode": session.mode.value,
        "status": session.status.value,
        "roomName": session.livekit_room_name,
        **extra,
    }


def mark_ended(session: AsyncSession, row: AvatarSession, *, reason: str, room_open: bool) -> None:
    """End an ACTIVE session and record it once; ``room_open`` leaves its room's deletion pending."""
    now = utcnow()
    row.status = AvatarSessionStatus.ENDED
    row.ended_at = now
    row.end_reason = reason
    row.updated_at = now
    if room_open:
        row.room_cleanup_pending = True
        row.room_cleanup_after = now
    record_event(
        session,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        type=EventType.AVATAR_SESSION_ENDED,
        data=session_data(row, reason=reason, endedAt=now.isoformat()),
    )


async def lock_session(session: AsyncSession, session_id: uuid.UUID) -> AvatarSession | None:
    """A session by id, locked for this transaction and freshly read."""
    return (
        await session.execute(
            select(AvatarSession)
            .where(col(AvatarSession.id) == session_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _cleanup_outcome(session: AsyncSession, session_id: uuid.UUID, *, deleted: bool) -> AvatarSession:
    row = await lock_session(session, session_id)
    if row is None:
        raise NotFound("Avatar session", field=["id"])
    if not row.room_cleanup_pending:
        return row
    now = utcnow()
    if deleted:
        row.room_cleanup_pending = False
        row.room_cleanup_after = None
    else:
        row.room_cleanup_attempts += 1
        if row.room_cleanup_attempts >= CLEANUP_MAX_ATTEMPTS:
            log.error(
                "giving up deleting LiveKit room %s after %d attempts", row.livekit_room_name, CLEANUP_MAX_ATTEMPTS
            )
            row.room_cleanup_pending = False
            row.room_cleanup_after = None
        else:
            row.room_cleanup_after = now + cleanup_backoff(row.room_cleanup_attempts)
    row.updated_at = now
    await session.flush()
    return row


async def delete_room(
    run: UnitRunner, livekit: LiveKit, *, session_id: uuid.UUID, room_name: str
) -> tuple[AvatarSession, bool]:
    """Delete a session's room (one already gone is fine) and record the outcome: the
    session, and whether the room is gone."""
    try:
        await livekit.delete_room(room_name)
        deleted = True
    except LiveKitError as exc:
        log.warning("could not delete LiveKit room %s (will retry): %s", room_name, exc)
        deleted = False
    return await run(lambda s: _cleanup_outcome(s, session_id, deleted=deleted)), deleted
