"""Sending wake-ups to every process: the latest committed event id per channel, retried until sent.

``Realtime.announce`` hands committed events to :class:`Publisher` without waiting. Its loop
coalesces them into one message per channel (the latest id: a receiver reads everything after
its own position anyway) and publishes them on the broadcast. A wake-up that cannot be sent —
the broadcast backend is down, as a ``postgres://`` one is during a database outage — is kept
and sent again with capped exponential backoff instead of being dropped, and the round stops at
the first failure so an outage costs one timeout per attempt, not one per channel. Receivers
also catch up on their own (resync after a reconnect, the periodic sweep); this keeps their
wake-ups prompt once the backend is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress

from broadcaster import Broadcast

from app.realtime.outbox import CommittedEvent
from app.realtime.resilient import Backoff, Failures
from app.realtime.store import channels_of

log = logging.getLogger("app.realtime")

OUTGOING_LIMIT = 10_000
PUBLISH_TIMEOUT = 5.0
RETRY_INITIAL = 0.2
RETRY_MAX = 5.0


class Publisher:
    """The process's outgoing wake-ups (see the module docstring)."""

    def __init__(self, broadcast: Broadcast, *, publish_timeout: float = PUBLISH_TIMEOUT) -> None:
        self.broadcast = broadcast
        self.publish_timeout = publish_timeout
        self._incoming: asyncio.Queue[Sequence[CommittedEvent]] = asyncio.Queue(maxsize=OUTGOING_LIMIT)
        self._pending: dict[str, int] = {}  # channel -> latest event id not sent yet
        self._idle = asyncio.Event()
        self._idle.set()

    def put(self, events: Sequence[CommittedEvent]) -> None:
        """Queue committed events' wake-ups. Never blocks; when full, the sweep delivers them."""
        try:
            self._incoming.put_nowait(list(events))
        except asyncio.QueueFull:
            log.warning("realtime wake-up queue full; the sweep will deliver %d event(s)", len(events))
            return
        self._idle.clear()

    async def flush(self, within: float) -> None:
        """Wait (at most ``within`` seconds) until every queued wake-up has been sent."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)

    def _take(self, batch: Sequence[CommittedEvent]) -> None:
        for event in batch:
            for channel in channels_of(event.tenant_id, event.user_id):
                self._pending[channel.name] = max(self._pending.get(channel.name, 0), event.id)

    async def run(self) -> None:
        backoff = Backoff(RETRY_INITIAL, RETRY_MAX)
        failures = Failures("publishing realtime wake-ups")
        while True:
            if not self._pending:
                if self._incoming.empty():
                    self._idle.set()
                self._take(await self._incoming.get())
            while not self._incoming.empty():
                self._take(self._incoming.get_nowait())
            try:
                await self._send_pending()
            except Exception:
                failures.failed()
                await asyncio.sleep(backoff.next_delay())
                continue
            failures.succeeded()
            backoff = Backoff(RETRY_INITIAL, RETRY_MAX)

    async def _send_pending(self) -> None:
        """Publish the pending wake-ups; raises at the first one that fails (it and the rest wait)."""
        for name, event_id in list(self._pending.items()):
            try:
                await asyncio.wait_for(self.broadcast.publish(name, str(event_id)), self.publish_timeout)
            except (TypeError, ValueError):
                # Refused for what it is (not for where it goes): sending it again cannot help.
                log.exception("a realtime wake-up to %s cannot be published", name)
            del self._pending[name]
