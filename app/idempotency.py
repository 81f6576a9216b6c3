"""Idempotency keys (SPEC §15): the first response to a request sent with a key, kept for a day
per (tenant, user, key), so that a retry gets it back instead of running again.

One row per key, inserted before the request runs. Whoever holds the row's lock (a transaction
on a connection of its own, open while the request runs) is the one running it; everyone else
polls the row without holding a connection in between:

- a row whose request hash differs is a different request: :class:`KeyReused`;
- a row with a response: that response, replayed;
- a row without one that nobody holds: its owner ended without a response (a crash closes its
  connection, which releases the lock), so the next one to lock it runs the request.

The owner stores the response and commits in one statement after the request's own writes have
committed; a process dying between the two leaves a row without response, and the retry runs
the request once more — the only window in which a keyed mutation can run twice.
Expired rows are deleted by :class:`KeyPurge`, a background pass of every serving process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, LargeBinary, String, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from app.errors import DomainError, ErrorCode
from app.modelbase import timestamp_now
from app.sealing import Sealer

log = logging.getLogger("app.idempotency")

KEPT = timedelta(hours=24)
POLL_INTERVAL = 0.05  # the first wait between looks at a held key; then longer, up to POLL_MAX
POLL_MAX = 0.5
WAIT_LIMIT = 60.0
PURGE_INTERVAL = 600.0
PURGE_BATCH = 1000


class IdempotencyKey(SQLModel, table=True):
    """A key a user sent with a mutation, the hash of that request and, once answered, its response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires", "expires_at"),)

    tenant_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    headers: list[list[str]] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = timestamp_now()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


KEYS = SQLModel.metadata.tables[IdempotencyKey.__tablename__]


class KeyReused(DomainError):
    """The key was sent before with a different request."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was sent before with a different request"
        )


class StillRunning(Exception):
    """The first request with the key is still running after the wait limit."""


@dataclass(frozen=True)
class KeyScope:
    """Whose key: a tenant's user (an API key acts as a user of its own), and the key itself."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    key: str

    def where(self) -> Any:
        return tuple_(KEYS.c.tenant_id, KEYS.c.user_id, KEYS.c.key) == (self.tenant_id, self.user_id, self.key)

    def bound(self) -> bytes:
        """What a stored body is sealed to: this row, so it opens nowhere else."""
        return self.tenant_id.bytes + self.user_id.bytes + self.key.encode()


@dataclass(frozen=True)
class Recorded:
    """A stored response: status, headers (name, value; latin-1 text) and body, as sent."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Lease:
    """The right to run the request: the key's row stays locked until :meth:`keep` or the end
    of the ``async with`` block (which releases it without a response, for a retry to run)."""

    def __init__(self, connection: AsyncConnection, scope: KeyScope, sealer: Sealer) -> None:
        self._connection = connection
        self._scope = scope
        self._sealer = sealer

    async def keep(self, response: Recorded) -> None:
        """Store the response for the key's retries (kept ``KEPT`` from now) and release the row."""
        await self._connection.execute(
            KEYS.update()
            .where(self._scope.where())
            .values(
                status=response.status,
                headers=[list(pair) for pair in response.headers],
                # Sealed: a response may hold a secret shown once (a new webhook endpoint's or API key's).
                body=self._sealer.seal(response.body, bound_to=self._scope.bound()),
                expires_at=func.now() + KEPT,
            )
        )
        await self._connection.commit()
        await self._connection.close()

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if not self._connection.closed:
            with contextlib.suppress(Exception):  # a dead connection has released the lock anyway
                await self._connection.rollback()
            await self._connection.close()


async def claim(
    engine: AsyncEngine,
    scope: KeyScope,
    request_hash: str,
    *,
    sealer: Sealer,
    wait: float = WAIT_LIMIT,
    poll: float = POLL_INTERVAL,
) -> Recorded | Lease:
    """The stored response of the key, or the lease to run the request (see the module docstring).

    :class:`KeyReused` for a key of a different request; :class:`StillRunning` when the request
    that holds the key has not answered within ``wait`` seconds."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        connection = await engine.connect()
        lease: Lease | None = None
        try:
            found = await _claim_once(connection, scope, request_hash, sealer)
            if isinstance(found, Lease):
                lease = found
            if found is not None:
                return found
        finally:
            if lease is None:
                with contextlib.suppress(Exception):
                    await connection.rollback()
                await connection.close()
        if asyncio.get_running_loop().time() > deadline:
            raise StillRunning()
        await asyncio.sleep(poll)
        poll = min(poll * 1.5, POLL_MAX)


async def _claim_once(
    connection: AsyncConnection, scope: KeyScope, request_hash: str, sealer: Sealer
) -> Recorded | Lease | None:
    """One look at the key: its response, a lease on it, or None while another request holds it."""
    await connection.execute(
        insert(KEYS)
        .values(
            tenant_id=scope.tenant_id,
            user_id=scope.user_id,
            key=scope.key,
            request_hash=request_hash,
            expires_at=func.now() + KEPT,
        )
        .on_conflict_do_nothing()  # DO NOTHING never waits on the row's lock
    )
    await connection.commit()
    columns = (
        KEYS.c.request_hash,
        KEYS.c.status,
        KEYS.c.headers,
        KEYS.c.body,
        (KEYS.c.expires_at <= func.now()).label("expired"),
    )
    mine = (
        await connection.execute(select(*columns).where(scope.where()).with_for_update(skip_locked=True))
    ).one_or_none()
    if mine is not None and mine.expired:
        # Expired but not purged yet: the key is free again, for this request.
        await connection.execute(
            KEYS.update()
            .where(scope.where())
            .values(request_hash=request_hash, status=None, headers=None, body=None, created_at=func.now())
        )
        return Lease(connection, scope, sealer)
    # Held by another transaction (running its request, or reading its response a moment): look
    # without the lock. Gone (purged in between): look again after the poll interval.
    row = mine or (await connection.execute(select(*columns).where(scope.where()))).one_or_none()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise KeyReused()
    if row.status is not None:
        body = sealer.open(row.body, bound_to=scope.bound())
        return Recorded(status=row.status, headers=[(name, value) for name, value in row.headers], body=body)
    if mine is not None:  # locked by us, and no response: the first to run it, or its owner ended
        return Lease(connection, scope, sealer)
    return None


async def purge_expired(engine: AsyncEngine, *, batch: int = PURGE_BATCH) -> int:
    """Delete expired keys, a batch per transaction (skipping any still held); how many."""
    total = 0
    while True:
        expired = (
            select(KEYS.c.tenant_id, KEYS.c.user_id, KEYS.c.key)
            .where(KEYS.c.expires_at <= func.now())
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        async with engine.begin() as connection:
            result = await connection.execute(
                delete(KEYS).where(tuple_(KEYS.c.tenant_id, KEYS.c.user_id, KEYS.c.key).in_(expired))
            )
        deleted = result.rowcount or 0
        total += deleted
        if deleted < batch:
            break
    if total:
        log.info("purged %d expired idempotency key(s)", total)
    return total


class KeyPurge:
    """:func:`purge_expired` every ``interval`` seconds, as a background task of the app's lifespan."""

    def __init__(self, engine: AsyncEngine, *, interval: float = PURGE_INTERVAL) -> None:
        self.engine = engine
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="idempotency key purge")

    async def _run(self) -> None:
        while True:
            try:
                await purge_expired(self.engine)
            except Exception:  # the next pass tries again (the database may be away for a while)
                log.warning("purging expired idempotency keys failed", exc_info=True)
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
