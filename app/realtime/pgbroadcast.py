"""The PostgreSQL broadcast backend: fan-out between processes with no server besides the database.

broadcaster 0.3's own Postgres backend LISTENs on one NOTIFY channel per broadcast channel, so
it cannot carry `user:{uuid}:{uuid}` (NOTIFY channel names stop at 63 bytes), breaks when
several subscribes run at once on its single connection, and never reconnects. This one:

- keeps ONE dedicated connection LISTENing on the fixed NOTIFY channel :data:`NOTIFY_CHANNEL`
  (``application_name`` :data:`LISTEN_APPLICATION_NAME`, so operators can find it);
- sends each message as ``pg_notify(NOTIFY_CHANNEL, '{"c": channel, "m": message}')``, so channel
  names of any length work, and refuses payloads over PostgreSQL's limit with ``ValueError``;
- keeps subscriptions as a local set: subscribing never touches the connection, so concurrent
  subscribes cannot collide, and every message committed after ``subscribe`` returns is seen;
- reconnects with capped exponential backoff when the listening connection dies (a terminated
  backend, a database restart, a failed health check) and then sends ``RESYNC`` on every
  subscribed channel;
- publishes on a second connection, reopened (with one retry) when it has died.

Every process receives every message and filters locally; the messages are event ids, so
this costs little next to the database work that produced them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.engine import make_url

from app.realtime.resilient import INITIAL_BACKOFF, MAX_BACKOFF, ResilientBackend, log

NOTIFY_CHANNEL = "journeys_broadcast"
LISTEN_APPLICATION_NAME = "journeys-broadcast-listen"
PUBLISH_APPLICATION_NAME = "journeys-broadcast-publish"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (NOTIFY_PAYLOAD_MAX_LENGTH).
MAX_PAYLOAD_BYTES = 7999
CONNECT_TIMEOUT = 10.0
PUBLISH_TIMEOUT = 10.0
HEALTH_INTERVAL = 10.0
HEALTH_TIMEOUT = 5.0

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}


def connect_arguments(url: str, *, database_url: str) -> dict[str, Any]:
    """asyncpg.connect keyword arguments for a broadcast URL.

    ``postgres://`` (no host, no database) means the application's own database, given as the
    SQLAlchemy URL ``database_url`` (which may reach a unix socket via ``?host=/dir&port=N``, as
    the embedded server does). A ``postgresql+asyncpg://`` URL is converted the same way; other
    ``postgres://`` / ``postgresql://`` URLs go to asyncpg as they are.
    """
    parts = urlsplit(url)
    if parts.scheme not in _POSTGRES_SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: scheme {parts.scheme!r}")
    if not parts.netloc and not parts.path.strip("/") and not parts.query:
        return _sqlalchemy_arguments(database_url)
    if parts.scheme == "postgresql+asyncpg":
        return _sqlalchemy_arguments(url)
    return {"dsn": url}


def _sqlalchemy_arguments(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    query = parsed.query

    def single(name: str) -> str | None:
        value = query.get(name)
        if isinstance(value, tuple):
            return value[0] if value else None
        return value

    host = parsed.host or single("host")
    port = parsed.port or single("port")
    arguments: dict[str, Any] = {
        "host": host,
        "port": int(port) if port else None,
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database,
    }
    ssl = single("ssl") or single("sslmode")
    if ssl:
        arguments["ssl"] = ssl
    return {key: value for key, value in arguments.items() if value is not None}


def encode_payload(channel: str, message: str) -> str:
    """The NOTIFY payload for one message; ``ValueError`` if PostgreSQL would refuse it."""
    if not isinstance(channel, str) or not isinstance(message, str):
        raise TypeError("broadcast channels and messages must be strings")
    payload = json.dumps({"c": channel, "m": message}, separators=(",", ":"), ensure_ascii=False)
    size = len(payload.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"broadcast message too large for PostgreSQL NOTIFY: {size} bytes with its channel name "
            f"(limit {MAX_PAYLOAD_BYTES}); broadcast event ids, not event data"
        )
    return payload


class PostgresBroadcastBackend(ResilientBackend):
    """broadcaster backend over PostgreSQL LISTEN/NOTIFY (see the module docstring)."""

    kind = "postgres broadcast"

    def __init__(
        self,
        connect_kwargs: dict[str, Any],
        *,
        health_interval: float = HEALTH_INTERVAL,
        health_timeout: float = HEALTH_TIMEOUT,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        super().__init__(initial_backoff=initial_backoff, max_backoff=max_backoff)
        self._connect_kwargs = connect_kwargs
        self._health_interval = health_interval
        self._health_timeout = health_timeout
        self._listener: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._publisher: asyncpg.Connection | None = None
        self._publish_lock = asyncio.Lock()

    async def _connect(self, application_name: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            **self._connect_kwargs,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": application_name},
        )

    async def _open_listener(self) -> None:
        lost = asyncio.Event()
        connection = await self._connect(LISTEN_APPLICATION_NAME)
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException:
            connection.terminate()
            raise
        self._listener, self._lost = connection, lost

    async def _watch_listener(self) -> str:
        connection = self._listener
        assert connection is not None
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self._health_interval)
                return "connection closed"
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), self._health_timeout)
            except Exception as exc:
                return f"health check failed: {exc!r}"

    async def _close_listener(self) -> None:
        connection, self._listener = self._listener, None
        if connection is not None and not connection.is_closed():
            connection.terminate()

    async def _close_publisher(self) -> None:
        connection, self._publisher = self._publisher, None
        if connection is not None and not connection.is_closed():
            connection.terminate()

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            decoded = json.loads(payload)
            channel, message = decoded["c"], decoded["m"]
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring a malformed notification on %s: %.200r", NOTIFY_CHANNEL, payload)
            return
        if isinstance(channel, str) and isinstance(message, str):
            self._deliver(channel, message)

    async def publish(self, channel: str, message: Any) -> None:
        payload = encode_payload(channel, message)
        async with self._publish_lock:
            for attempt in (1, 2):
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        self._publisher = await self._connect(PUBLISH_APPLICATION_NAME)
                    await self._publisher.execute(
                        "SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, payload, timeout=PUBLISH_TIMEOUT
                    )
                    return
                except Exception as exc:  # a dead connection fails in many ways (even InternalClientError)
                    await self._close_publisher()
                    if attempt == 2:
                        raise
                    log.warning("postgres broadcast publish failed (%r); reconnecting and retrying once", exc)
