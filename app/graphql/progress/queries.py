"""Progress queries: the viewer's journey instances and what to do today; admins read everyone's."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import strawberry

from app.graphql.catalog.types import JourneyNode
from app.graphql.context import Info
from app.graphql.progress.types import (
    EventInstanceNode,
    JourneyInstanceNode,
    TodayJourneyGroup,
    visible_instance,
)
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest, local_id
from app.graphql.tenancy.users import UserExternalIdFilter, UserIdFilter, user_filter
from app.progress import reads, today
from app.progress.clock import viewer_local_date
from app.progress.models import InstanceStatus, JourneyInstance

StatusFilter = Annotated[InstanceStatus | None, strawberry.argument(description="Only instances with this status.")]
NOTHING = uuid.UUID(int=0)


def _instance_key(instance: JourneyInstance) -> tuple[object, ...]:
    return (instance.started_at, instance.id)


async def _instances_page(
    info: Info,
    *,
    list_name: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    user_id: uuid.UUID | None,
    journey_id: uuid.UUID | None,
    status: InstanceStatus | None,
) -> Connection[JourneyInstanceNode]:
    viewer = await info.context.viewer()
    request = PageRequest(
        info.context.cursors,
        tenant_id=viewer.tenant_id,
        list_name=list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        filters={
            "user": str(user_id) if user_id else None,
            "journey": str(journey_id) if journey_id else None,
            "status": status.value if status else None,
        },
    )
    async with info.context.db.read() as session:
        page = await reads.my_instances(
            session,
            tenant_id=viewer.tenant_id,
            user_id=user_id,
            journey_id=journey_id,
            status=status,
            window=request.window,
        )
    return request.connection(page, key=_instance_key, node=JourneyInstanceNode.from_model)


@strawberry.type
class ProgressQuery:
    @strawberry.field(description="The viewer's journey instances, newest started first.")
    async def my_journeys(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: StatusFilter = None,
    ) -> Connection[JourneyInstanceNode]:
        viewer = await info.context.viewer()
        return await _instances_page(
            info,
            list_name="myJourneys",
            first=first,
            after=after,
            last=last,
            before=before,
            user_id=viewer.user_id,
            journey_id=None,
            status=status,
        )

    @strawberry.field(
        description="Admins: the tenant's journey instances, newest started first, optionally of one user or journey."
    )
    async def journey_instances(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        user_id: UserIdFilter = None,
        journey_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only runs of this journey.")
        ] = None,
        status: StatusFilter = None,
        user_external_id: UserExternalIdFilter = None,
    ) -> Connection[JourneyInstanceNode]:
        await info.context.admin()
        # An id of nothing matches nothing (an empty page), as an unknown id would.
        user_key = await user_filter(info, user_id=user_id, user_external_id=user_external_id)
        journey_key = (local_id(journey_id, "Journey") or NOTHING) if journey_id is not None else None
        return await _instances_page(
            info,
            list_name="journeyInstances",
            first=first,
            after=after,
            last=last,
            before=before,
            user_id=user_key,
            journey_id=journey_key,
            status=status,
        )

    @strawberry.field(description="One journey instance: the viewer's own (admins: any of the tenant's); else null.")
    async def journey_instance(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The instance's id.")]
    ) -> JourneyInstanceNode | None:
        await info.context.viewer()
        key = local_id(id, "JourneyInstance")
        instance = await visible_instance(info, key) if key else None
        return JourneyInstanceNode.from_model(instance) if instance else None

    @strawberry.field(
        description=(
            "What to do on a day: for each ACTIVE instance (oldest started first) its events not completed, "
            "scheduled ones due or overdue by position, then unscheduled ones by position."
        )
    )
    async def today_events(
        self,
        info: Info,
        date: Annotated[
            date | None,
            strawberry.argument(description="The local day; default today in the viewer's timezone."),
        ] = None,
        timezone: Annotated[
            str | None,
            strawberry.argument(
                description="IANA timezone for today (default: the token's, the user's, the tenant's, UTC)."
            ),
        ] = None,
    ) -> list[TodayJourneyGroup]:
        viewer = await info.context.viewer()
        day = viewer_local_date(
            requested=date,
            argument=timezone,
            token_timezone=viewer.token_timezone,
            user_timezone=viewer.user.timezone,
            tenant_timezone=viewer.tenant.timezone,
        )
        async with info.context.db.read() as session:
            groups = await today.today_events(
                session, tenant_id=viewer.tenant_id, user_id=viewer.user_id, local_date=day
            )
        return [
            TodayJourneyGroup(
                instance=JourneyInstanceNode.from_model(group.instance),
                journey=JourneyNode.from_model(group.journey),
                events=[EventInstanceNode.from_state(e) for e in group.events],
            )
            for group in groups
        ]
