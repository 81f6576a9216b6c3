"""GraphQL types of tenancy: Viewer, Tenant, ApiKey."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_type
from app.graphql.onboarding.types import ClassificationType
from app.graphql.relay import Node, to_global_id
from app.realtime.store import user_channel
from app.tenancy.credentials import Role
from app.tenancy.models import ApiKey, Tenant
from app.tenancy.service import Viewer

RoleEnum = strawberry.enum(
    Role, name="Role", description="What a viewer may do: `user` their own progress, `admin` the tenant."
)


@strawberry.type(name="Tenant", description="An organisation using Journeys.")
class TenantNode(Node):
    slug: str = strawberry.field(description="The tenant's slug, as in user tokens' `tenant` claim.")
    name: str = strawberry.field(description="Display name.")
    timezone: str = strawberry.field(description="Default IANA timezone for users who have none.")
    level_thresholds: list[int] = strawberry.field(description="Cumulative XP needed for each level (level 1 at 0 XP).")

    @classmethod
    def from_model(cls, tenant: Tenant) -> TenantNode:
        return cls(
            id=to_global_id("Tenant", tenant.id),
            slug=tenant.slug,
            name=tenant.name,
            timezone=tenant.timezone,
            level_thresholds=list(tenant.level_thresholds),
        )


@strawberry.type(description="Who is asking.")
class ViewerType:
    id: strawberry.ID = strawberry.field(description="The viewer's global user id.")
    external_id: str = strawberry.field(description="The user's id in the tenant's own system (the token's `sub`).")
    role: Role = strawberry.field(description="The viewer's role.")
    timezone: str = strawberry.field(
        description="The timezone local days are computed in: the token's `tz`, the user's, the tenant's or UTC."
    )
    tenant: TenantNode = strawberry.field(description="The viewer's tenant.")
    channel_name: str = strawberry.field(description="The viewer's realtime channel: `user:{tenantId}:{userId}`.")
    user_key: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="The viewer's latest classification (from completing an onboarding's form); null if none."
    )
    async def classification(self, info: Info) -> ClassificationType | None:
        row = await info.context.loaders.classification.load(self.user_key)
        return ClassificationType.from_model(row) if row else None

    @classmethod
    def from_viewer(cls, viewer: Viewer) -> ViewerType:
        return cls(
            id=to_global_id("User", viewer.user_id),
            external_id=viewer.user.external_id,
            role=viewer.role,
            timezone=viewer.token_timezone or viewer.user.timezone or viewer.tenant.timezone or "UTC",
            tenant=TenantNode.from_model(viewer.tenant),
            channel_name=user_channel(viewer.tenant_id, viewer.user_id).name,
            user_key=viewer.user_id,
        )


@strawberry.type(name="ApiKey", description="A tenant API key (the secret itself is never shown again).")
class ApiKeyNode(Node):
    name: str = strawberry.field(description="What the key is for.")
    prefix: str = strawberry.field(description="The key's public beginning, `sk_<keyid>_`, to recognise it.")
    created_at: datetime = strawberry.field(description="When it was created.")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked, if it was.")
    last_used_at: datetime | None = strawberry.field(description="About when it was last used (hourly resolution).")

    @classmethod
    def from_model(cls, key: ApiKey) -> ApiKeyNode:
        return cls(
            id=to_global_id("ApiKey", key.id),
            name=key.name,
            prefix=f"sk_{key.key_id}_",
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


@strawberry.type(description="The result of changing tenant settings.")
class TenantPayload:
    tenant: TenantNode | None = strawberry.field(description="The tenant; null when the mutation failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="A new API key: the secret is shown here once and never again.")
class CreateApiKeyPayload:
    api_key: ApiKeyNode | None = strawberry.field(description="The key; null when the mutation failed.")
    secret: str | None = strawberry.field(description="The full key to send as `Authorization: Bearer <secret>`.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of an API key mutation.")
class ApiKeyPayload:
    api_key: ApiKeyNode | None = strawberry.field(description="The key; null when the mutation failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.input(description="Tenant settings to change; omitted fields stay as they are.")
class TenantSettingsInput:
    timezone: str | None = strawberry.field(default=strawberry.UNSET, description="Default IANA timezone.")
    level_thresholds: list[int] | None = strawberry.field(
        default=strawberry.UNSET, description="Cumulative XP per level, starting at 0 and strictly increasing."
    )


@node_type("Tenant")
async def tenant_node(info: Info, key: uuid.UUID) -> TenantNode | None:
    """Only the viewer's own tenant is visible."""
    viewer = await info.context.viewer()
    return TenantNode.from_model(viewer.tenant) if viewer.tenant_id == key else None


@node_type("ApiKey")
async def api_key_node(info: Info, key: uuid.UUID) -> ApiKeyNode | None:
    """Admins see their tenant's keys; users see none."""
    viewer = await info.context.viewer()
    if not viewer.is_admin:
        return None
    async with info.context.db.read() as session:
        api_key = await session.get(ApiKey, key)
    return ApiKeyNode.from_model(api_key) if api_key and api_key.tenant_id == viewer.tenant_id else None
