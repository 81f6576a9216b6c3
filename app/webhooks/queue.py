"""The delivery queue in the database, shared by every server process.

Each endpoint has a cursor into the event store (``last_event_id``). Queuing reads the tenant's
events after it in id order — ids grow in commit order within a tenant (app/realtime/outbox.py),
so the cursor never skips an event — adds a delivery row for each one the endpoint selects, and
moves the cursor, in one transaction. An endpoint's ordered stream is its pending non-manual
deliveries by ``seq``: only the head is sent, so a failing event holds back the endpoint's later
ones and nobody else's. Redeliveries and test events (``manual``) are sent on their own.

Everything that touches one endpoint's queue runs under a transaction-level advisory lock on the
endpoint, taken with ``pg_try_advisory_xact_lock``: a process that does not get it skips the
endpoint (like FOR UPDATE SKIP LOCKED). The lock is held while a delivery is sent and its outcome
written, so one endpoint has one delivery in flight across all processes; a process that dies
mid-send loses its connection, PostgreSQL rolls back and frees the lock, and the delivery, still
PENDING, is sent again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.realtime.models import OutboxEvent
from app.tenancy.models import User
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

# Seconds before the next attempt after the 1st, 2nd … failure; then every 6 hours.
BACKOFF = (5, 30, 120, 600, 3600, 6 * 3600)
GIVE_UP_AFTER = timedelta(hours=24)
QUEUE_BATCH = 500
PRUNE_BATCH = 5000
LOCK_NAMESPACE = "journeys.webhooks:"

OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
USERS = User.__table__  # type: ignore[attr-defined]
ENDPOINTS = WebhookEndpoint.__table__  # type: ignore[attr-defined]
DELIVERIES = WebhookDelivery.__table__  # type: ignore[attr-defined]
PENDING = DeliveryStatus.PENDING


def retry_at(*, first_attempt_at: datetime, failures: int, now: datetime) -> datetime | None:
    """When to try again after ``failures`` failed attempts; None once 24 hours have passed (FAILED)."""
    deadline = first_attempt_at + GIVE_UP_AFTER
    if now >= deadline:
        return None
    delay = BACKOFF[min(failures, len(BACKOFF)) - 1]
    return min(now + timedelta(seconds=delay), deadline)


async def lock(session: AsyncSession, endpoint_id: uuid.UUID) -> bool:
    """Take the endpoint's lock for this transaction; False when another transaction holds it."""
    key = func.hashtextextended(LOCK_NAMESPACE + str(endpoint_id), 0)
    return bool((await session.execute(select(func.pg_try_advisory_xact_lock(key)))).scalar())


def _stream_head(endpoint_id: Any) -> Any:
    """The seq of the endpoint's first pending delivery in its ordered stream."""
    d = DELIVERIES.alias("head")
    return (
        select(func.min(d.c.seq))
        .where(d.c.endpoint_id == endpoint_id, d.c.status == PENDING, ~d.c.manual)
        # Correlated to the enclosing query's endpoint even from inside an EXISTS (auto-correlation
        # reaches only the immediately enclosing SELECT, which would make this every endpoint's head).
        .correlate_except(d)
        .scalar_subquery()
    )


async def endpoints_with_work(session: AsyncSession, *, now: datetime) -> list[uuid.UUID]:
    """Enabled endpoints with events to queue, or a delivery due now (a stream head or a manual one)."""
    d = DELIVERIES
    unqueued = exists().where(OUTBOX.c.tenant_id == ENDPOINTS.c.tenant_id, OUTBOX.c.id > ENDPOINTS.c.last_event_id)
    due = exists().where(
        d.c.endpoint_id == ENDPOINTS.c.id,
        d.c.status == PENDING,
        d.c.next_attempt_at <= now,
        or_(d.c.manual, d.c.seq == _stream_head(ENDPOINTS.c.id)),
    )
    query = select(ENDPOINTS.c.id).where(ENDPOINTS.c.enabled, or_(unqueued, due)).order_by(ENDPOINTS.c.id)
    return list((await session.execute(query)).scalars())


