"""GraphQL types of webhook endpoints and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from sqlmodel import col, select

from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_type
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, Node, PageRequest, to_global_id
from app.webhooks import service
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


@strawberry.enum(name="WebhookDeliveryStatus", description="Where a webhook delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(
        "PENDING", description="Not delivered yet: waiting for its turn or for its next attempt (`nextAttemptAt`)."
    )
    SUCCEEDED = strawberry.enum_value("SUCCEEDED", description="The endpoint answered with a 2xx status.")
    FAILED = strawberry.enum_value(
        "FAILED", description="Given up: 24 hours of attempts failed, or the event left the store."
    )


@strawberry.type(name="WebhookDelivery", description="One event sent (or to be sent) to one webhook endpoint.")
class WebhookDeliveryNode(Node):
    event_id: str = strawberry.field(
        description="The event's id, sent as `webhook-id` (a decimal event id; `test_…` for a test event)."
    )
    event_type: str = strawberry.field(description="The event's type, e.g. `journey.started` or `webhook.test`.")
    attempts: int = strawberry.field(description="How many times it was sent so far.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
    last_response_status: int | None = strawberry.field(
        description="The HTTP status of the last answer; null when there was none (timeout, refused connection)."
    )
    last_response_body: str | None = strawberry.field(description="The first 1 KiB of the last answer's body.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed; null after a success.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is sent next; null unless PENDING.")
    created_at: datetime = strawberry.field(description="When it was queued.")
    delivered_at: datetime | None = strawberry.field(description="When the endpoint accepted it.")

    @classmethod
    def from_model(cls, row: WebhookDelivery) -> WebhookDeliveryNode:
        return cls(
            id=to_global_id("WebhookDelivery", row.id),
            event_id=row.message_id,
            event_type=row.event_type,
            attempts=row.attempts,
            status=WebhookDeliveryStatus(row.status.value),
            last_response_status=row.last_response_status,
            last_response_body=row.last_response_body,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at if row.status is DeliveryStatus.PENDING else None,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )


def _delivery_key(row: WebhookDelivery) -> tuple[object, ...]:
    return (row.seq,)


@strawberry.type(name="WebhookEndpoint", description="A tenant's server that receives its events as signed POSTs.")
class WebhookEndpointNode(Node):
    url: str = strawberry.field(description="Where events are POSTed.")
    types: list[str] = strawberry.field(description="The event types it receives; empty: every type.")
    description: str | None = strawberry.field(description="The admins' note about it.")
    enabled: bool = strawberry.field(description="Whether it receives events (a disabled one receives nothing).")
    created_at: datetime = strawberry.field(description="When it was created; it receives the events after that.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")
    model: strawberry.Private[WebhookEndpoint]

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[WebhookDeliveryStatus | None, strawberry.argument(description="Only this status.")] = None,
    ) -> Connection[WebhookDeliveryNode]:
        viewer = await info.context.admin()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="webhookDeliveries",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={"endpoint": str(self.model.id), "status": status.value if status else None},
        )
        async with info.context.db.read() as session:
            page = await service.list_deliveries(
                session,
                endpoint_id=self.model.id,
                status=DeliveryStatus(status.value) if status else None,
                window=request.window,
            )
        return request.connection(page, key=_delivery_key, node=WebhookDeliveryNode.from_model)

    @classmethod
    def from_model(cls, row: WebhookEndpoint) -> WebhookEndpointNode:
        return cls(
            id=to_global_id("WebhookEndpoint", row.id),
            url=row.url,
            types=list(row.types),
            description=row.description,
            enabled=row.enabled,
            created_at=row.created_at,
            updated_at=row.updated_at,
            model=row,
        )


async def visible_endpoint(info: Info, key: uuid.UUID) -> WebhookEndpoint | None:
    """An endpoint of the viewer's tenant, for admins; None for anyone else."""
    viewer = await info.context.viewer()
    if not viewer.is_admin:
        return None
    query = select(WebhookEndpoint).where(
        col(WebhookEndpoint.id) == key, col(WebhookEndpoint.tenant_id) == viewer.tenant_id
    )
    async with info.context.db.read() as session:
        return (await session.execute(query)).scalar_one_or_none()


@node_type("WebhookEndpoint")
async def webhook_endpoint_node(info: Info, key: uuid.UUID) -> WebhookEndpointNode | None:
    row = await visible_endpoint(info, key)
    return WebhookEndpointNode.from_model(row) if row else None


@node_type("WebhookDelivery")
async def webhook_delivery_node(info: Info, key: uuid.UUID) -> WebhookDeliveryNode | None:
    viewer = await info.context.viewer()
    if not viewer.is_admin:
        return None
    query = select(WebhookDelivery).where(
        col(WebhookDelivery.id) == key, col(WebhookDelivery.tenant_id) == viewer.tenant_id
    )
    async with info.context.db.read() as session:
        row = (await session.execute(query)).scalar_one_or_none()
    return WebhookDeliveryNode.from_model(row) if row else None


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where to POST events: https:// (http:// too outside production), at most 2048 characters."
    )
    types: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Event types to receive, e.g. `journey.completed`; omitted or empty: all."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="A note, at most 1000 characters.")
    enabled: bool | None = strawberry.field(default=strawberry.UNSET, description="Default true.")


@strawberry.input(description="Changes to a webhook endpoint; omitted fields stay as they are.")
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.field(default=strawberry.UNSET, description="Where to POST events.")
    types: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Event types to receive; empty: all."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="A note, at most 1000 characters.")
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="false stops deliveries; true resumes them with the events from then on.",
    )


@strawberry.type(description="A created webhook endpoint and its signing secret.")
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpointNode | None = strawberry.field(description="The endpoint; null when it failed.")
    secret: str | None = strawberry.field(
        description="The signing secret (`whsec_…`), shown this once: keep it in the receiver's configuration."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="A webhook endpoint after a change.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpointNode | None = strawberry.field(description="The endpoint; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="A deleted webhook endpoint.")
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The deleted endpoint's id; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="A webhook endpoint with a new signing secret.")
class RotateWebhookSecretPayload:
    endpoint: WebhookEndpointNode | None = strawberry.field(description="The endpoint; null when it failed.")
    secret: str | None = strawberry.field(
        description="The new secret, shown this once; the previous one keeps signing alongside for 24 hours."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="A delivery queued by a redelivery or a test.")
class WebhookDeliveryPayload:
    delivery: WebhookDeliveryNode | None = strawberry.field(description="The queued delivery; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")
