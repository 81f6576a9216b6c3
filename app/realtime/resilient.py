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
import sys
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


class Failures:
    """The log of one activity's run of failures: the first at WARNING with its traceback, the
    next ones at DEBUG, and the recovery at WARNING — two lines for an outage of any length."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0

    def failed(self) -> None:
        """Record a failure (call it while handling the exception)."""
        self.count += 1
        if self.count == 1:
            log.warning("%s failed; retrying", self.what, exc_info=True)
        else:
            log.debug("%s failed again (%d times): %r", self.what, self.count, sys.exc_info()[1])

    def succeeded(self) -> None:
        if self.count:
            log.warning("%s works again after %d failed attempt(s)", self.what, self.count)
            self.count = 0


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
        self._open = False  # a listening connection was opened and has not been given up yet

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
        self._open = True
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
            try:
                await self._reconnect_when_lost()
            except Exception:  # a bug here must not end wake-ups for good: reconnect, then resync
                log.exception("%s supervisor failed; reconnecting", self.kind)
                self._open = False
                await asyncio.sleep(self._max_backoff)

    async def _reconnect_when_lost(self) -> None:
        if self._open:
            reason = await self._watch_listener()
            log.warning("%s listener connection lost (%s); reconnecting", self.kind, reason)
        self._open = False
        await self._close_listener()
        backoff = Backoff(self._initial_backoff, self._max_backoff)
        attempts = 0
        while True:
            await asyncio.sleep(backoff.next_delay())
            attempts += 1
            try:
                await self._open_listener()
                self._open = True
                break
            except Exception as exc:  # anything: the supervisor must outlive every failure
                log.warning("%s reconnect attempt %d failed: %r", self.kind, attempts, exc)
                with suppress(Exception):
                    await self._close_listener()
        log.warning(
            "%s listener reconnected after %d attempt(s); resyncing %d channel(s)",
            self.kind,
            attempts,
            len(self._channels),
        )
        # Messages published while it was away are gone: every subscribed channel reads the store.
        self._resync()
