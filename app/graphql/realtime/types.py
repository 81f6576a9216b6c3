"""GraphQL types of realtime: the delivered event and the scope of a realtime grant."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.graphql.scalars import JSON
from app.realtime.store import StoredEvent


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
        description="The user's UUID, as in channel names; null for tenant-wide events (catalogue authoring)."
    )
    data: JSON = strawberry.field(description="The event's details; their shape depends on `type`.")

    @classmethod
    def from_stored(cls, event: StoredEvent) -> RealtimeEvent:
        return cls(
            id=strawberry.ID(str(event.id)),
            type=event.type,
            occurred_at=event.occurred_at,
            tenant_id=strawberry.ID(str(event.tenant_id)),
            user_id=strawberry.ID(str(event.user_id)) if event.user_id else None,
            data=JSON(event.data),
        )
