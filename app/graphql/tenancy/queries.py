"""Tenancy queries: the viewer and the tenant's API keys."""

from __future__ import annotations

import strawberry
from sqlmodel import col, select

from app.graphql.context import Info
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest
from app.graphql.tenancy.types import ApiKeyNode, ViewerType
from app.pagination import fetch_page
from app.tenancy.models import ApiKey

API_KEY_ORDER = (col(ApiKey.created_at), col(ApiKey.id))


@strawberry.type
class TenancyQuery:
    @strawberry.field(description="Who is asking: the authenticated user (or API key) and their tenant.")
    async def viewer(self, info: Info) -> ViewerType:
        return ViewerType.from_viewer(await info.context.viewer())

    @strawberry.field(description="Admins: the tenant's API keys, newest first.")
    async def api_keys(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ApiKeyNode]:
        viewer = await info.context.admin()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="apiKeys",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={},
        )
        async with info.context.db.read() as session:
            page = await fetch_page(
                session,
                select(ApiKey).where(col(ApiKey.tenant_id) == viewer.tenant_id),
                keys=API_KEY_ORDER,
                window=request.window,
                descending=True,
            )
        return request.connection(page, key=lambda k: (k.created_at, k.id), node=ApiKeyNode.from_model)
