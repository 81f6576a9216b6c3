"""Delivering stored events to this process's subscribers, in order, with nothing lost.

The event store is the truth; broadcaster only carries wake-ups. After a commit, ``announce``
hands the committed events to a background publisher, which sends each affected channel the
latest event id (any message on a channel means "read the store for this channel now").

Per channel with local subscribers, one :class:`ChannelHub` holds ``last_seen`` (the id of
the last event it delivered) and its subscribers' inboxes. On a wake-up it reads the channel's
events with ``id > last_seen`` — one query per wake-up, shared by every local subscriber — and
pushes them in id order under its lock. A subscription with ``after`` replays the store up to
the hub's position and joins the hub under that same lock, so there is no gap and no duplicate
at the seam; each subscription also skips any id not above the last one it delivered.

Wake-ups can be lost (a publish that failed, a process that died between commit and publish,
a broadcast connection being re-established); a periodic sweep finds channels whose recent
events are newer than their hub's position and wakes them. A subscriber that falls too far
behind is detached from its hub and catches up from the store on its own, then rejoins, so a
slow consumer never holds up the others or grows memory without bound. A periodic prune
keeps the store to its retention (events are kept at least 7 days).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from broadcaster import Broadcast
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionFactory, transaction
from app.modelbase import utcnow
from app.realtime import store
from app.realtime.hub import INBOX_LIMIT, READ_BATCH, ChannelHub, Inbox, RealtimeStopped
from app.realtime.outbox import CommittedEvent
from app.realtime.store import Channel, StoredEvent, channels_of

log = logging.getLogger("app.realtime")

RETENTION = timedelta(days=7)
SWEEP_WINDOW = timedelta(minutes=5)
PRUNE_INTERVAL = 3600.0
OUTGOING_LIMIT = 10_000
PUBLISH_TIMEOUT = 5.0
CONCURRENT_READS = 8


class Realtime:
    """The process's realtime delivery: announcing commits, hubs per channel, sweep and prune."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        broadcast: Broadcast,
        sweep_interval: float = 2.0,
        sweep_window: timedelta = SWEEP_WINDOW,
        retention: timedelta = RETENTION,
        prune_interval: float = PRUNE_INTERVAL,
        inbox_limit: int = INBOX_LIMIT,
    ) -> None:
        self.sessions = sessions
        self.broadcast = broadcast
        self.sweep_interval = sweep_interval
        self.sweep_window = sweep_window
        self.retention = retention
        self.prune_interval = prune_interval
        self.inbox_limit = inbox_limit
        self.hubs: dict[str, ChannelHub] = {}
        self._closing: dict[str, asyncio.Task[None]] = {}
        self._outgoing: asyncio.Queue[Sequence[CommittedEvent]] = asyncio.Queue(maxsize=OUTGOING_LIMIT)
        self._reads = asyncio.Semaphore(CONCURRENT_READS)
        self._tasks: list[asyncio.Task[None]] = []
        self.running = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect the broadcast and start the publisher, the sweep and the prune."""
        await self.broadcast.connect()
        self.running = True
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="realtime publisher"),
            asyncio.create_task(self._sweep_loop(), name="realtime sweep"),
            asyncio.create_task(self._prune_loop(), name="realtime prune"),
        ]

    async def stop(self) -> None:
        """End every subscription, flush pending wake-ups briefly, disconnect the broadcast."""
        if not self.running:
            return
        self.running = False
        with suppress(TimeoutError):
            await asyncio.wait_for(self._outgoing.join(), timeout=1.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        hubs, self.hubs = list(self.hubs.values()), {}
        for hub in hubs:
            await hub.close()
        for task in list(self._closing.values()):
            with suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.broadcast.disconnect()
        except Exception:
            log.warning("disconnecting the realtime broadcast failed", exc_info=True)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.warning("realtime sweep failed", exc_info=True)

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:
                log.warning("pruning realtime events failed", exc_info=True)
            await asyncio.sleep(self.prune_interval)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session; a few at a time, so a burst of wake-ups cannot drain the pool."""
        async with self._reads, self.sessions() as session:
            yield session

    # ------------------------------------------------------------------ announcing

    def announce(self, events: Sequence[CommittedEvent]) -> None:
        """Tell every process about committed events. Never blocks, never raises."""
        if not events or not self.running:
            return
        try:
            for event in events:
                for channel in channels_of(event.tenant_id, event.user_id):
                    hub = self.hubs.get(channel.name)
                    if hub is not None:
                        hub.on_message(event.id)
            self._outgoing.put_nowait(list(events))
        except asyncio.QueueFull:
            log.warning("realtime wake-up queue full; the sweep will deliver %d event(s)", len(events))
        except Exception:
            log.exception("announcing realtime events failed")

    async def _publish_loop(self) -> None:
        while True:
            batches = [await self._outgoing.get()]
            while not self._outgoing.empty():
                batches.append(self._outgoing.get_nowait())
            try:
                # One wake-up per channel carries the latest id: receivers read everything after their position.
                latest: dict[str, int] = {}
                for batch in batches:
                    for event in batch:
                        for channel in channels_of(event.tenant_id, event.user_id):
                            latest[channel.name] = max(latest.get(channel.name, 0), event.id)
                for name, event_id in latest.items():
                    try:
                        await asyncio.wait_for(self.broadcast.publish(name, str(event_id)), PUBLISH_TIMEOUT)
                    except Exception:
                        log.warning("publishing a realtime wake-up to %s failed", name, exc_info=True)
            finally:
                for _ in batches:
                    self._outgoing.task_done()

    # ------------------------------------------------------------------ subscribing

    def _acquire(self, channel: Channel) -> ChannelHub:
        if not self.running:
            raise RealtimeStopped
        hub = self.hubs.get(channel.name)
        if hub is None:
            hub = ChannelHub(channel, broadcast=self.broadcast, read=self.read, on_failed_start=self._forget)
            self.hubs[channel.name] = hub
            hub.started = asyncio.create_task(hub.start(self._closing.get(channel.name)), name=f"hub {channel.name}")
            # Its subscribers see a failure; nobody else has to retrieve it.
            hub.started.add_done_callback(lambda task: task.cancelled() or task.exception())
        hub.refs += 1
        return hub

    def _release(self, hub: ChannelHub) -> None:
        hub.refs -= 1
        if hub.refs > 0 or self.hubs.get(hub.name) is not hub:
            return
        del self.hubs[hub.name]
        closing = asyncio.create_task(hub.close(), name=f"close hub {hub.name}")
        self._closing[hub.name] = closing

        def done(task: asyncio.Task[None]) -> None:
            if self._closing.get(hub.name) is task:
                del self._closing[hub.name]

        closing.add_done_callback(done)

    def _forget(self, hub: ChannelHub) -> None:
        """Drop a hub that failed to start, so the next subscriber tries afresh."""
        if self.hubs.get(hub.name) is hub:
            del self.hubs[hub.name]

    async def subscribe(self, channel: str, *, after: int | None) -> AsyncIterator[StoredEvent]:
        """The channel's events: those after ``after`` from the store first (if given), then live ones.

        Without ``after``, delivery starts with the first event committed after the subscription
        joined. Events come in id order, each once. The stream ends with RealtimeStopped when the
        process shuts down.
        """
        target = Channel.parse(channel)
        hub = self._acquire(target)
        inbox: Inbox | None = None
        try:
            assert hub.started is not None
            await asyncio.shield(hub.started)
            cursor = after
            while True:
                inbox = Inbox(self.inbox_limit)
                if cursor is None:
                    async with hub.lock:
                        cursor = hub.last_seen
                        hub.join(inbox)
                else:
                    # Replay in batches outside the lock (the hub keeps delivering to others) ...
                    while cursor < hub.last_seen:
                        async with self.read() as session:
                            replay = await store.events_after(
                                session, channel=target, after=cursor, upto=hub.last_seen, limit=READ_BATCH
                            )
                        for event in replay:
                            yield event
                            cursor = event.id
                        if len(replay) < READ_BATCH:
                            break
                    # ... then the few events the hub delivered meanwhile, and join, under its lock.
                    async with hub.lock:
                        gap: list[StoredEvent] = []
                        if cursor < hub.last_seen:
                            async with self.read() as session:
                                gap = await store.events_after(
                                    session, channel=target, after=cursor, upto=hub.last_seen
                                )
                        hub.join(inbox)
                    for event in gap:
                        yield event
                        cursor = event.id
                while (live := await inbox.next()) is not None:
                    if live.id > cursor:
                        yield live
                        cursor = live.id
                # Detached for falling behind: catch up from the store, then rejoin.
                log.info("a realtime subscriber of %s fell behind; catching up from the store", hub.name)
        finally:
            if inbox is not None:
                hub.inboxes.discard(inbox)
            self._release(hub)

    # ------------------------------------------------------------------ safety nets

    async def sweep(self) -> None:
        """Wake every hub whose channel has recent events newer than what it delivered."""
        hubs = [hub for hub in self.hubs.values() if hub.ready and not hub.closed]
        if not hubs:
            return
        async with self.read() as session:
            maxima = await store.recent_maxima(
                session, tenant_ids={hub.channel.tenant_id for hub in hubs}, since=utcnow() - self.sweep_window
            )
        tenant_latest: dict[uuid.UUID, int] = {}
        for (tenant_id, _user_id), newest in maxima.items():
            tenant_latest[tenant_id] = max(tenant_latest.get(tenant_id, 0), newest)
        for hub in hubs:
            channel = hub.channel
            if channel.user_id is None:
                latest = tenant_latest.get(channel.tenant_id, 0)
            else:
                latest = maxima.get((channel.tenant_id, channel.user_id), 0)
            if hub.stale or latest > hub.last_seen:
                hub.wake()

    async def prune(self) -> int:
        """Delete events older than the retention, in short batches; how many were deleted."""
        cutoff = utcnow() - self.retention
        total = 0
        while True:
            async with transaction(self.sessions) as session:
                deleted = await store.prune(session, before=cutoff)
            total += deleted
            if deleted < store.PRUNE_BATCH:
                break
        if total:
            log.info("pruned %d realtime event(s) older than %s", total, cutoff.isoformat())
        return total
