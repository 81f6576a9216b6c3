"""Webhook mutations (admins): manage endpoints and their secrets, redeliver an event, send a test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.graphql.context import Info
from app.graphql.errors import UserError, user_errors, write_payload
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id, to_global_id
from app.graphql.webhooks.types import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointPayload,
    DeleteWebhookEndpointPayload,
    RotateWebhookSecretPayload,
    UpdateWebhookEndpointInput,
    WebhookDeliveryNode,
    WebhookDeliveryPayload,
    WebhookEndpointNode,
    WebhookEndpointPayload,
)
from app.webhooks import service
from app.webhooks.models import WebhookDelivery
from app.webhooks.secrets import SecretBox
from app.webhooks.urls import UrlPolicy

T = TypeVar("T")
EndpointId = Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")]


def _policy(info: Info) -> UrlPolicy:
    return UrlPolicy.from_settings(info.context.runtime.settings)


def _box(info: Info) -> SecretBox:
    return SecretBox.from_settings(info.context.runtime.settings)


def _wake(info: Info) -> None:
    """New work for the worker: this process looks now rather than at its next poll."""
    if info.context.runtime.webhooks is not None:
        info.context.runtime.webhooks.wake()


async def _delivery(info: Info, work: Callable[[AsyncSession], Awaitable[WebhookDelivery]]) -> WebhookDeliveryPayload:
    payload = await write_payload(
        info,
        work,
        ok=lambda d: WebhookDeliveryPayload(delivery=WebhookDeliveryNode.from_model(d), errors=[]),
        failed=lambda errors: WebhookDeliveryPayload(delivery=None, errors=errors),
    )
    _wake(info)
    return payload


def _missing(field: str = "id") -> list[UserError]:
    return user_errors(NotFound("Webhook endpoint", field=[field]))


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        description="Admins: register a server to receive the tenant's events from now on; returns its secret once."
    )
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[CreateWebhookEndpointInput, strawberry.argument(description="The endpoint's fields.")],
    ) -> CreateWebhookEndpointPayload:
        viewer = await info.context.admin()
        values = service.EndpointFields(**given_fields(input))
        payload = await write_payload(
            info,
            lambda s: service.create_endpoint(
                s, tenant_id=viewer.tenant_id, values=values, policy=_policy(info), box=_box(info)
            ),
            ok=lambda made: CreateWebhookEndpointPayload(
                endpoint=WebhookEndpointNode.from_model(made[0]), secret=made[1], errors=[]
            ),
            failed=lambda errors: CreateWebhookEndpointPayload(endpoint=None, secret=None, errors=errors),
        )
        _wake(info)
        return payload

    @strawberry.mutation(description="Admins: change the given fields of a webhook endpoint.")
    async def update_webhook_endpoint(
        self,
        info: Info,
        id: EndpointId,
        input: Annotated[UpdateWebhookEndpointInput, strawberry.argument(description="The fields to change.")],
    ) -> WebhookEndpointPayload:
        viewer = await info.context.admin()
        key = local_id(id, "WebhookEndpoint")
        if key is None:
            return WebhookEndpointPayload(endpoint=None, errors=_missing())
        values = service.EndpointFields(**given_fields(input))
        payload = await write_payload(
            info,
            lambda s: service.update_endpoint(
                s, tenant_id=viewer.tenant_id, endpoint_id=key, values=values, policy=_policy(info)
            ),
            ok=lambda e: WebhookEndpointPayload(endpoint=WebhookEndpointNode.from_model(e), errors=[]),
            failed=lambda errors: WebhookEndpointPayload(endpoint=None, errors=errors),
        )
        _wake(info)
        return payload

    @strawberry.mutation(description="Admins: delete a webhook endpoint and its deliveries.")
    async def delete_webhook_endpoint(self, info: Info, id: EndpointId) -> DeleteWebhookEndpointPayload:
        viewer = await info.context.admin()
        key = local_id(id, "WebhookEndpoint")
        if key is None:
            return DeleteWebhookEndpointPayload(deleted_id=None, errors=_missing())
        return await write_payload(
            info,
            lambda s: service.delete_endpoint(s, tenant_id=viewer.tenant_id, endpoint_id=key),
            ok=lambda deleted: DeleteWebhookEndpointPayload(
                deleted_id=to_global_id("WebhookEndpoint", deleted), errors=[]
            ),
            failed=lambda errors: DeleteWebhookEndpointPayload(deleted_id=None, errors=errors),
        )

    @strawberry.mutation(
        description="Admins: give an endpoint a new secret (shown once); the old one keeps signing alongside for 24 hours."
    )
    async def rotate_webhook_secret(self, info: Info, id: EndpointId) -> RotateWebhookSecretPayload:
        viewer = await info.context.admin()
        key = local_id(id, "WebhookEndpoint")
        if key is None:
            return RotateWebhookSecretPayload(endpoint=None, secret=None, errors=_missing())
        return await write_payload(
            info,
            lambda s: service.rotate_secret(s, tenant_id=viewer.tenant_id, endpoint_id=key, box=_box(info)),
            ok=lambda made: RotateWebhookSecretPayload(
                endpoint=WebhookEndpointNode.from_model(made[0]), secret=made[1], errors=[]
            ),
            failed=lambda errors: RotateWebhookSecretPayload(endpoint=None, secret=None, errors=errors),
        )

    @strawberry.mutation(
        description=(
            "Admins: send a stored event (kept 7 days) to the endpoint once more, as a delivery of its own "
            "(not held behind the endpoint's pending ones). NOT_FOUND for an unknown endpoint or event."
        )
    )
    async def redeliver_webhook_event(
        self,
        info: Info,
        endpoint_id: EndpointId,
        event_id: Annotated[str, strawberry.argument(description="The event's id (`WebhookDelivery.eventId`).")],
    ) -> WebhookDeliveryPayload:
        viewer = await info.context.admin()
        key = local_id(endpoint_id, "WebhookEndpoint")
        if key is None:
            return WebhookDeliveryPayload(delivery=None, errors=_missing("endpointId"))
        return await _delivery(
            info, lambda s: service.redeliver(s, tenant_id=viewer.tenant_id, endpoint_id=key, event_id=event_id)
        )

    @strawberry.mutation(description="Admins: send the endpoint a signed `webhook.test` event.")
    async def send_test_webhook(self, info: Info, endpoint_id: EndpointId) -> WebhookDeliveryPayload:
        viewer = await info.context.admin()
        key = local_id(endpoint_id, "WebhookEndpoint")
        if key is None:
            return WebhookDeliveryPayload(delivery=None, errors=_missing("endpointId"))
        return await _delivery(info, lambda s: service.send_test(s, tenant_id=viewer.tenant_id, endpoint_id=key))
