"""GraphQL types of a user's progress: journey instances, their events and logs, today's events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.graphql.acting import ActorType
from app.graphql.catalog.types import JourneyEventNode, JourneyNode
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_by_key, node_type
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, Node, PageRequest, to_global_id
from app.graphql.rewards.types import RewardNode
from app.graphql.scalars import JSON
from app.progress import reads
from app.progress.models import EventStatus, InstanceStatus, JourneyLog
from app.progress.reads import InstanceRow

if TYPE_CHECKING:
    from app.graphql.tenancy.users import UserNode

InstanceStatusEnum = strawberry.enum(
    InstanceStatus,
    name="JourneyInstanceStatus",
    description="ACTIVE while under way, SUSPENDED while paused, then COMPLETED or ABANDONED.",
)
EventStatusEnum = strawberry.enum(
    EventStatus,
    name="EventInstanceStatus",
    description="Where one event of a run is: NOT_STARTED, IN_PROGRESS or COMPLETED.",
)


@strawberry.type(name="EventInstance", description="One event of a journey instance, with the user's status.")
class EventInstanceNode(Node):
    """Each field reads the event's state when it is asked for (a page of runs serves many events,
    most documents only their status)."""

    state: strawberry.Private[reads.EventState]

    # Node's `id` as a resolver here, made when asked for (its uuid5 is most of an event's cost;
    # pages of runs mostly ask for statuses). Strawberry takes the override; mypy's dataclass
    # view of Node does not know it.
    @strawberry.field(description="The object's opaque global id.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return to_global_id("EventInstance", self.state.id)

    @strawberry.field(description="The journey's event this is an instance of.")
    def journey_event(self) -> JourneyEventNode:
        return JourneyEventNode.from_model(self.state.journey_event)

    @strawberry.field(description="The event's position in the journey, 1..n.")
    def position(self) -> int:
        return self.state.position

    @strawberry.field(description="NOT_STARTED, IN_PROGRESS or COMPLETED.")
    def status(self) -> EventStatus:
        return self.state.status

    @strawberry.field(description="The local day it is scheduled on (shifted by suspensions); null when unscheduled.")
    def scheduled_on(self) -> date | None:
        return self.state.scheduled_on

    @strawberry.field(description="When it was started, if it was.")
    def started_at(self) -> datetime | None:
        return self.state.started_at

    @strawberry.field(description="When it was completed, if it was.")
    def completed_at(self) -> datetime | None:
        return self.state.completed_at

    @classmethod
    def from_state(cls, state: reads.EventState) -> EventInstanceNode:
        return cls(state=state)  # type: ignore[call-arg]  # (no `id`: resolved, above)


@strawberry.type(name="JourneyProgress", description="How far a journey instance is.")
class InstanceProgress:
    completed_events: int = strawberry.field(description="Events completed.")
    total_events: int = strawberry.field(description="Events in the journey.")
    percent: int = strawberry.field(description="Whole percent completed, rounded down (100 only when all are).")


@strawberry.type(description="The journey event a log entry is about, as it was when logged.")
class JourneyLogEvent:
    id: strawberry.ID = strawberry.field(description="The journey event's global id.")
    position: int | None = strawberry.field(description="Its position when logged.")
    title: str | None = strawberry.field(description="Its title when logged.")


@strawberry.type(name="JourneyLog", description="An entry of a journey instance's history.")
class JourneyLogType:
    action: str = strawberry.field(
        description="`started`, `suspended`, `resumed`, `abandoned`, `completed`, `event_started` or `event_completed`."
    )
    metadata: JSON = strawberry.field(description="The metadata sent with the change.")
    logged_at: datetime = strawberry.field(description="When it happened.")
    event: JourneyLogEvent | None = strawberry.field(description="The event it is about, for event entries.")
    actor: ActorType = strawberry.field(description="Who made the change: the run's user, an admin or an API key.")

    @classmethod
    def from_model(cls, entry: JourneyLog) -> JourneyLogType:
        event = (
            JourneyLogEvent(
                id=to_global_id("JourneyEvent", entry.journey_event_id),
                position=entry.event_position,
                title=entry.event_title,
            )
            if entry.journey_event_id is not None
            else None
        )
        return cls(
            action=entry.action,
            metadata=JSON(entry.metadata_),
            logged_at=entry.logged_at,
            event=event,
            actor=ActorType.of(entry),
        )


def _log_key(entry: JourneyLog) -> tuple[object, ...]:
    return (entry.id,)


def _event_key(state: reads.EventState) -> tuple[object, ...]:
    return (state.position,)


@strawberry.type(name="JourneyInstance", description="One user's run through a journey.")
class JourneyInstanceNode(Node):
    status: InstanceStatus = strawberry.field(description="ACTIVE, SUSPENDED, COMPLETED or ABANDONED.")
    journey_version: int = strawberry.field(
        description="The version of the journey this run follows: its events, schedule and XP."
    )
    user_id: strawberry.ID = strawberry.field(description="The global id of the user whose run it is.")
    started_at: datetime = strawberry.field(description="When it was started.")
    started_on: date = strawberry.field(description="The local day it was started on: day 0 of its schedule.")
    timezone: str = strawberry.field(description="The IANA timezone its local days are counted in.")
    suspended_at: datetime | None = strawberry.field(description="When it was suspended, while it is.")
    completed_at: datetime | None = strawberry.field(description="When its last event was completed.")
    metadata: JSON = strawberry.field(description="The metadata sent when it was started.")
    model: strawberry.Private[InstanceRow]

    @strawberry.field(description="The user whose run it is.")
    async def user(self, info: Info) -> Annotated[UserNode, strawberry.lazy("app.graphql.tenancy.users")]:
        user: UserNode = await node_by_key(info, "User", self.model.user_id)
        return user

    @strawberry.field(description="The journey as the version this run follows has it.")
    async def journey(self, info: Info) -> JourneyNode:
        journey = await info.context.loaders.journey_at.load((self.model.journey_id, self.model.journey_version))
        assert journey is not None  # a run's version is never deleted
        return JourneyNode.from_model(journey)

    @strawberry.field(description="Events completed out of all the journey's events.")
    async def progress(self, info: Info) -> InstanceProgress:
        found = await info.context.loaders.progress.load(self.model.id)
        return InstanceProgress(
            completed_events=found.completed_events, total_events=found.total_events, percent=found.percent
        )

    @strawberry.field(description="Every event of the journey in position order, with its status.")
    async def events(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[EventStatus | None, strawberry.argument(description="Only events with this status.")] = None,
    ) -> Connection[EventInstanceNode]:
        viewer = await info.context.viewer()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="JourneyInstance.events",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={"instance": str(self.model.id), "status": status.value if status else None},
        )
        page = await info.context.loaders.instance_events.load((self.model.id, status, request.window))
        return request.connection(
            page,
            key=_event_key,
            node=EventInstanceNode.from_state,
            count=lambda ctx: ctx.loaders.instance_event_count.load((self.model.id, status)),
        )

    @strawberry.field(description="Its history, oldest first.")
    async def logs(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[JourneyLogType]:
        viewer = await info.context.viewer()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="JourneyInstance.logs",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={"instance": str(self.model.id)},
        )
        page = await info.context.loaders.instance_logs.load((self.model.id, request.window))
        return request.connection(
            page,
            key=_log_key,
            node=JourneyLogType.from_model,
            count=lambda ctx: ctx.loaders.instance_log_count.load(self.model.id),
        )

    @classmethod
    def from_model(cls, instance: InstanceRow) -> JourneyInstanceNode:
        """From a ``JourneyInstance`` (mutations) or a Core row (reads)."""
        return cls(
            id=to_global_id("JourneyInstance", instance.id),
            status=instance.status,
            journey_version=instance.journey_version,
            user_id=to_global_id("User", instance.user_id),
            started_at=instance.started_at,
            started_on=instance.started_on,
            timezone=instance.timezone,
            suspended_at=instance.suspended_at,
            completed_at=instance.completed_at,
            metadata=JSON(instance.metadata_),
            model=instance,
        )


async def visible_instance(info: Info, key: uuid.UUID) -> InstanceRow | None:
    """A run the viewer may see: their own, or any of the tenant's for admins."""
    return await info.context.readable(info.context.loaders.instance, key)


