"""Webhook endpoints and their deliveries.

A delivery row says "this event goes to this endpoint" and how its attempts went; the event
itself stays in the event store (``outbox_events``) and is read when it is sent. Only test
events, which the store never holds, carry their body on the delivery.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Identity, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from app.modelbase import ref, tenant_fk, timestamp, timestamp_now, uuid_pk
from app.tenancy import models as _tenancy  # noqa: F401  (the tenants table the foreign keys name)


class DeliveryStatus(str, Enum):
    """PENDING until an attempt succeeds (SUCCEEDED) or 24 hours of attempts failed (FAILED)."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookEndpoint(SQLModel, table=True):
    """A tenant's server that receives its events, signed with the endpoint's secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_listing", "tenant_id", "created_at", "id"),)

    id: uuid.UUID = uuid_pk()
    tenant_id: uuid.UUID = tenant_fk()
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    # Event types it receives; empty: every type.
    types: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(64)), nullable=False, server_default="{}")
    )
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true")))
    # Encrypted (app/webhooks/secrets.py); the previous secret signs alongside until it expires.
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    previous_secret: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    previous_secret_expires_at: datetime | None = timestamp()
    # The last event of the store considered for this endpoint: deliveries exist for the ones after
    # it only once the worker has queued them (app/webhooks/queue.py).
    last_event_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
    created_at: datetime = timestamp_now()
    updated_at: datetime = timestamp_now()


class WebhookDelivery(SQLModel, table=True):
    """One event (or test event) for one endpoint, and how its attempts went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The endpoint's queue: its pending deliveries in order.
        Index("ix_webhook_deliveries_pending", "endpoint_id", "seq", postgresql_where=text("status = 'PENDING'")),
        Index("ix_webhook_deliveries_listing", "endpoint_id", "seq"),
        Index("ix_webhook_deliveries_created", "created_at"),
        # An event enters an endpoint's ordered stream once; redeliveries and tests are manual.
        Index(
            "uq_webhook_deliveries_stream",
            "endpoint_id",
            "event_id",
            unique=True,
            postgresql_where=text("NOT manual"),
        ),
    )

    id: uuid.UUID = uuid_pk()
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), nullable=False, unique=True)
    )
    tenant_id: uuid.UUID = tenant_fk()
    endpoint_id: uuid.UUID = ref("webhook_endpoints.id")
    # The store's event; null for a test event.
    event_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # The webhook-id header: the event id, or a test event's own id.
    message_id: str = Field(sa_column=Column(String(64), nullable=False))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    # A redelivery or a test: sent on its own, not in the endpoint's ordered stream.
    manual: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false")))
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    status: DeliveryStatus = Field(
        default=DeliveryStatus.PENDING,
        sa_column=Column(SAEnum(DeliveryStatus, name="webhook_delivery_status"), nullable=False),
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    next_attempt_at: datetime | None = timestamp()
    first_attempt_at: datetime | None = timestamp()
    last_attempt_at: datetime | None = timestamp()
    last_response_status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    last_response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = timestamp_now()
    delivered_at: datetime | None = timestamp()
