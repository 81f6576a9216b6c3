"""Avatar sessions: a user's conversation with an avatar in a LiveKit room of its own.

No LiveKit call runs inside a database transaction (see ``units.py``). Starting a session
checks the avatar in one unit of work, creates the room, then stores the session in another;
ending one marks it ENDED with its room's deletion pending, deletes the room, then records
the outcome (``rooms.py``). Whatever fails in between leaves a row that the reconciliation
pass (``reconcile.py``) finishes: a pending room deletion is retried with backoff, and an
ACTIVE session whose room is gone is ended.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.avatars.livekit import LiveKit, LiveKitError
from app.avatars.models import Avatar, AvatarMode, AvatarSession, AvatarSessionStatus, AvatarStatus
from app.avatars.rooms import delete_room, lock_session, mark_ended, session_data
from app.avatars.units import UnitRunner
from app.errors import DomainError, ErrorCode, NotFound, Problems
from app.modelbase import utcnow
from app.realtime.outbox import EventType, record_event
from app.tenancy.models import User

log = logging.getLogger(__name__)

ROOM_PREFIX = "avatar-"
# LiveKit closes a room this long after its last participant left (or if nobody ever joins).
EMPTY_TIMEOUT_SECONDS = 300
# The user, the avatar's agent and the avatar's video worker.
MAX_PARTICIPANTS = 3
TOKEN_TTL = timedelta(hours=1)
MAX_DEVICE_ID = 200
# What the user may publish in each mode (LiveKit track sources).
SOURCES = {AvatarMode.VOICE: ("microphone",), AvatarMode.VIDEO: ("microphone", "camera")}


@dataclass(frozen=True)
class StartedSession:
    """A session just started, with what the client needs to join its room."""

    session: AvatarSession
    token: str
    livekit_url: str


def client_url(url: str) -> str:
    """The LiveKit URL as client SDKs take it (websocket schemes)."""
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if url.startswith(http):
            return ws + url[len(http) :]
    return url


async def _available_avatar(
    session: AsyncSession, *, tenant_id: uuid.UUID, avatar_id: uuid.UUID, mode: AvatarMode
) -> Avatar:
    avatar = (
        await session.execute(select(Avatar).where(col(Avatar.id) == avatar_id, col(Avatar.tenant_id) == tenant_id))
    ).scalar_one_or_none()
    if avatar is None:
        raise NotFound("Avatar", field=["input", "avatarId"])
    if avatar.status is not AvatarStatus.ACTIVE:
        raise DomainError(ErrorCode.UNAVAILABLE, "This avatar is not available", field=["input", "avatarId"])
    if mode.value not in avatar.modes:
        raise DomainError(ErrorCode.UNAVAILABLE, f"This avatar does not offer {mode.value}", field=["input", "mode"])
    return avatar


async def _store_active(session: AsyncSession, fields: dict[str, Any], room_sid: str) -> AvatarSession:
    row = AvatarSession(**fields, livekit_room_sid=room_sid, status=AvatarSessionStatus.ACTIVE)
    session.add(row)
    await session.flush()
    record_event(
        session,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        type=EventType.AVATAR_SESSION_STARTED,
        data=session_data(row),
    )
    return row


async def _store_failed(session: AsyncSession, fields: dict[str, Any]) -> AvatarSession:
    # The room's creation may yet complete (a timeout), so its deletion stays pending.
    now = utcnow()
    row = AvatarSession(
        **fields,
        status=AvatarSessionStatus.FAILED,
        end_reason="upstream_failed",
        ended_at=now,
        room_cleanup_pending=True,
        room_cleanup_after=now,
    )
    session.add(row)
    await session.flush()
    return row


async def _keep_failure(run: UnitRunner, fields: dict[str, Any]) -> None:
    try:
        await run(lambda s: _store_failed(s, fields))
    except Exception:  # the database failing too must not hide the LiveKit failure
        log.exception("could not record failed avatar session %s", fields["id"])


async def start_session(
    run: UnitRunner,
    *,
    livekit: LiveKit | None,
    tenant_id: uuid.UUID,
    user: User,
    avatar_id: uuid.UUID,
    mode: AvatarMode,
    device_id: str | None = None,
    is_authenticated: bool | None = None,
) -> StartedSession:
    """Create a LiveKit room for the user and the avatar, and a token to join it."""
    if device_id is not None and len(device_id) > MAX_DEVICE_ID:
        problems = Problems("input")
        problems.add("deviceId", f"must be at most {MAX_DEVICE_ID} characters")
        problems.raise_if_any()
    if livekit is None:
        raise DomainError(ErrorCode.NOT_CONFIGURED, "Avatar sessions are not available: LiveKit is not configured")
    avatar = await run(lambda s: _available_avatar(s, tenant_id=tenant_id, avatar_id=avatar_id, mode=mode))
    session_id = uuid.uuid4()
    metadata: dict[str, Any] = {}
    if device_id is not None:
        metadata["deviceId"] = device_id
    if is_authenticated is not None:
        metadata["isAuthenticated"] = is_authenticated
    fields: dict[str, Any] = {
        "id": session_id,
        "tenant_id": tenant_id,
        "user_id": user.id,
        "avatar_id": avatar.id,
        # Unique per session: a reused name could hand back a room that is still closing.
        "livekit_room_name": f"{ROOM_PREFIX}{session_id}",
        "mode": mode,
        "metadata_": metadata,
    }
    room_metadata = {
        "service": "journeys",
        "tenantId": str(tenant_id),
        "sessionId": str(session_id),
        "userId": str(user.id),
        "avatarId": str(avatar.id),
        "provider": avatar.provider,
        "mode": mode.value,
    }
    try:
        room = await livekit.create_room(
            name=fields["livekit_room_name"],
            empty_timeout=EMPTY_TIMEOUT_SECONDS,
            max_participants=MAX_PARTICIPANTS,
            metadata=room_metadata,
        )
    except LiveKitError as exc:
        log.warning("avatar session %s: LiveKit failed: %s", session_id, exc)
        await _keep_failure(run, fields)
        raise DomainError(ErrorCode.UPSTREAM_FAILED, "LiveKit could not create the room; please try again") from None
    try:
        stored = await run(lambda s: _store_active(s, fields, room.sid))
    except Exception:
        # Leave no room behind for a session that does not exist.
        try:
            await livekit.delete_room(room.name)
        except LiveKitError as exc:
            log.warning("avatar session %s: could not delete its room: %s", session_id, exc)
            await _keep_failure(run, fields)
        raise
    token = livekit.participant_token(
        room=room.name,
        identity=str(user.id),
        name=user.external_id,
        metadata={"tenantId": str(tenant_id), "sessionId": str(session_id), "avatarId": str(avatar.id)},
        ttl=TOKEN_TTL,
        sources=SOURCES[mode],
    )
    return StartedSession(session=stored, token=token, livekit_url=client_url(livekit.url))


async def _end_visible(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, is_admin: bool, session_id: uuid.UUID
) -> tuple[AvatarSession, bool]:
    row = await lock_session(session, session_id)
    if row is None or row.tenant_id != tenant_id or (row.user_id != user_id and not is_admin):
        raise NotFound("Avatar session", field=["id"])
    if row.status is not AvatarSessionStatus.ACTIVE:
        return row, False
    mark_ended(session, row, reason="user", room_open=True)
    await session.flush()
    return row, True


async def end_session(
    run: UnitRunner,
    *,
    livekit: LiveKit | None,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    is_admin: bool,
    session_id: uuid.UUID,
) -> AvatarSession:
    """End a session and delete its room; ending an ended session returns it unchanged."""
    row, ended = await run(
        lambda s: _end_visible(s, tenant_id=tenant_id, user_id=user_id, is_admin=is_admin, session_id=session_id)
    )
    if not ended or livekit is None:
        return row
    row, _deleted = await delete_room(run, livekit, session_id=row.id, room_name=row.livekit_room_name)
    return row


async def visible_session(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, is_admin: bool, session_id: uuid.UUID
) -> AvatarSession | None:
    """The session if it is the user's own (any of the tenant's for admins), else None."""
    query = select(AvatarSession).where(col(AvatarSession.id) == session_id, col(AvatarSession.tenant_id) == tenant_id)
    if not is_admin:
        query = query.where(col(AvatarSession.user_id) == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def sessions_by_ids(
    session: AsyncSession, *, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AvatarSession]:
    """The tenant's sessions with these ids."""
    result = await session.execute(
        select(AvatarSession).where(col(AvatarSession.tenant_id) == tenant_id, col(AvatarSession.id).in_(ids))
    )
    return {s.id: s for s in result.scalars()}
