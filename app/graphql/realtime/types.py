"""GraphQL types of realtime: the delivered event and the scope of a realtime grant."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.node import node_by_key
from app.graphql.scalars import JSON
from app.realtime.store import StoredEvent

if TYPE_CHECKING:
    from app.graphql.tenancy.users import UserNode


@strawberry.enum(description="Whose channel a realtime grant is for.")
class RealtimeScope(Enum):
    USER = strawberry.enum_value("USER", description="The viewer's own channel `user:{tenantId}:{userId}`.")
    ADMIN = strawberry.enum_value("ADMIN", description="Admins only: the tenant's channel `admin:{tenantId}`.")


@strawberry.type(description="One recorded change, as delivered to realtime subscribers.")
class RealtimeEvent:
    id: strawberry.ID = strawberry.field(
        description="The event's id: a decimal number, increasing within a tenant; pass it as `after` to resume."
    )
    type: str = strawberry.field(description="What happened, e.g. `journey.started` or `xp.awarded`.")
    occurred_at: datetime = strawberry.field(description="When the change was made.")
    tenant_id: strawberry.ID = strawberry.field(description="The tenant's UUID, as in channel names.")
    user_id: strawberry.ID | None = strawberry.field(
        description=(
            "The user's UUID, as in channel names (`user.id` is their global id); null for tenant-wide events "
            "(catalogue authoring)."
        )
    )
    data: JSON = strawberry.field(description="The event's details; their shape depends on `type`.")
    user_key: strawberry.Private[uuid.UUID | None] = None

    @strawberry.field(description="The user the event is about; null for tenant-wide events (catalogue authoring).")
    async def user(self, info: Info) -> Annotated[UserNode, strawberry.lazy("app.graphql.tenancy.users")] | None:
        if self.user_key is None:
            return None
        user: UserNode | None = await node_by_key(info, "User", self.user_key)
        return user

    @classmethod
    def from_stored(cls, event: StoredEvent) -> RealtimeEvent:
        return cls(
            id=strawberry.ID(str(event.id)),
            type=event.type,
            occurred_at=event.occurred_at,
            tenant_id=strawberry.ID(str(event.tenant_id)),
            user_id=strawberry.ID(str(event.user_id)) if event.user_id else None,
            data=JSON(event.data),
            user_key=event.user_id,
        )
