"""Bringing avatar sessions and LiveKit's rooms back in line, periodically.

One pass retries the room deletions still pending (failed deletes, and rooms whose creation
timed out), ends ACTIVE sessions whose room LiveKit no longer has (RoomService ListRooms),
and forgets webhook ids old enough that LiveKit no longer redelivers them. Several workers
may run it at once: due deletions are claimed with a lease, and sessions are ended under a
row lock after a re-check, so each is ended (and announced) once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.avatars.livekit import LiveKit, LiveKitError
from app.avatars.models import AvatarSession, AvatarSessionStatus, LiveKitWebhookDelivery
from app.avatars.rooms import delete_room, mark_ended
from app.avatars.units import UnitRunner, in_transactions
from app.modelbase import utcnow
from app.realtime.outbox import take_committed
from app.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 100
# A claimed deletion is not handed to another worker for this long.
CLAIM_LEASE = timedelta(minutes=2)
WEBHOOK_IDS_KEPT = timedelta(days=7)


@dataclass
class ReconcileReport:
    """What one pass did."""

    rooms_deleted: int = 0
    deletions_failed: int = 0
    sessions_ended: int = 0
    listing_failed: bool = False


async def _claim_cleanups(session: AsyncSession, *, now: datetime, limit: int) -> list[tuple[uuid.UUID, str]]:
    rows = list(
        (
            await session.execute(
                select(AvatarSession)
                .where(col(AvatarSession.room_cleanup_pending), col(AvatarSession.room_cleanup_after) <= now)
                .order_by(col(AvatarSession.room_cleanup_after))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    for row in rows:
        row.room_cleanup_after = now + CLAIM_LEASE
    await session.flush()
    return [(row.id, row.livekit_room_name) for row in rows]


async def _active_rooms(session: AsyncSession, *, after: uuid.UUID | None, limit: int) -> list[tuple[uuid.UUID, str]]:
    query = select(AvatarSession.id, AvatarSession.livekit_room_name).where(
        col(AvatarSession.status) == AvatarSessionStatus.ACTIVE
    )
    if after is not None:
        query = query.where(col(AvatarSession.id) > after)
    rows = await session.execute(query.order_by(col(AvatarSession.id)).limit(limit))
    return [(row[0], row[1]) for row in rows]


async def _end_gone(session: AsyncSession, ids: list[uuid.UUID]) -> int:
    rows = (
        await session.execute(
            select(AvatarSession)
            .where(col(AvatarSession.id).in_(ids), col(AvatarSession.status) == AvatarSessionStatus.ACTIVE)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
    ).scalars()
    count = 0
    for row in rows:
        mark_ended(session, row, reason="room_gone", room_open=False)
        count += 1
    await session.flush()
    return count


async def _forget_webhook_ids(session: AsyncSession, *, before: datetime) -> None:
    await session.execute(delete(LiveKitWebhookDelivery).where(col(LiveKitWebhookDelivery.received_at) < before))


async def reconcile_once(
    run: UnitRunner, livekit: LiveKit, *, now: datetime | None = None, batch: int = BATCH
) -> ReconcileReport:
    """One reconciliation pass (``now`` decides which retries are due)."""
    now = now or utcnow()
    report = ReconcileReport()

    for session_id, room_name in await run(partial(_claim_cleanups, now=now, limit=batch)):
        _row, deleted = await delete_room(run, livekit, session_id=session_id, room_name=room_name)
        if deleted:
            report.rooms_deleted += 1
        else:
            report.deletions_failed += 1

    after: uuid.UUID | None = None
    while True:
        active = await run(partial(_active_rooms, after=after, limit=batch))
        if not active:
            break
        try:
            existing = await livekit.existing_rooms([name for _, name in active])
        except LiveKitError as exc:
            log.warning("could not list LiveKit rooms: %s", exc)
            report.listing_failed = True
            break
        gone = [session_id for session_id, name in active if name not in existing]
        if gone:
            report.sessions_ended += await run(partial(_end_gone, ids=gone))
        after = active[-1][0]

    await run(partial(_forget_webhook_ids, before=now - WEBHOOK_IDS_KEPT))
    return report


async def reconcile_forever(run: UnitRunner, livekit: LiveKit, *, interval: float) -> None:
    """Run a pass every ``interval`` seconds until cancelled; a failed pass is logged and retried."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await reconcile_once(run, livekit)
        except Exception:
            log.exception("avatar session reconciliation failed")
            continue
        if report.rooms_deleted or report.deletions_failed or report.sessions_ended:
            log.info("avatar session reconciliation: %s", report)


def runtime_runner(runtime: Runtime) -> UnitRunner:
    """Units of work outside requests, whose events are announced as a request's are."""
    return in_transactions(runtime.sessions, after_commit=lambda s: runtime.realtime.announce(take_committed(s)))


class Reconciler:
    """The periodic pass as a background task of the app's lifespan."""

    def __init__(self, run: UnitRunner, livekit: LiveKit, *, interval: float) -> None:
        self.run = run
        self.livekit = livekit
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Reconciler | None:
        """The runtime's reconciler; None without LiveKit or with the interval set to 0 (off)."""
        interval = runtime.settings.livekit_reconcile_interval
        if runtime.livekit is None or interval <= 0:
            return None
        return cls(runtime_runner(runtime), runtime.livekit, interval=interval)

    def start(self) -> None:
        self._task = asyncio.create_task(
            reconcile_forever(self.run, self.livekit, interval=self.interval), name="avatar reconciliation"
        )

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
