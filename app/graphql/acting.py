"""Who acts, and on whose runs (SPEC §16): a user on their own runs; an admin or API key on any
run of the tenant, and starting runs for any user by the tenant's own id for them (created on
first sight). One resolution for the progress and onboarding mutations, and the `Actor` that
their log entries show."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Protocol

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import DomainError, ErrorCode
from app.graphql.context import Info
from app.graphql.node import node_by_key
from app.onboarding.lifecycle import journey_owner
from app.progress.service import instance_owner
from app.tenancy.actors import Actor, ActorKind, act_as
from app.tenancy.credentials import MAX_EXTERNAL_ID
from app.tenancy.service import Viewer, get_or_create_user
from app.text import forbidden_character

if TYPE_CHECKING:
    from app.graphql.tenancy.users import UserNode

UserExternalId = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Admins and API keys: whom to act for, by the tenant's own id for them (`User.externalId`; created on "
            "first sight). Required for API keys; a user may only name themselves (FORBIDDEN otherwise)."
        )
    ),
]


@strawberry.enum(name="ActorKind", description="What kind of credential made a change.")
class ActorKindEnum(Enum):
    # The values are the domain's (app/tenancy/actors.py), as the log columns store them.
    USER = strawberry.enum_value(ActorKind.USER.value, description="A user, on their own run.")
    ADMIN = strawberry.enum_value(ActorKind.ADMIN.value, description="An admin's token, on any run of the tenant.")
    API_KEY = strawberry.enum_value(ActorKind.API_KEY.value, description="A tenant API key (the tenant's backend).")


def actor_for(viewer: Viewer) -> Actor:
    """The actor a viewer's changes are logged as."""
    if viewer.api_key_id is not None:
        return Actor(ActorKind.API_KEY, api_key_id=viewer.api_key_id, api_key_name=viewer.api_key_name)
    return Actor(ActorKind.ADMIN if viewer.is_admin else ActorKind.USER, user_id=viewer.user_id)


@dataclass(frozen=True)
class ForUser:
    """The user a run is started for, with the timezones their local days default to."""

    user_id: uuid.UUID
    # The credential's own zone counts only when its user acts for themselves.
    token_timezone: str | None
    user_timezone: str | None


async def for_user(session: AsyncSession, viewer: Viewer, external_id: str | None) -> ForUser:
    """Whom a start acts for: the viewer themselves, or (admins and API keys) the tenant's user
    ``external_id``, created on first sight; the unit of work is logged as the viewer's."""
    act_as(session, actor_for(viewer))
    is_key = viewer.api_key_id is not None
    if external_id is None and is_key:
        raise DomainError(
            ErrorCode.BAD_USER_INPUT, "userExternalId is required when acting for a user", field=["userExternalId"]
        )
    if external_id is None or (external_id == viewer.user.external_id and not is_key):
        return ForUser(viewer.user_id, viewer.token_timezone, viewer.user.timezone)
    if not viewer.is_admin:
        raise DomainError(ErrorCode.FORBIDDEN, "Only admins and API keys may act for another user")
    if not external_id or len(external_id) > MAX_EXTERNAL_ID or forbidden_character(external_id):
        raise DomainError(
            ErrorCode.BAD_USER_INPUT,
            f"userExternalId must be 1-{MAX_EXTERNAL_ID} printable characters",
            field=["userExternalId"],
        )
    user = await get_or_create_user(session, tenant_id=viewer.tenant_id, external_id=external_id)
    return ForUser(user.id, None, user.timezone)


async def journey_run_owner(session: AsyncSession, viewer: Viewer, instance_id: uuid.UUID) -> uuid.UUID:
    """Whose journey run a change is for: the viewer's own (the service finds no one else's), or
    for admins and API keys whoever's in the tenant it is; the unit of work is logged as theirs."""
    act_as(session, actor_for(viewer))
    if not viewer.is_admin:
        return viewer.user_id
    return await instance_owner(session, tenant_id=viewer.tenant_id, instance_id=instance_id)


async def onboarding_run_owner(session: AsyncSession, viewer: Viewer, journey_id: uuid.UUID) -> uuid.UUID:
    """As :func:`journey_run_owner`, for an onboarding run."""
    act_as(session, actor_for(viewer))
    if not viewer.is_admin:
        return viewer.user_id
    return await journey_owner(session, tenant_id=viewer.tenant_id, journey_id=journey_id)


class ActorColumns(Protocol):
    """A log entry's record of who acted (app/tenancy/actors.py)."""

    @property
    def actor_kind(self) -> str: ...
    @property
    def actor_user_id(self) -> uuid.UUID | None: ...
    @property
    def actor_api_key_name(self) -> str | None: ...


@strawberry.type(name="Actor", description="Who made a change: the run's user, an admin, or an API key.")
class ActorType:
    kind: ActorKindEnum = strawberry.field(description="USER, ADMIN or API_KEY.")
    api_key_name: str | None = strawberry.field(description="For API_KEY: the key's name; null otherwise.")
    user_key: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description=(
            "For USER and ADMIN: who it was; null for API_KEY, and for anyone but themselves when a user reads."
        )
    )
    async def user(self, info: Info) -> Annotated[UserNode, strawberry.lazy("app.graphql.tenancy.users")] | None:
        if self.user_key is None:
            return None
        user: UserNode | None = await node_by_key(info, "User", self.user_key)
        return user

    @classmethod
    def of(cls, entry: ActorColumns) -> ActorType:
        return cls(
            kind=ActorKindEnum(entry.actor_kind), api_key_name=entry.actor_api_key_name, user_key=entry.actor_user_id
        )
