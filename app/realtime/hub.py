"""One channel's local delivery: the hub that reads the store on each wake-up and feeds its subscribers.

A hub exists while its channel has subscribers in this process. It listens for the channel's
wake-ups on the broadcast, holds ``last_seen`` (the id of the last event it delivered), and on a
wake-up reads the channel's events after ``last_seen`` — one query per wake-up, however many
local subscribers — and pushes them in id order to every subscriber's inbox under its lock.
Inboxes are bounded: a subscriber that falls too far behind is detached, and catches up from
the store on its own (see ``Realtime.subscribe``).

A hub never gives up. A read that fails (the database is away) leaves it ``behind``, and it
reads again with capped exponential backoff — sooner on any wake-up, such as the resync a
broadcast backend sends once it is back — until a read succeeds; ``last_seen`` only moves
past events that were pushed. A listener whose broadcast subscription breaks subscribes
again, and then reads (wake-ups sent meanwhile are lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from typing import Any

from broadcaster import Broadcast
from sqlalchemy.ext.asyncio import AsyncSession

from app.realtime import store
from app.realtime.resilient import Backoff, Failures
from app.realtime.store import Channel, StoredEvent

log = logging.getLogger("app.realtime")

READ_BATCH = 500
INBOX_LIMIT = 1000
RETRY_INITIAL = 0.1
RETRY_MAX = 5.0


class RealtimeStopped(Exception):
    """The process is shutting down; its subscriptions end."""


class Inbox:
    """One local subscription's pending events, filled by its hub, bounded."""

    def __init__(self, limit: int) -> None:
        self._items: deque[StoredEvent] = deque()
        self._limit = limit
        self._signal = asyncio.Event()
        self.detached = False
        self.closed = False

    def push(self, event: StoredEvent) -> bool:
        """Queue an event; False (and detached) when the subscriber is too far behind."""
        if len(self._items) >= self._limit:
            self.detached = True
            self._signal.set()
            return False
        self._items.append(event)
        self._signal.set()
        return True

    def close(self) -> None:
        self.closed = True
        self._signal.set()

    async def next(self) -> StoredEvent | None:
        """The next event; None once detached and drained (the subscriber must catch up itself)."""
        while not self._items:
            if self.closed:
                raise RealtimeStopped
            if self.detached:
                return None
            self._signal.clear()
            await self._signal.wait()
        return self._items.popleft()


class ChannelHub:
    """One channel's local delivery: its position, its subscribers, its wake-up listener."""

    def __init__(
        self,
        channel: Channel,
        *,
        broadcast: Broadcast,
        read: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        on_failed_start: Callable[[ChannelHub], None],
    ) -> None:
        self.channel = channel
        self._broadcast = broadcast
        self._read = read
        self._on_failed_start = on_failed_start
        self.name = channel.name
        self.last_seen = 0
        self.lock = asyncio.Lock()
        self.inboxes: set[Inbox] = set()
        self.refs = 0
        self.ready = False
        self.closed = False
        self.behind = False  # the last read failed: the pump is retrying
        self.listening = False  # wake-ups arrive (else only the sweep and the retries deliver)
        self._dirty = False
        self._woken = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self.started: asyncio.Task[None] | None = None

    async def start(self, previous: asyncio.Task[None] | None) -> None:
        """Subscribe to wake-ups, then take the channel's current position (in that order: no gap)."""
        if previous is not None:
            # The channel's previous hub is still unsubscribing; let it finish first so its
            # unsubscribe cannot undo this hub's subscribe in the broadcast backend.
            with suppress(Exception):
                await asyncio.shield(previous)
        subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(subscribed), name=f"realtime listener {self.name}")
        try:
            await subscribed
            async with self._read() as session:
                position = await store.channel_position(session, channel=self.channel)
        except BaseException:
            await self._stop_tasks()
            self._on_failed_start(self)
            raise
        async with self.lock:
            self.last_seen = max(self.last_seen, position)
            self.ready = True
        if self._dirty:
            self.wake()

    async def _listen(self, subscribed: asyncio.Future[None]) -> None:
        backoff = Backoff(RETRY_INITIAL, RETRY_MAX)
        try:
            while not self.closed:
                try:
                    async with self._broadcast.subscribe(self.name) as subscriber:
                        self.listening = True
                        if subscribed.done():
                            # Subscribed again: wake-ups published while it was down are gone.
                            log.warning("realtime wake-ups for %s resumed", self.name)
                            self.wake()
                        else:
                            subscribed.set_result(None)
                        backoff = Backoff(RETRY_INITIAL, RETRY_MAX)
                        while True:
                            event = await subscriber.get()
                            self.on_message(event.message)
                except Exception as exc:
                    self.listening = False
                    if not subscribed.done():
                        subscribed.set_exception(exc)
                        return
                    # Meanwhile the sweep still delivers (within its interval).
                    log.warning("realtime wake-ups for %s stopped; subscribing again", self.name, exc_info=True)
                    await asyncio.sleep(backoff.next_delay())
        finally:
            self.listening = False
            if not subscribed.done():  # closed before it had subscribed
                subscribed.set_exception(RealtimeStopped())

    def join(self, inbox: Inbox) -> None:
        """Add a subscriber's inbox (under the hub's lock, at ``last_seen``)."""
        if self.closed:
            raise RealtimeStopped
        self.inboxes.add(inbox)

    def on_message(self, message: Any) -> None:
        """A wake-up: an event id (ignored when already delivered) or any other marker (read now)."""
        try:
            event_id = int(message)
        except (TypeError, ValueError):
            event_id = None
        if event_id is not None and self.ready and not self.behind and event_id <= self.last_seen:
            return
        self.wake()

    def wake(self) -> None:
        """Read the store for this channel soon (once, however many wake-ups arrive meanwhile)."""
        self._dirty = True
        self._woken.set()  # cuts a retry's backoff short: the database may well be back
        if self.ready and not self.closed and (self._pump is None or self._pump.done()):
            self._pump = asyncio.create_task(self._run_pump(), name=f"realtime pump {self.name}")

    async def _run_pump(self) -> None:
        backoff = Backoff(RETRY_INITIAL, RETRY_MAX)
        failures = Failures(f"reading realtime events for {self.name}")
        while (self._dirty or self.behind) and not self.closed:
            self._dirty = False
            self._woken.clear()
            try:
                await self.catch_up()
            except Exception:
                # Whatever the wake-up asked for is still owed: stay behind, and read again.
                self.behind = True
                failures.failed()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), backoff.next_delay())
                continue
            failures.succeeded()
            backoff = Backoff(RETRY_INITIAL, RETRY_MAX)
            self.behind = False

    async def catch_up(self) -> None:
        """Push every stored event after ``last_seen`` to the local subscribers, in order."""
        async with self.lock:
            while not self.closed:
                async with self._read() as session:
                    events = await store.events_after(
                        session, channel=self.channel, after=self.last_seen, limit=READ_BATCH
                    )
                for event in events:
                    for inbox in list(self.inboxes):
                        if not inbox.push(event):
                            self.inboxes.discard(inbox)
                if events:
                    self.last_seen = events[-1].id
                if len(events) < READ_BATCH:
                    return

    async def _stop_tasks(self) -> None:
        tasks = [t for t in (self._listener, self._pump) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            # The broadcast subscription's own cleanup may fail on a dropped connection.
            with suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        """Stop listening; any remaining subscriber's stream ends."""
        self.closed = True
        for inbox in self.inboxes:
            inbox.close()
        self.inboxes.clear()
        await self._stop_tasks()