async def queue_events(
    session: AsyncSession, *, endpoint_id: uuid.UUID, now: datetime, batch: int = QUEUE_BATCH
) -> int:
    """Add deliveries for the endpoint's next events (under its lock); how many events were read."""
    endpoint = (
        await session.execute(
            select(ENDPOINTS.c.tenant_id, ENDPOINTS.c.types, ENDPOINTS.c.last_event_id, ENDPOINTS.c.enabled)
            .where(ENDPOINTS.c.id == endpoint_id)
            .with_for_update()
        )
    ).first()
    if endpoint is None or not endpoint.enabled:
        return 0
    events = (
        await session.execute(
            select(OUTBOX.c.id, OUTBOX.c.type)
            .where(OUTBOX.c.tenant_id == endpoint.tenant_id, OUTBOX.c.id > endpoint.last_event_id)
            .order_by(OUTBOX.c.id)
            .limit(batch)
        )
    ).all()
    if not events:
        return 0
    selected = [e for e in events if not endpoint.types or e.type in endpoint.types]
    if selected:
        await session.execute(
            insert(DELIVERIES),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": endpoint.tenant_id,
                    "endpoint_id": endpoint_id,
                    "event_id": e.id,
                    "message_id": str(e.id),
                    "event_type": e.type,
                    "status": PENDING,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for e in selected
            ],
        )
    await session.execute(update(ENDPOINTS).where(ENDPOINTS.c.id == endpoint_id).values(last_event_id=events[-1].id))
    return len(events)


async def next_due(session: AsyncSession, *, endpoint_id: uuid.UUID, now: datetime) -> WebhookDelivery | None:
    """The delivery to send now (under the endpoint's lock): the stream's head or a manual one, if due."""
    pending = select(WebhookDelivery).where(
        col(WebhookDelivery.endpoint_id) == endpoint_id, col(WebhookDelivery.status) == PENDING
    )
    head = (
        await session.execute(pending.where(~col(WebhookDelivery.manual)).order_by(col(WebhookDelivery.seq)).limit(1))
    ).scalar_one_or_none()
    manual = (
        await session.execute(
            pending.where(col(WebhookDelivery.manual), col(WebhookDelivery.next_attempt_at) <= now)
            .order_by(col(WebhookDelivery.seq))
            .limit(1)
        )
    ).scalar_one_or_none()
    due = [d for d in (head, manual) if d is not None and d.next_attempt_at is not None and d.next_attempt_at <= now]
    return min(due, key=lambda d: d.seq or 0) if due else None


async def body_of(session: AsyncSession, delivery: WebhookDelivery) -> bytes | None:
    """The JSON body of a delivery, read from the event store; None when the event is gone."""
    if delivery.payload is not None:
        return orjson.dumps(delivery.payload)
    query = (
        select(
            OUTBOX.c.id,
            OUTBOX.c.type,
            OUTBOX.c.occurred_at,
            OUTBOX.c.tenant_id,
            OUTBOX.c.user_id,
            OUTBOX.c.data,
            USERS.c.external_id,
        )
        .select_from(OUTBOX.outerjoin(USERS, USERS.c.id == OUTBOX.c.user_id))
        .where(OUTBOX.c.id == delivery.event_id)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return orjson.dumps(
        {
            "id": str(row.id),
            "type": row.type,
            "occurredAt": row.occurred_at.isoformat(),
            "tenantId": str(row.tenant_id),
            "userId": str(row.user_id) if row.user_id is not None else None,
            "userExternalId": row.external_id,
            "data": row.data,
        }
    )


def record_attempt(
    delivery: WebhookDelivery, *, now: datetime, status: int | None, body: str | None, error: str | None
) -> None:
    """Write one attempt's outcome on the delivery: SUCCEEDED on a 2xx, else retried later or FAILED."""
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_response_status = status
    delivery.last_response_body = body
    succeeded = error is None and status is not None and 200 <= status < 300
    delivery.last_error = None if succeeded else (error or f"the endpoint answered HTTP {status}")
    if succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        return
    delivery.next_attempt_at = retry_at(first_attempt_at=delivery.first_attempt_at, failures=delivery.attempts, now=now)
    if delivery.next_attempt_at is None:
        delivery.status = DeliveryStatus.FAILED


def give_up(delivery: WebhookDelivery, *, now: datetime, error: str) -> None:
    """Mark a delivery that can never be sent (its event left the store) FAILED."""
    delivery.status = DeliveryStatus.FAILED
    delivery.last_error = error
    delivery.next_attempt_at = None
    delivery.last_attempt_at = now


async def backlog(session: AsyncSession) -> int:
    """Pending deliveries over every tenant."""
    query = select(func.count()).select_from(DELIVERIES).where(DELIVERIES.c.status == PENDING)
    return int((await session.execute(query)).scalar_one())


async def prune(session: AsyncSession, *, before: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` deliveries created before ``before``; how many went."""
    doomed = select(DELIVERIES.c.id).where(DELIVERIES.c.created_at < before).limit(batch).scalar_subquery()
    result = await session.execute(delete(DELIVERIES).where(and_(DELIVERIES.c.id.in_(doomed))))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
