"""Avatar queries: the active avatars, every avatar for admins, and one session."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.avatars import authoring
from app.avatars.models import Avatar, AvatarStatus
from app.graphql.avatars.types import AvatarNode, AvatarSessionNode, visible_avatar, visible_session
from app.graphql.context import Info
from app.graphql.relay import DEFAULT_PAGE_SIZE, After, Before, Connection, First, Last, PageRequest, local_id


def _avatar_key(avatar: Avatar) -> tuple[object, ...]:
    return (avatar.created_at, avatar.id)


async def _avatar_page(
    info: Info,
    *,
    list_name: str,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    statuses: tuple[AvatarStatus, ...],
) -> Connection[AvatarNode]:
    viewer = await info.context.viewer()
    request = PageRequest(
        info.context.cursors,
        tenant_id=viewer.tenant_id,
        list_name=list_name,
        first=first,
        after=after,
        last=last,
        before=before,
        filters={"statuses": [s.value for s in statuses]},
    )
    async with info.context.db.read() as session:
        page = await authoring.list_avatars(
            session, tenant_id=viewer.tenant_id, statuses=statuses, window=request.window
        )
    return request.connection(page, key=_avatar_key, node=AvatarNode.from_model)


@strawberry.type
class AvatarsQuery:
    @strawberry.field(description="The tenant's active avatars, oldest first.")
    async def avatars(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AvatarNode]:
        return await _avatar_page(
            info,
            list_name="avatars",
            first=first,
            after=after,
            last=last,
            before=before,
            statuses=(AvatarStatus.ACTIVE,),
        )

    @strawberry.field(description="Admins: every avatar of the tenant, active or not, oldest first.")
    async def admin_avatars(
        self,
        info: Info,
        first: First = DEFAULT_PAGE_SIZE,
        after: After = None,
        last: Last = None,
        before: Before = None,
        status: Annotated[AvatarStatus | None, strawberry.argument(description="Only this status.")] = None,
    ) -> Connection[AvatarNode]:
        await info.context.admin()
        return await _avatar_page(
            info,
            list_name="adminAvatars",
            first=first,
            after=after,
            last=last,
            before=before,
            statuses=(status,) if status else (),
        )

    @strawberry.field(description="One avatar by id: active ones for users, any for admins; null if not visible.")
    async def avatar(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The avatar's id.")]
    ) -> AvatarNode | None:
        await info.context.viewer()
        key = local_id(id, "Avatar")
        avatar = await visible_avatar(info, key) if key else None
        return AvatarNode.from_model(avatar) if avatar else None

    @strawberry.field(
        description="One avatar session by id: the viewer's own, or any of the tenant's for admins; null otherwise."
    )
    async def avatar_session(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The session's id.")]
    ) -> AvatarSessionNode | None:
        await info.context.viewer()
        key = local_id(id, "AvatarSession")
        row = await visible_session(info, key) if key else None
        return AvatarSessionNode.from_model(row) if row else None