@node_type("JourneyInstance")
async def journey_instance_node(info: Info, key: uuid.UUID) -> JourneyInstanceNode | None:
    instance = await visible_instance(info, key)
    return JourneyInstanceNode.from_model(instance) if instance else None


@node_type("EventInstance")
async def event_instance_node(info: Info, key: uuid.UUID) -> EventInstanceNode | None:
    viewer = await info.context.viewer()
    async with info.context.db.read() as session:
        found = (await reads.event_states_by_ids(session, tenant_id=viewer.tenant_id, ids=[key])).get(key)
    if found is None or not viewer.may_read(found[1]):
        return None
    return EventInstanceNode.from_state(found[0])


@strawberry.type(description="An active journey instance and its events to do on a day.")
class TodayJourneyGroup:
    instance: JourneyInstanceNode = strawberry.field(description="The instance.")
    journey: JourneyNode = strawberry.field(description="Its journey.")
    events: list[EventInstanceNode] = strawberry.field(
        description="Due or overdue scheduled events by position, then unscheduled ones by position."
    )


@strawberry.type(description="The result of starting, suspending, resuming or abandoning a journey instance.")
class JourneyInstancePayload:
    instance: JourneyInstanceNode | None = strawberry.field(description="The instance; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of starting an event.")
class EventInstancePayload:
    event_instance: EventInstanceNode | None = strawberry.field(description="The event instance; null when it failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="The result of completing an event: what the frontend may celebrate.")
class CompleteEventPayload:
    event_instance: EventInstanceNode | None = strawberry.field(
        description="The completed event instance; null when it failed."
    )
    instance: JourneyInstanceNode | None = strawberry.field(
        description="Its journey instance (COMPLETED when this was its last event); null when it failed."
    )
    xp_awarded: int = strawberry.field(
        description="XP this call awarded (the event's, plus the journey's if it completed); 0 on a repeat."
    )
    level_before: int | None = strawberry.field(description="The viewer's level before; null when it failed.")
    level_after: int | None = strawberry.field(description="The viewer's level after; null when it failed.")
    rewards_unlocked: list[RewardNode] = strawberry.field(description="Rewards this call unlocked.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")
