"""The Redis broadcast backend: fan-out between processes through Redis pub/sub.

broadcaster 0.3's own Redis backend can miss the start of its subscriptions (its reader task
stops when it starts before the first SUBSCRIBE is recorded, and then delivers nothing) and
never tells anyone that a dropped connection lost messages. This one:

- keeps one listening connection, subscribed to every channel in use here (plus a sentinel
  channel, so the connection is always in subscriber mode);
- returns from ``subscribe`` only once Redis has confirmed the SUBSCRIBE, so every message
  published afterwards is delivered (or, if the connection drops first, a ``RESYNC`` follows);
- notices a dropped connection (closed socket, or no answer to PING within two health
  intervals), reconnects with capped exponential backoff, subscribes everything again and
  only then sends ``RESYNC`` on every subscribed channel;
- publishes through a separate pooled client, retrying once on a connection error.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.realtime.resilient import INITIAL_BACKOFF, MAX_BACKOFF, ResilientBackend, log

SENTINEL_CHANNEL = "journeys_broadcast:listener"
CONNECT_TIMEOUT = 10.0
IO_TIMEOUT = 10.0
HEALTH_INTERVAL = 5.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBroadcastBackend(ResilientBackend):
    """broadcaster backend over Redis pub/sub (see the module docstring)."""

    kind = "redis broadcast"

    def __init__(
        self,
        url: str,
        *,
        health_interval: float = HEALTH_INTERVAL,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        super().__init__(initial_backoff=initial_backoff, max_backoff=max_backoff)
        self._health_interval = health_interval
        # No retries inside redis-py: a failure must reach this class, which reconnects and
        # resyncs (redis-py's own pub/sub reconnect would silently skip the resync).
        self._client = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=IO_TIMEOUT,  # a publish on a silently dead connection fails instead of hanging
            socket_keepalive=True,
        )
        self._pubsub: PubSub | None = None
        self._live = False
        self._acks: dict[str, list[asyncio.Future[None]]] = {}

    # -- the listening connection -------------------------------------------------------------

    async def _open_listener(self) -> None:
        pubsub = self._client.pubsub()
        self._pubsub = pubsub
        subscribed: set[str] = set()
        first = True
        while True:
            wanted = self._channels - subscribed
            unwanted = subscribed - self._channels
            if not (first or wanted or unwanted):
                break
            if first or wanted:
                await pubsub.subscribe(*([SENTINEL_CHANNEL] if first else []), *sorted(wanted))
            if unwanted:
                await pubsub.unsubscribe(*sorted(unwanted))
            # Redis answers in order: once the PING's answer is in, the SUBSCRIBE is in force.
            await pubsub.ping()
            async with asyncio.timeout(CONNECT_TIMEOUT):
                while True:
                    if not self._connected(pubsub):
                        raise RedisConnectionError("connection closed while subscribing")
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "pong":
                        break
                    if message is not None:
                        self._handle(message)
            subscribed = (subscribed | wanted) - unwanted
            first = False
        # No await since the last check: a subscribe from now on sends its own SUBSCRIBE.
        self._live = True

    async def _watch_listener(self) -> str:
        pubsub = self._pubsub
        assert pubsub is not None
        ping_sent = False
        try:
            while True:
                if not self._connected(pubsub):
                    return "connection closed"
                message = await pubsub.get_message(timeout=self._health_interval)
                if message is not None:
                    ping_sent = False
                    self._handle(message)
                    continue
                if ping_sent:
                    return f"no answer to PING in {self._health_interval} s"
                if not self._connected(pubsub):
                    return "connection closed"
                await pubsub.ping()
                ping_sent = True
        except Exception as exc:
            return repr(exc)
        finally:
            self._live = False
            self._release_acks()

    async def _close_listener(self) -> None:
        self._live = False
        self._release_acks()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _close_publisher(self) -> None:
        await self._client.aclose()

    @staticmethod
    def _connection(pubsub: PubSub) -> Connection | None:
        return cast("Connection | None", pubsub.connection)  # redis-py leaves it typed as None

    @classmethod
    def _connected(cls, pubsub: PubSub) -> bool:
        # Checked before every use: redis-py would otherwise reconnect on its own, unnoticed.
        connection = cls._connection(pubsub)
        return connection is not None and bool(connection.is_connected)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "message":
            self._deliver(_text(message["channel"]), _text(message["data"]))
        elif kind == "subscribe":
            waiting = self._acks.get(_text(message["channel"]))
            if waiting:
                ack = waiting.pop(0)
                if not ack.done():
                    ack.set_result(None)

    def _release_acks(self) -> None:
        """Let waiting subscribes return: the connection is gone, and a RESYNC will follow."""
        acks, self._acks = self._acks, {}
        for waiting in acks.values():
            for ack in waiting:
                if not ack.done():
                    ack.set_result(None)

    # -- broadcaster's interface --------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        pubsub = self._pubsub
        if not self._live or pubsub is None or not self._connected(pubsub):
            return  # reconnecting: the reconnect subscribes it, then sends RESYNC
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks.setdefault(channel, []).append(ack)
        try:
            await pubsub.subscribe(channel)
        except Exception as exc:
            # Drop the connection so the supervisor reconnects, subscribes it and resyncs.
            log.warning("redis broadcast SUBSCRIBE failed (%r); reconnecting", exc)
            ack.cancel()
            connection = self._connection(pubsub)
            if connection is not None:
                await connection.disconnect(nowait=True)
            return
        await ack

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        pubsub = self._pubsub
        if self._live and pubsub is not None and self._connected(pubsub):
            # A failure here is harmless: messages for unsubscribed channels are dropped locally.
            with suppress(Exception):
                await pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        if not isinstance(channel, str) or not isinstance(message, str):
            raise TypeError("broadcast channels and messages must be strings")
        for attempt in (1, 2):
            try:
                await self._client.publish(channel, message)
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if attempt == 2:
                    raise
                log.warning("redis broadcast publish failed (%r); retrying once", exc)
