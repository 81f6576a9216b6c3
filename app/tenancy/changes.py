"""The change listener: one connection per process LISTENing for viewer changes (see
app/tenancy/viewer_cache.py), whichever broadcast the realtime delivery uses.

While it is connected the viewer cache may serve entries; when its connection dies (a database
restart, a terminated backend, a failed health check) the cache stops serving at once, and when
it is back (reconnecting with capped exponential backoff) the cache starts empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.tenancy.viewer_cache import CHANNEL, ViewerCache

log = logging.getLogger(__name__)

APPLICATION_NAME = "journeys-viewer-changes"
CONNECT_TIMEOUT = 10.0
HEALTH_INTERVAL = 10.0
HEALTH_TIMEOUT = 5.0
INITIAL_BACKOFF = 0.1
MAX_BACKOFF = 5.0

Connect = Callable[[], Awaitable[Any]]


def connector(database_url: str) -> Connect:
    """asyncpg.connect for a SQLAlchemy ``postgresql+asyncpg://`` URL (a unix socket may be given
    as ``?host=/dir&port=N``, as the embedded server's is)."""
    url = make_url(database_url)

    def single(name: str) -> str | None:
        value = url.query.get(name)
        return (value[0] if value else None) if isinstance(value, tuple) else value

    port = url.port or single("port")
    arguments: dict[str, Any] = {
        "host": url.host or single("host"),
        "port": int(port) if port else None,
        "user": url.username,
        "password": url.password,
        "database": url.database,
        "ssl": single("ssl") or single("sslmode"),
    }
    arguments = {k: v for k, v in arguments.items() if v is not None}

    async def connect() -> Any:
        return await asyncpg.connect(**arguments, server_settings={"application_name": APPLICATION_NAME})

    return connect


class ChangeListener:
    """Keeps a LISTEN connection for ``cache`` (its :class:`~app.tenancy.viewer_cache.Watch`)."""

    def __init__(self, cache: ViewerCache, connect: Connect) -> None:
        self._cache = cache
        self._connect = connect
        self._connection: Any = None
        self._listening = False
        self._task: asyncio.Task[None] | None = None
        self._tried: asyncio.Event | None = None  # set once the first attempt to listen has ended
        self._closed = False
        cache.watch = self

    @property
    def connected(self) -> bool:
        # is_closed() too: asyncpg knows the socket closed before any callback of ours has run.
        return self._listening and self._connection is not None and not self._connection.is_closed()

    def start(self) -> None:
        if self._task is None and not self._closed:
            self._tried = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="viewer-changes")

    async def ready(self) -> None:
        """Wait for the first attempt to listen (a process's first requests only), so that what they
        load can be cached; later, and while the database is away, this returns at once."""
        self.start()
        if self._tried is not None and not self._tried.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._tried.wait(), CONNECT_TIMEOUT)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = INITIAL_BACKOFF
        while True:
            try:
                await self._listen()
                backoff = INITIAL_BACKOFF  # it was connected: the next attempt is quick
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("viewer change listener: %s: %s; reconnecting", type(exc).__name__, exc)
            finally:
                self._attempted()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _listen(self) -> None:
        lost = asyncio.Event()
        connection = await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT)
        self._connection = connection
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            # Listening from now on: whatever changed before may have been missed.
            self._cache.clear()
            self._listening = True
            self._attempted()
            log.info("viewer change listener: listening")
            while not lost.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), HEALTH_INTERVAL)
                    break
                await asyncio.wait_for(connection.fetchval("SELECT 1"), HEALTH_TIMEOUT)
            log.warning("viewer change listener: connection lost; reconnecting")
        finally:
            self._listening = False
            self._connection = None
            self._cache.clear()
            with suppress(Exception):
                connection.terminate()

    def _attempted(self) -> None:
        if self._tried is not None:
            self._tried.set()

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._cache.invalidate(payload)
