"""Tenancy mutations: tenant settings and API keys (admins only)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import NotFound
from app.graphql.context import Info
from app.graphql.errors import Failed, run_write, user_errors
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id
from app.graphql.tenancy.types import (
    ApiKeyNode,
    ApiKeyPayload,
    CreateApiKeyPayload,
    TenantNode,
    TenantPayload,
    TenantSettingsInput,
)
from app.tenancy import service


@strawberry.type
class TenancyMutation:
    @strawberry.mutation(description="Admins: change the tenant's default timezone and level thresholds.")
    async def update_tenant_settings(
        self, info: Info, input: Annotated[TenantSettingsInput, strawberry.argument(description="What to change.")]
    ) -> TenantPayload:
        viewer = await info.context.admin()
        values = given_fields(input)
        result = await run_write(
            info, lambda s: service.update_tenant_settings(s, tenant_id=viewer.tenant_id, **values)
        )
        if isinstance(result, Failed):
            return TenantPayload(tenant=None, errors=result.errors)
        return TenantPayload(tenant=TenantNode.from_model(result.value), errors=[])

    @strawberry.mutation(description="Admins: create an API key; its secret is returned once.")
    async def create_api_key(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="What the key is for, 1-200 characters.")],
    ) -> CreateApiKeyPayload:
        viewer = await info.context.admin()
        result = await run_write(info, lambda s: service.create_api_key(s, tenant_id=viewer.tenant_id, name=name))
        if isinstance(result, Failed):
            return CreateApiKeyPayload(api_key=None, secret=None, errors=result.errors)
        key, secret = result.value
        return CreateApiKeyPayload(api_key=ApiKeyNode.from_model(key), secret=secret, errors=[])

    @strawberry.mutation(description="Admins: revoke an API key; it stops working at once.")
    async def revoke_api_key(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The key's id.")]
    ) -> ApiKeyPayload:
        viewer = await info.context.admin()
        key_id = local_id(id, "ApiKey")
        if key_id is None:
            return ApiKeyPayload(api_key=None, errors=user_errors(NotFound("API key", field=["id"])))
        result = await run_write(info, lambda s: service.revoke_api_key(s, tenant_id=viewer.tenant_id, key_id=key_id))
        if isinstance(result, Failed):
            return ApiKeyPayload(api_key=None, errors=result.errors)
        return ApiKeyPayload(api_key=ApiKeyNode.from_model(result.value), errors=[])
