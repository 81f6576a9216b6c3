"""The broadcast: wake-ups for realtime channels between server processes, chosen by BROADCAST_URL.

- ``memory://`` — broadcaster's in-process backend (one server process; the default).
- ``postgres://…`` / ``postgresql://…`` / ``postgresql+asyncpg://…`` — our PostgreSQL backend
  (:mod:`app.realtime.pgbroadcast`); plain ``postgres://`` means the application's own database.
- ``redis://…`` / ``rediss://…`` — our Redis backend (:mod:`app.realtime.redisbroadcast`).

Messages are strings (event ids). The store is the truth: a receiver treats any message on a
channel, including :data:`RESYNC` (sent by the PostgreSQL and Redis backends on every
subscribed channel after they reconnect), as "read the store for this channel now".

Guarantee: once ``subscribe(channel)`` has been entered, every message published on that
channel afterwards is delivered to it, or a ``RESYNC`` is (when the connection dropped).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit

import broadcaster
from broadcaster import BroadcastBackend, Event
from broadcaster._backends.memory import MemoryBackend
from broadcaster._base import Subscriber

from app.realtime.pgbroadcast import PostgresBroadcastBackend, connect_arguments
from app.realtime.redisbroadcast import RedisBroadcastBackend
from app.realtime.resilient import RESYNC

__all__ = [
    "RESYNC",
    "Broadcast",
    "Event",
    "PostgresBroadcastBackend",
    "RedisBroadcastBackend",
    "Subscriber",
    "create_broadcast",
]


class Broadcast(broadcaster.Broadcast):
    """broadcaster's ``Broadcast``, safe when subscribers of one channel come and go concurrently.

    broadcaster 0.3 checks "first subscriber of this channel?" before awaiting the backend's
    subscribe and records the subscriber after it, so two concurrent first subscribers both
    subscribe and one of them is silently dropped. Here the subscriber is recorded first, and a
    channel's backend subscribe/unsubscribe calls never overlap: a subscriber that arrives while
    one is in flight waits for it.
    """

    def __init__(self, *, backend: BroadcastBackend) -> None:
        super().__init__(backend=backend)
        self._changing: dict[str, asyncio.Future[None]] = {}

    @property
    def backend(self) -> BroadcastBackend:
        return self._backend

    async def disconnect(self) -> None:
        task = getattr(self, "_listener_task", None)
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await self._backend.disconnect()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        await self._join(channel, queue)
        try:
            yield Subscriber(queue)
        finally:
            await self._leave(channel, queue)
            await queue.put(None)

    async def _join(self, channel: str, queue: asyncio.Queue[Event | None]) -> None:
        await self._settled(channel)
        queues = self._subscribers.get(channel)
        if queues:
            queues.add(queue)
            return
        queues = self._subscribers[channel] = {queue}
        try:
            await self._change(channel, self._backend.subscribe)
        except BaseException:
            queues.discard(queue)
            if not queues and self._subscribers.get(channel) is queues:
                del self._subscribers[channel]
            raise

    async def _leave(self, channel: str, queue: asyncio.Queue[Event | None]) -> None:
        queues = self._subscribers.get(channel)
        if queues is None:
            return
        queues.discard(queue)
        if queues:
            return
        del self._subscribers[channel]
        await self._settled(channel)
        if channel not in self._subscribers:  # nobody came back while we waited
            await self._change(channel, self._backend.unsubscribe)

    async def _settled(self, channel: str) -> None:
        """Wait until no backend subscribe/unsubscribe of ``channel`` is in flight."""
        while (change := self._changing.get(channel)) is not None:
            await asyncio.shield(change)

    async def _change(self, channel: str, operation: Callable[[str], Awaitable[None]]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._changing[channel] = done
        try:
            await operation(channel)
        finally:
            del self._changing[channel]
            done.set_result(None)


def create_broadcast(url: str, *, database_url: str) -> Broadcast:
    """The broadcast for ``BROADCAST_URL`` (not connected yet: ``await broadcast.connect()``).

    ``database_url`` is the application's SQLAlchemy URL, used when the URL is a bare
    ``postgres://``.
    """
    scheme = urlsplit(url).scheme
    backend: BroadcastBackend
    if scheme == "memory":
        backend = MemoryBackend(url)
    elif scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        backend = PostgresBroadcastBackend(connect_arguments(url, database_url=database_url))
    elif scheme in {"redis", "rediss"}:
        backend = RedisBroadcastBackend(url)
    else:
        raise ValueError(f"BROADCAST_URL must be memory://, postgres://… or redis://…, got scheme {scheme!r}")
    return Broadcast(backend=backend)
