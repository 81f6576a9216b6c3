"""Users as admins see them: the `User` node, `user(externalId)`, `users(search)`, and the user
filters of admin lists (`userId` or `userExternalId`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from app.errors import DomainError, ErrorCode
from app.graphql.context import Info
from app.graphql.node import node_type
from app.graphql.onboarding.types import ClassificationType
from app.graphql.relay import (
    DEFAULT_PAGE_SIZE,
    After,
    Before,
    Connection,
    First,
    Last,
    Node,
    PageRequest,
    local_id,
    to_global_id,
)
from app.graphql.rewards.types import XpSummaryType
from app.graphql.tenancy.types import RoleEnum
from app.rewards.levels import level_progress, thresholds_of
from app.tenancy import users
from app.tenancy.credentials import Role
from app.tenancy.models import User

# A key no user has: an id or external id that names nobody filters a list down to nothing.
NOTHING = uuid.UUID(int=0)

UserIdFilter = Annotated[
    strawberry.ID | None, strawberry.argument(description="Only this user's (their global id, `User.id`).")
]
UserExternalIdFilter = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Only this user's, by the tenant's own id for them (`User.externalId`); an unknown one matches nothing. "
            "With `userId`, both must name the same user."
        )
    ),
]


@strawberry.type(name="User", description="A person of the tenant, known by the tenant's own id for them.")
class UserNode(Node):
    external_id: str = strawberry.field(
        description="The user's id in the tenant's own system (their tokens' `sub`); for an API key, `apikey:<keyid>`."
    )
    role: Role = strawberry.field(
        description="The role of the user's latest credential (updated with `lastSeenAt`); `user` if never seen."
    )
    timezone: str = strawberry.field(
        description="The IANA timezone their local days are counted in by default: theirs, else the tenant's."
    )
    created_at: datetime = strawberry.field(description="When the user was first seen (or first acted for).")
    last_seen_at: datetime | None = strawberry.field(
        description="About when the user last used the API (to the minute); null if they never have."
    )
    key: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Their latest classification (from completing an onboarding's form); null if none.")
    async def classification(self, info: Info) -> ClassificationType | None:
        row = await info.context.loaders.classification.load(self.key)
        return ClassificationType.from_model(row) if row else None

    @strawberry.field(description="Their overall XP and level, with their XP history.")
    async def xp(self, info: Info) -> XpSummaryType:
        viewer = await info.context.viewer()
        balance = await info.context.loaders.xp_balance.load(self.key)
        progress = level_progress(thresholds_of(viewer.tenant), balance)
        return XpSummaryType(
            balance=balance,
            level=progress.level,
            current_level_xp=progress.current_level_xp,
            next_level_xp=progress.next_level_xp,
            resource_type=None,
            stored_resource_id=None,
            user_key=self.key,
        )

    @classmethod
    def from_model(cls, user: User, *, tenant_timezone: str) -> UserNode:
        return cls(
            id=to_global_id("User", user.id),
            external_id=user.external_id,
            role=RoleEnum(user.role),
            timezone=user.timezone or tenant_timezone or "UTC",
            created_at=user.created_at,
            last_seen_at=user.last_seen_at,
            key=user.id,
        )


@node_type("User")
async def user_node(info: Info, key: uuid.UUID) -> UserNode | None:
    """Admins see every user of their tenant; a user sees themselves only."""
    viewer = await info.context.viewer()
    if not viewer.may_read(key):
        return None
    user = await info.context.loaders.user.load(key)
    return UserNode.from_model(user, tenant_timezone=viewer.tenant.timezone) if user else None


def _raw_user_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def user_filter(
    info: Info, *, user_id: str | None, user_external_id: str | None, raw_ids: bool = False
) -> uuid.UUID | None:
    """The user an admin list is filtered by: None for all users, :data:`NOTHING` for one that
    names nobody. ``raw_ids``: `userId` may also be the user's UUID (as realtime events carry it).
    Both given must name the same user (BAD_USER_INPUT otherwise)."""
    by_id: uuid.UUID | None = None
    if user_id is not None:
        by_id = local_id(user_id, "User") or (_raw_user_id(user_id) if raw_ids else None) or NOTHING
    if user_external_id is None:
        return by_id
    viewer = await info.context.viewer()
    async with info.context.db.read() as session:
        found = await users.user_by_external_id(session, tenant_id=viewer.tenant_id, external_id=user_external_id)
    by_external = found.id if found is not None else NOTHING
    if by_id is not None and (by_external == NOTHING or by_id != by_external):
        raise DomainError(
            ErrorCode.BAD_USER_INPUT,
            "userId and userExternalId must name the same user; give one of them",
            field=["userExternalId"],
        )
    return by_external


def _user_key(user: User) -> tuple[object, ...]:
    return (user.created_at, user.id)


@strawberry.type
class UserQuery:
    @strawberry.field(description="Admins: the tenant's user with this external id; null if never seen.")
    async def user(
        self,
        info: Info,
        external_id: Annotated[
            str, strawberry.argument(description="The tenant's own id for the user (their tokens' `sub`).")
        ],
    ) -> UserNode | None:
        viewer = await info.context.admin()
        async with info.context.db.read() as session:
            found = await users.user_by_external_id(session, tenant_id=viewer.tenant_id, external_id=external_id)
        return UserNode.from_model(found, tenant_timezone=viewer.tenant.timezone) if found else None

    @strawberry.field(description="Admins: the tenant's users, newest first, optionally by external-id prefix.")
    async def users(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only users whose external id starts with this (taken literally: `%` and `_` too)."
            ),
        ] = None,
    ) -> Connection[UserNode]:
        viewer = await info.context.admin()
        request = PageRequest(
            info.context.cursors,
            tenant_id=viewer.tenant_id,
            list_name="users",
            first=first,
            after=after,
            last=last,
            before=before,
            filters={"search": search or None},
        )
        async with info.context.db.read() as session:
            page = await users.list_users(session, tenant_id=viewer.tenant_id, search=search, window=request.window)
        zone = viewer.tenant.timezone
        return request.connection(page, key=_user_key, node=lambda u: UserNode.from_model(u, tenant_timezone=zone))
