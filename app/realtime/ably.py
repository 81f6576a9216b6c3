"""The Ably mirror: publishing every stored event to Ably (token requests for clients are
app/realtime/ably_tokens.py).

The mirror runs in every server process when the key is set, apart from any request, so a
slow or failing Ably never touches a mutation. It polls the event store (it does not depend
on the broadcaster): for each tenant with events past its cursor (``ably_cursors``) it locks
the cursor row with ``FOR UPDATE SKIP LOCKED`` — one process at a time per tenant, the others
skip it — reads the next events in id order, publishes each to its channels (a user event to
``user:{tenantId}:{userId}`` and ``admin:{tenantId}``, a tenant-wide one to the admin channel
only) with the event id as the message id, and moves the cursor in the same transaction. A
tenant's ids grow in commit order (see outbox.py), so a cursor never skips an event. When
Ably fails the cursor stays put and the batch is tried again with exponential backoff, so
events go out in order once Ably is back; a batch repeated after a crash or a partial
failure carries the same message ids, which Ably de-duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ably import AblyException, AblyRest
from ably.types.message import Message
from sqlalchemy import exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.config import Settings
from app.db import SessionFactory, transaction
from app.metrics import ABLY_BACKLOG, ABLY_PUBLISHED
from app.realtime.models import AblyCursor, OutboxEvent
from app.realtime.store import channels_of
from app.tenancy.models import Tenant

log = logging.getLogger(__name__)

# Events read per claimed batch, and the size of one publish request (Ably caps a publish at 64 KiB).
BATCH_EVENTS = 100
MAX_PUBLISH_MESSAGES = 100
MAX_PUBLISH_BYTES = 32 * 1024
# A tenant the mirror meets for the first time starts with its recent events only: older ones
# predate the mirror (Ably carries live updates; the store's replay serves history).
START_WINDOW = timedelta(minutes=10)
HTTP_OPEN_TIMEOUT = 4.0
HTTP_REQUEST_TIMEOUT = 10.0
BACKLOG_SAMPLE_SECONDS = 5.0  # how often the backlog gauge is measured (app/metrics.py)

CURSORS = AblyCursor.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
TENANTS = Tenant.__table__  # type: ignore[attr-defined]


def create_client(settings: Settings) -> Any:
    """An Ably REST client for the configured key, host, port and TLS."""
    options: dict[str, Any] = {
        "key": settings.ably_api_key,
        "tls": settings.ably_tls,
        "http_open_timeout": HTTP_OPEN_TIMEOUT,
        "http_request_timeout": HTTP_REQUEST_TIMEOUT,
        "http_max_retry_duration": HTTP_REQUEST_TIMEOUT,
    }
    if settings.ably_rest_host:
        options["endpoint"] = settings.ably_rest_host
    if settings.ably_rest_port:
        options["port"] = options["tls_port"] = settings.ably_rest_port
    if not settings.ably_tls:
        # The SDK refuses to send the key over plain HTTP; with token auth it signs a token
        # request with the key and exchanges it at the same host (/keys/{keyName}/requestToken),
        # renewing the token when Ably says it expired.
        options["use_token_auth"] = True
    return AblyRest(**options)


@dataclass(frozen=True)
class _Event:
    id: int
    type: str
    channels: list[str]
    payload: dict[str, Any]
    size: int


def _event(row: Any) -> _Event:
    payload = {
        "id": str(row.id),
        "type": row.type,
        "occurredAt": row.occurred_at.isoformat(),
        "tenantId": str(row.tenant_id),
        "userId": str(row.user_id) if row.user_id is not None else None,
        "data": row.data,
    }
    size = len(json.dumps(payload, separators=(",", ":")).encode()) + len(row.type) + 32
    return _Event(
        row.id, row.type, [channel.name for channel in channels_of(row.tenant_id, row.user_id)], payload, size
    )


def _by_channel(events: Sequence[_Event]) -> dict[str, list[_Event]]:
    channels: dict[str, list[_Event]] = {}
    for event in events:
        for channel in event.channels:
            channels.setdefault(channel, []).append(event)
    return channels


def _requests(events: Sequence[_Event]) -> Iterator[list[_Event]]:
    """Consecutive groups small enough for one publish request (an oversized event goes alone)."""
    group: list[_Event] = []
    size = 0
    for event in events:
        if group and (len(group) >= MAX_PUBLISH_MESSAGES or size + event.size > MAX_PUBLISH_BYTES):
            yield group
            group, size = [], 0
        group.append(event)
        size += event.size
    if group:
        yield group


def _ably_wide(exc: Exception) -> bool:
    """Whether a failure is Ably (or the database) being unavailable rather than one tenant's batch."""
    if not isinstance(exc, AblyException):
        return True  # connection refused, timeouts, database errors
    status = int(getattr(exc, "status_code", 500) or 500)
    return status >= 500 or status in {401, 403, 429}


