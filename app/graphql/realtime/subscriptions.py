"""Realtime subscriptions: the viewer's own events, and (admins) the tenant's."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.realtime.types import RealtimeEvent
from app.graphql.relay import bad_input
from app.graphql.tenancy.users import UserExternalIdFilter, user_filter
from app.metrics import SUBSCRIPTIONS_ACTIVE, observe_delivery
from app.realtime.store import Channel, admin_channel, user_channel

MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,19}")

After = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "An event id already seen: the stored events after it are replayed first (events are kept "
            "at least 7 days), then live ones follow, with no gap and no duplicate. Omit it for live events only."
        )
    ),
]
Types = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Only events of these types (exact names such as `journey.started`); omit for all."
    ),
]


def parse_after(after: str | None) -> int | None:
    """The `after` argument as an event id; BAD_USER_INPUT unless it is a non-negative integer."""
    if after is None:
        return None
    if not _EVENT_ID.fullmatch(after) or int(after) > MAX_EVENT_ID:
        raise bad_input("after must be an event id (a non-negative integer)", "after")
    return int(after)


async def deliver(
    info: Info, channel: Channel, after: int | None, types: list[str] | None
) -> AsyncGenerator[RealtimeEvent, None]:
    """The channel's events as GraphQL values, each resolved with a fresh session and loaders."""
    wanted = set(types) if types is not None else None
    realtime = info.context.runtime.realtime
    SUBSCRIPTIONS_ACTIVE.inc()
    try:
        async for event in realtime.subscribe(channel.name, after=after):
            if wanted is not None and event.type not in wanted:
                continue
            # The socket's context lives as long as the socket: give each event its own session and loaders.
            await info.context.renew()
            yield RealtimeEvent.from_stored(event)
            # Resumed once the event is resolved and sent: delivered (app/metrics.py).
            observe_delivery(event.occurred_at)
    finally:
        SUBSCRIPTIONS_ACTIVE.dec()
        await info.context.renew()


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(
        description=(
            "The viewer's own events (their channel `user:{tenantId}:{userId}`), in order, as they are committed."
        )
    )
    async def user_events(
        self, info: Info, after: After = None, types: Types = None
    ) -> AsyncGenerator[RealtimeEvent, None]:
        viewer = await info.context.viewer()
        cursor = parse_after(after)
        async for event in deliver(info, user_channel(viewer.tenant_id, viewer.user_id), cursor, types):
            yield event

    @strawberry.subscription(
        description=(
            "Admins: every event of the tenant (its channel `admin:{tenantId}`), including catalogue authoring, "
            "in order, as they are committed."
        )
    )
    async def admin_events(
        self,
        info: Info,
        after: After = None,
        types: Types = None,
        user_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only this user's events: their global id (`User.id`) or their UUID (an event's `userId`)."
            ),
        ] = None,
        user_external_id: UserExternalIdFilter = None,
    ) -> AsyncGenerator[RealtimeEvent, None]:
        viewer = await info.context.admin()
        cursor = parse_after(after)
        channel = admin_channel(viewer.tenant_id)
        # An id of nothing matches nothing, as an unknown user's would.
        user_key = await user_filter(info, user_id=user_id, user_external_id=user_external_id, raw_ids=True)
        if user_key is not None:
            # A user's events in the tenant are exactly their channel's: same ids, same order, fewer reads.
            channel = user_channel(viewer.tenant_id, user_key)
        async for event in deliver(info, channel, cursor, types):
            yield event
