"""Webhook endpoints as admins manage them: create, change, delete, rotate, list, redeliver, test."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.errors import DomainError, ErrorCode, NotFound, Problems
from app.modelbase import UNSET, PartialFields, utcnow
from app.pagination import Page, Window, fetch_page
from app.realtime.models import OutboxEvent
from app.realtime.outbox import EventType
from app.webhooks import secrets
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.secrets import SecretBox
from app.webhooks.urls import UrlPolicy, check_url

TEST_TYPE = "webhook.test"
ROTATION_OVERLAP = timedelta(hours=24)
MAX_DESCRIPTION = 1000
MAX_TYPES = 64
KNOWN_TYPES = frozenset(t.value for t in EventType)
ENDPOINT_KEYS = (col(WebhookEndpoint.created_at), col(WebhookEndpoint.id))
DELIVERY_KEYS = (col(WebhookDelivery.seq),)
OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]


@dataclass
class EndpointFields(PartialFields):
    """Endpoint fields an admin sets; ``UNSET`` ones are left as they are."""

    url: Any = UNSET
    types: Any = UNSET
    description: Any = UNSET
    enabled: Any = UNSET


async def _clean(values: dict[str, Any], *, creating: bool, policy: UrlPolicy) -> dict[str, Any]:
    problems = Problems("input")
    clean: dict[str, Any] = {}
    if "types" in values:
        types = list(dict.fromkeys(values["types"] or []))
        unknown = sorted(t for t in types if t not in KNOWN_TYPES)
        if unknown:
            problems.add("types", f"unknown event types: {', '.join(unknown)[:200]}")
        elif len(types) > MAX_TYPES:
            problems.add("types", f"at most {MAX_TYPES} types")
        clean["types"] = types
    if "description" in values:
        description = problems.text("description", values["description"], required=False, limit=MAX_DESCRIPTION)
        clean["description"] = description or None
    if "enabled" in values:
        if values["enabled"] is None:
            problems.add("enabled", "must be true or false")
        clean["enabled"] = values["enabled"]
    problems.raise_if_any()
    if creating or "url" in values:
        clean["url"] = await check_url(values.get("url"), policy)
    return clean


async def _tenant_position(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """The tenant's latest event id: an endpoint receives the events after it."""
    latest = (await session.execute(select(func.max(OUTBOX.c.id)).where(OUTBOX.c.tenant_id == tenant_id))).scalar()
    return int(latest or 0)


async def get_endpoint(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, lock: bool = False, field: str = "id"
) -> WebhookEndpoint:
    """The tenant's endpoint; NOT_FOUND (on ``field``) otherwise."""
    query = select(WebhookEndpoint).where(
        col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.tenant_id) == tenant_id
    )
    endpoint = (await session.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound("Webhook endpoint", field=[field])
    return endpoint


async def create_endpoint(
    session: AsyncSession, *, tenant_id: uuid.UUID, values: EndpointFields, policy: UrlPolicy, box: SecretBox
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, receiving the tenant's events from now on, and its secret (shown once)."""
    clean = await _clean(values.given(), creating=True, policy=policy)
    secret = secrets.new_secret()
    endpoint_id = uuid.uuid4()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        tenant_id=tenant_id,
        secret=box.seal(secret, endpoint_id=endpoint_id),
        last_event_id=await _tenant_position(session, tenant_id),
        **clean,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secrets.shown(secret)


async def update_endpoint(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, values: EndpointFields, policy: UrlPolicy
) -> WebhookEndpoint:
    """Change the given fields. Re-enabling starts from the events after now: a disabled endpoint misses what
    happened meanwhile (its deliveries still pending are sent again)."""
    clean = await _clean(values.given(), creating=False, policy=policy)
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id, lock=True)
    if clean.get("enabled") and not endpoint.enabled:
        endpoint.last_event_id = await _tenant_position(session, tenant_id)
    for name, value in clean.items():
        setattr(endpoint, name, value)
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> uuid.UUID:
    """Delete an endpoint and its deliveries."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id, lock=True)
    await session.delete(endpoint)
    await session.flush()
    return endpoint_id


async def rotate_secret(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, box: SecretBox, now: datetime | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new secret (shown once); the current one keeps signing alongside for 24 hours."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id, lock=True)
    secret = secrets.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = (now or utcnow()) + ROTATION_OVERLAP
    endpoint.secret = box.seal(secret, endpoint_id=endpoint.id)
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint, secrets.shown(secret)


async def list_endpoints(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[WebhookEndpoint]:
    """The tenant's endpoints, oldest first."""
    query = select(WebhookEndpoint).where(col(WebhookEndpoint.tenant_id) == tenant_id)
    return await fetch_page(
        session, query, keys=ENDPOINT_KEYS, window=window, after=after, first=first, descending=False
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    endpoint_id: uuid.UUID,
    status: DeliveryStatus | None,
    first: int | None = None,
    after: Sequence[Any] | None = None,
    window: Window | None = None,
) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first."""
    query = select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    return await fetch_page(
        session, query, keys=DELIVERY_KEYS, window=window, after=after, first=first, descending=True
    )


def _manual(endpoint: WebhookEndpoint, *, now: datetime, **fields: Any) -> WebhookDelivery:
    return WebhookDelivery(
        tenant_id=endpoint.tenant_id,
        endpoint_id=endpoint.id,
        manual=True,
        next_attempt_at=now,
        created_at=now,
        **fields,
    )


async def redeliver(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, event_id: str, now: datetime | None = None
) -> WebhookDelivery:
    """Send a stored event of the tenant to the endpoint once more, as a delivery of its own."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id, field="endpointId")
    key = int(event_id) if event_id.isdigit() and len(event_id) < 19 else None
    row = None
    if key is not None:
        query = select(OUTBOX.c.id, OUTBOX.c.type).where(OUTBOX.c.id == key, OUTBOX.c.tenant_id == tenant_id)
        row = (await session.execute(query)).first()
    if row is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "no stored event with this id (events are kept 7 days)", field=["eventId"]
        )
    delivery = _manual(endpoint, now=now or utcnow(), event_id=row.id, message_id=str(row.id), event_type=row.type)
    session.add(delivery)
    await session.flush()
    return delivery


async def send_test(
    session: AsyncSession, *, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, now: datetime | None = None
) -> WebhookDelivery:
    """Send the endpoint a `webhook.test` event (not in the event store; its body is kept on the delivery)."""
    endpoint = await get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id, field="endpointId")
    at = now or utcnow()
    message_id = f"test_{uuid.uuid4().hex}"
    body = {
        "id": message_id,
        "type": TEST_TYPE,
        "occurredAt": at.isoformat(),
        "tenantId": str(tenant_id),
        "userId": None,
        "userExternalId": None,
        "data": {"message": "A test event: this endpoint receives and verifies Journeys webhooks."},
    }
    delivery = _manual(endpoint, now=at, event_id=None, message_id=message_id, event_type=TEST_TYPE, payload=body)
    session.add(delivery)
    await session.flush()
    return delivery
