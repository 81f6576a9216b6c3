"""What the reconnecting broadcast backends (PostgreSQL, Redis) share.

Each keeps its subscriptions as a local set, hands received messages to broadcaster through a
local queue, and watches one long-lived listening connection. When that connection is lost it
reconnects with capped exponential backoff and then puts a :data:`RESYNC` message on every
subscribed channel: messages published while it was away are gone, so receivers must read the
event store for those channels (the store is the truth; the broadcast only wakes readers up).
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import suppress

from broadcaster import BroadcastBackend, Event

log = logging.getLogger("app.realtime")

RESYNC = "resync"
"""The message a backend sends on every subscribed channel after it reconnects."""

INITIAL_BACKOFF = 0.1
MAX_BACKOFF = 5.0


class Backoff:
    """Delays between reconnect attempts: doubling from ``initial`` up to ``maximum``, with jitter
    so that many processes do not hammer a restarted server in lockstep."""

    def __init__(self, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(delay * 2, self.maximum)
        return delay * random.uniform(0.8, 1.0)


class ResilientBackend(BroadcastBackend):
    """A broadcaster backend with a supervised listening connection.

    Subclasses implement ``_open_listener`` (connect, and be listening for every channel in
    ``self._channels`` when it returns), ``_watch_listener`` (return a reason once the connection
    is lost) and ``_close_listener``. ``connect`` opens the first connection (and raises if it
    cannot); afterwards the supervisor reconnects for ever, logging at WARNING.
    """

    kind = "broadcast"

    def __init__(self, *, initial_backoff: float = INITIAL_BACKOFF, max_backoff: float = MAX_BACKOFF) -> None:
        # BroadcastBackend.__init__ only raises NotImplementedError: not called on purpose.
        self._channels: set[str] = set()
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._supervisor: asyncio.Task[None] | None = None

    async def _open_listener(self) -> None:
        raise NotImplementedError

    async def _watch_listener(self) -> str:
        raise NotImplementedError

    async def _close_listener(self) -> None:
        raise NotImplementedError

    async def _close_publisher(self) -> None:
        raise NotImplementedError

    async def connect(self) -> None:
        try:
            await self._open_listener()
        except BaseException:
            await self._close_listener()
            await self._close_publisher()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.kind}-listener")

    async def disconnect(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._close_listener()
        await self._close_publisher()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def next_published(self) -> Event:
        return await self._events.get()

    def _deliver(self, channel: str, message: str) -> None:
        """Hand a received message on if its channel is subscribed here."""
        if channel in self._channels:
            self._events.put_nowait(Event(channel, message))

    def _resync(self) -> None:
        for channel in sorted(self._channels):
            self._events.put_nowait(Event(channel, RESYNC))

    async def _supervise(self) -> None:
        while True:
            reason = await self._watch_listener()
            log.warning("%s listener connection lost (%s); reconnecting", self.kind, reason)
            await self._close_listener()
            backoff = Backoff(self._initial_backoff, self._max_backoff)
            attempts = 0
            while True:
                await asyncio.sleep(backoff.next_delay())
                attempts += 1
                try:
                    await self._open_listener()
                    break
                except Exception as exc:  # anything: the supervisor must outlive every failure
                    log.warning("%s reconnect attempt %d failed: %r", self.kind, attempts, exc)
                    await self._close_listener()
            log.warning(
                "%s listener reconnected after %d attempt(s); resyncing %d channel(s)",
                self.kind,
                attempts,
                len(self._channels),
            )
            self._resync()
