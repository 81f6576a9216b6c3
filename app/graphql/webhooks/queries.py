"""Webhook queries (admins): the tenant's endpoints, and one endpoint with its deliveries."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest, local_id
from app.graphql.webhooks.types import WebhookEndpointNode, visible_endpoint
from app.webhooks import service
from app.webhooks.models import WebhookEndpoint


def _endpoint_key(row: WebhookEndpoint) -> tuple[object, ...]:
    return (row.created_at, row.id)


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Admins: the tenant's webhook endpoints, oldest first.")
    async def webhook_endpoints(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[WebhookEndpointNode]:
        viewer = await info.context.admin()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="webhookEndpoints",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={},
        )
        async with info.context.db.read() as session:
            page = await service.list_endpoints(session, tenant_id=viewer.tenant_id, window=request.window)
        return request.connection(page, key=_endpoint_key, node=WebhookEndpointNode.from_model)

    @strawberry.field(description="Admins: one webhook endpoint by id; null if it is not the tenant's.")
    async def webhook_endpoint(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")]
    ) -> WebhookEndpointNode | None:
        await info.context.admin()
        key = local_id(id, "WebhookEndpoint")
        row = await visible_endpoint(info, key) if key else None
        return WebhookEndpointNode.from_model(row) if row else None