class Backoff:
    """Exponential backoff with jitter: about base, twice that, four times … up to cap."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = base
        self.cap = max(cap, base)
        self.failures = 0
        self.not_before = 0.0

    def failed(self) -> float:
        """Count a failure; returns the delay before the next attempt."""
        self.failures += 1
        delay: float = min(self.cap, self.base * 2.0 ** min(self.failures - 1, 30))
        delay *= random.uniform(0.5, 1.0)  # processes retrying together spread out
        self.not_before = time.monotonic() + delay
        return delay

    def reset(self) -> None:
        self.failures = 0
        self.not_before = 0.0

    def remaining(self) -> float:
        """Seconds until the next attempt is due (0 when it is)."""
        return max(0.0, self.not_before - time.monotonic())


class AblyMirror:
    """Publishes every stored event to Ably, per tenant in id order (see the module docstring)."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        client: Any,
        poll_interval: float = 0.5,
        retry_max: float = 30.0,
        batch_size: int = BATCH_EVENTS,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._poll_interval = poll_interval
        self._retry_max = retry_max
        self._batch_size = batch_size
        self._outage = Backoff(poll_interval, retry_max)
        self._tenant_backoff: dict[uuid.UUID, Backoff] = {}
        # Per tenant and channel, the last event id this process published in a batch whose
        # cursor has not moved yet: a retry after a partial failure skips what already went.
        self._sent: dict[uuid.UUID, dict[str, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._backlog_due = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, sessions: SessionFactory) -> AblyMirror:
        return cls(
            sessions=sessions,
            client=create_client(settings),
            poll_interval=settings.ably_poll_interval,
            retry_max=settings.ably_retry_max,
        )

    def start(self) -> None:
        """Run the mirror in the background until :meth:`stop`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ably-mirror")

    async def stop(self) -> None:
        """Stop publishing (an unfinished batch stays unpublished for the next run) and close the client."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.publish_pending()
            except Exception as exc:  # the mirror must outlive any failure
                delay = self._outage.failed()
                log.warning("Ably mirror pass failed; retrying in %.1fs: %s", delay, exc, exc_info=True)
            if time.monotonic() >= self._backlog_due:
                self._backlog_due = time.monotonic() + BACKLOG_SAMPLE_SECONDS
                try:
                    await self.measure_backlog()
                except Exception:  # the database is down: the pass above has said so
                    log.debug("could not measure the Ably backlog", exc_info=True)
            await asyncio.sleep(max(self._poll_interval, self._outage.remaining()))

    async def publish_pending(self) -> int:
        """One pass over the tenants with unpublished events; returns how many events went out."""
        if self._outage.remaining() > 0:
            return 0
        published = 0
        for tenant_id in await self._pending_tenants():
            backoff = self._tenant_backoff.get(tenant_id)
            if backoff is not None and backoff.remaining() > 0:
                continue
            try:
                published += await self._drain(tenant_id)
            except Exception as exc:  # Ably said no, or could not be reached
                if _ably_wide(exc):
                    delay = self._outage.failed()
                    log.warning(
                        "Ably publishing failed (attempt %d); retrying in %.1fs: %s", self._outage.failures, delay, exc
                    )
                    return published
                backoff = self._tenant_backoff.setdefault(tenant_id, Backoff(self._poll_interval, self._retry_max))
                delay = backoff.failed()
                log.warning("Ably refused tenant %s's events; retrying in %.1fs: %s", tenant_id, delay, exc)
                continue
            self._tenant_backoff.pop(tenant_id, None)
            if self._outage.failures:
                log.info("Ably publishing recovered after %d failed attempts", self._outage.failures)
                self._outage.reset()
        return published

    async def measure_backlog(self) -> int:
        """How many stored events are past their tenant's cursor (not yet published); sets the gauge."""
        behind = OUTBOX.join(CURSORS, OUTBOX.c.tenant_id == CURSORS.c.tenant_id)
        query = select(func.count()).select_from(behind).where(OUTBOX.c.id > CURSORS.c.last_event_id)
        async with transaction(self._sessions) as session:
            backlog = int((await session.execute(query)).scalar_one())
        ABLY_BACKLOG.set(backlog)
        return backlog

    async def _pending_tenants(self) -> list[uuid.UUID]:
        """Tenants with events past their cursor (creating cursors for tenants met for the first time)."""
        async with transaction(self._sessions) as session:
            older = select(func.max(OUTBOX.c.id)).where(
                OUTBOX.c.tenant_id == TENANTS.c.id, OUTBOX.c.occurred_at <= func.now() - literal(START_WINDOW)
            )
            new_cursors = (
                select(TENANTS.c.id, func.coalesce(older.scalar_subquery(), 0))
                .where(~exists().where(CURSORS.c.tenant_id == TENANTS.c.id))
                .order_by(TENANTS.c.id)
            )
            await session.execute(
                pg_insert(CURSORS)
                .from_select(["tenant_id", "last_event_id"], new_cursors)
                .on_conflict_do_nothing(index_elements=["tenant_id"])
            )
            pending = select(CURSORS.c.tenant_id).where(
                exists().where(OUTBOX.c.tenant_id == CURSORS.c.tenant_id, OUTBOX.c.id > CURSORS.c.last_event_id)
            )
            return list((await session.execute(pending.order_by(CURSORS.c.tenant_id))).scalars())

    async def _drain(self, tenant_id: uuid.UUID) -> int:
        published = 0
        while True:
            count = await self._publish_batch(tenant_id)
            published += count
            if count < self._batch_size:
                return published

    async def _publish_batch(self, tenant_id: uuid.UUID) -> int:
        """Claim the tenant, publish its next events and move its cursor; 0 if another process has it."""
        async with transaction(self._sessions) as session:
            claim = (
                select(CURSORS.c.last_event_id)
                .where(CURSORS.c.tenant_id == tenant_id)
                .with_for_update(skip_locked=True)
            )
            last = (await session.execute(claim)).scalar_one_or_none()
            if last is None:
                return 0
            rows = (
                await session.execute(
                    select(OUTBOX)
                    .where(OUTBOX.c.tenant_id == tenant_id, OUTBOX.c.id > last)
                    .order_by(OUTBOX.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            await self._publish(tenant_id, [_event(row) for row in rows])
            await session.execute(
                update(CURSORS).where(CURSORS.c.tenant_id == tenant_id).values(last_event_id=rows[-1].id)
            )
        self._sent.pop(tenant_id, None)
        ABLY_PUBLISHED.inc(len(rows))
        return len(rows)

    async def _publish(self, tenant_id: uuid.UUID, events: Sequence[_Event]) -> None:
        sent = self._sent.setdefault(tenant_id, {})
        for channel, channel_events in _by_channel(events).items():
            unsent = [e for e in channel_events if e.id > sent.get(channel, 0)]
            for group in _requests(unsent):
                messages = [Message(name=e.type, id=str(e.id), data=e.payload) for e in group]
                await self._client.channels.get(channel).publish(messages=messages)
                sent[channel] = group[-1].id
