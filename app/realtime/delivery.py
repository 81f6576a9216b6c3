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
events are newer than their hub's position and wakes them (see sweep.py). A subscriber that
falls too far behind is detached from its hub and catches up from the store on its own, then
rejoins, so a slow consumer never holds up the others or grows memory without bound. A
periodic prune keeps the store to its retention (events are kept at least 7 days).

Nothing gives up while the database is away: a hub whose read failed retries on its own until
one succeeds (hub.py), a subscriber's own replay retries with backoff, the publisher keeps the
wake-ups it could not send (publisher.py), the sweep and the prune outlive their failures, and
every read is bounded in time, so a connection that died silently cannot hold up a channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta

from broadcaster import Broadcast
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionFactory
from app.modelbase import utcnow
from app.realtime import store
from app.realtime.hub import INBOX_LIMIT, READ_BATCH, RETRY_INITIAL, RETRY_MAX, ChannelHub, Inbox, RealtimeStopped
from app.realtime.outbox import CommittedEvent
from app.realtime.publisher import Publisher
from app.realtime.resilient import Backoff, Failures
from app.realtime.store import Channel, StoredEvent, channels_of
from app.realtime.sweep import prune_expired, sweep_since, wake_behind

log = logging.getLogger("app.realtime")

RETENTION = timedelta(days=7)
SWEEP_WINDOW = timedelta(minutes=5)
PRUNE_INTERVAL = 3600.0
CONCURRENT_READS = 8
# A read on a connection that died without a word (a half-open TCP connection) would otherwise
# wait for the kernel to give up, for many minutes, holding its hub's lock all along.
READ_TIMEOUT = 15.0


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
        self.publisher = Publisher(broadcast)
        self._reads = asyncio.Semaphore(CONCURRENT_READS)
        self.read_timeout = READ_TIMEOUT
        self._swept_at: datetime | None = None  # when the last sweep that succeeded began
        self._tasks: list[asyncio.Task[None]] = []
        self.running = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect the broadcast and start the publisher, the sweep and the prune."""
        await self.broadcast.connect()
        self.running = True
        self._tasks = [
            asyncio.create_task(self.publisher.run(), name="realtime publisher"),
            asyncio.create_task(self._sweep_loop(), name="realtime sweep"),
            asyncio.create_task(self._prune_loop(), name="realtime prune"),
        ]

    async def stop(self) -> None:
        """End every subscription, flush pending wake-ups briefly, disconnect the broadcast."""
        if not self.running:
            return
        self.running = False
        await self.publisher.flush(within=1.0)
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
        failures = Failures("the realtime sweep")
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:  # the sweep outlives every failure: it is the last safety net
                failures.failed()
                continue
            failures.succeeded()

    async def _prune_loop(self) -> None:
        while True:
            try:
                await self.prune()
            except Exception:
                log.warning("pruning realtime events failed", exc_info=True)
            await asyncio.sleep(self.prune_interval)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session; a few at a time, so a burst of wake-ups cannot drain the pool.

        Bounded by ``read_timeout`` (TimeoutError); a timed-out session's connection is discarded.
        """
        async with self._reads, self.sessions() as session:
            try:
                async with asyncio.timeout(self.read_timeout):
                    yield session
            except TimeoutError:
                with suppress(Exception):
                    await session.invalidate()
                raise

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
            self.publisher.put(events)
        except Exception:
            log.exception("announcing realtime events failed")

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
                    async for event in self._replay_and_join(hub, cursor, inbox):
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

    async def _replay_and_join(self, hub: ChannelHub, cursor: int, inbox: Inbox) -> AsyncIterator[StoredEvent]:
        """The store's events after ``cursor`` up to the hub's position, then ``inbox`` joins the hub.

        Replays in batches outside the hub's lock (it keeps delivering to the others), then reads
        the few events it delivered meanwhile and joins, under its lock: no gap, no duplicate.
        A read that fails (the database is away) is retried with backoff, outside the lock, from
        where the replay got to: an open subscription outlasts an outage.
        """
        backoff = Backoff(RETRY_INITIAL, RETRY_MAX)
        failures = Failures(f"replaying realtime events of {hub.name}")
        while True:
            replay: list[StoredEvent] = []
            gap: list[StoredEvent] | None = None  # None: more to replay before joining
            try:
                if cursor < hub.last_seen:
                    async with self.read() as session:
                        replay = await store.events_after(
                            session, channel=hub.channel, after=cursor, upto=hub.last_seen, limit=READ_BATCH
                        )
                if len(replay) < READ_BATCH:
                    async with hub.lock:
                        after = replay[-1].id if replay else cursor
                        gap = []
                        if after < hub.last_seen:
                            async with self.read() as session:
                                gap = await store.events_after(
                                    session, channel=hub.channel, after=after, upto=hub.last_seen
                                )
                        hub.join(inbox)
            except RealtimeStopped:
                raise
            except Exception:
                if hub.closed or not self.running:
                    raise RealtimeStopped from None
                failures.failed()
                await asyncio.sleep(backoff.next_delay())
                continue
            failures.succeeded()
            for event in replay if gap is None else [*replay, *gap]:
                yield event
                cursor = event.id
            if gap is not None:
                return

    # ------------------------------------------------------------------ safety nets

    async def sweep(self) -> None:
        """Wake every hub whose channel has recent events newer than what it delivered (see sweep.py)."""
        began = utcnow()
        hubs = [hub for hub in self.hubs.values() if hub.ready and not hub.closed]
        if hubs:
            since = sweep_since(
                began, window=self.sweep_window, last_success=self._swept_at, oldest=began - self.retention
            )
            async with self.read() as session:
                maxima = await store.recent_maxima(
                    session, tenant_ids={hub.channel.tenant_id for hub in hubs}, since=since
                )
            wake_behind(hubs, maxima)
        # A hub woken here that fails its read stays behind and retries on its own: nothing is owed.
        self._swept_at = began

    async def prune(self) -> int:
        """Delete events older than the retention, in short batches; how many were deleted."""
        return await prune_expired(self.sessions, before=utcnow() - self.retention)
