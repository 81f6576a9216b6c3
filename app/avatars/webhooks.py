"""`POST /webhooks/livekit`: LiveKit's signed room events.

LiveKit signs each delivery with a JWT (our API key and secret) in the Authorization header
whose ``sha256`` claim is the body's hash; anything else is refused with 401 before the
database is touched. Each event id is stored in the transaction that applies it, so a
redelivery (LiveKit retries until it gets a 2xx) is recognised and changes nothing.
``room_finished`` ends the session of that room.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.avatars.livekit import WebhookMalformed, WebhookRejected

if TYPE_CHECKING:
    from livekit.api import WebhookEvent
from app.avatars.models import AvatarSession, AvatarSessionStatus, LiveKitWebhookDelivery
from app.avatars.reconcile import runtime_runner
from app.avatars.rooms import lock_session, mark_ended
from app.runtime import Runtime

log = logging.getLogger(__name__)

DELIVERIES = LiveKitWebhookDelivery.__table__  # type: ignore[attr-defined]


async def _first_delivery(session: AsyncSession, event: WebhookEvent) -> bool:
    if not event.id:
        return True
    inserted = await session.execute(
        insert(DELIVERIES)
        .values(id=event.id[:128], event=event.event[:64], room_name=event.room.name[:128] or None)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(DELIVERIES.c.id)
    )
    return inserted.first() is not None


async def _room_finished(session: AsyncSession, room_name: str) -> str:
    session_id = (
        await session.execute(select(AvatarSession.id).where(col(AvatarSession.livekit_room_name) == room_name))
    ).scalar_one_or_none()
    row = await lock_session(session, session_id) if session_id is not None else None
    if row is None:
        return "ignored"
    if row.status is AvatarSessionStatus.ACTIVE:
        mark_ended(session, row, reason="room_finished", room_open=False)
        await session.flush()
        return "ended"
    if row.room_cleanup_pending:
        # The room a failed delete left behind has closed: nothing to retry.
        row.room_cleanup_pending = False
        row.room_cleanup_after = None
        await session.flush()
    return "ignored"


async def apply_event(session: AsyncSession, event: WebhookEvent) -> str:
    """Apply one verified event: "duplicate", "ended" or "ignored"."""
    if not await _first_delivery(session, event):
        return "duplicate"
    if event.event == "room_finished" and event.room.name:
        return await _room_finished(session, event.room.name)
    return "ignored"


async def livekit_webhook(request: Request) -> Response:
    """The webhook endpoint."""
    runtime: Runtime = request.app.state.runtime
    if runtime.livekit is None:
        return JSONResponse({"error": "LiveKit is not configured"}, status_code=503)
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        event = runtime.livekit.receive_webhook(body, request.headers.get("authorization"))
    except WebhookRejected as exc:
        log.warning("refused a LiveKit webhook: %s", exc)
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    except WebhookMalformed:
        return JSONResponse({"error": "not a LiveKit webhook event"}, status_code=400)
    outcome = await runtime_runner(runtime)(lambda s: apply_event(s, event))
    return JSONResponse({"status": outcome})
