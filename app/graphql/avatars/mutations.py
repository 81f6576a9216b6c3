"""Avatar mutations: admins author avatars; users start and end sessions with them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.avatars import authoring, service
from app.avatars.models import Avatar
from app.avatars.units import UnitRunner
from app.errors import DomainError, NotFound
from app.graphql.avatars.types import (
    AvatarInput,
    AvatarNode,
    AvatarPayload,
    AvatarSessionNode,
    AvatarSessionPayload,
    CreateAvatarSessionInput,
    CreateAvatarSessionPayload,
)
from app.graphql.context import Info
from app.graphql.errors import TOP_LEVEL_CODES, Done, Failed, user_errors, write_payload
from app.graphql.inputs import given_fields
from app.graphql.relay import local_id, to_global_id

T = TypeVar("T")


def _gate(info: Info) -> UnitRunner:
    """Units of work on the operation's session, each committed on its own."""

    async def run(work: Callable[[AsyncSession], Awaitable[T]], /) -> T:
        async with info.context.db.write() as session:
            return await work(session)

    return run


async def _units(info: Info, call: Callable[[UnitRunner], Awaitable[T]]) -> Done[T] | Failed:
    """Run a service that commits several units of work; business failures become ``Failed``."""
    try:
        return Done(await call(_gate(info)))
    except DomainError as exc:
        if exc.code in TOP_LEVEL_CODES:
            raise
        return Failed(user_errors(exc))


async def _avatar(info: Info, work: Callable[[AsyncSession], Awaitable[Avatar]]) -> AvatarPayload:
    return await write_payload(
        info,
        work,
        ok=lambda a: AvatarPayload(avatar=AvatarNode.from_model(a), errors=[]),
        failed=lambda errors: AvatarPayload(avatar=None, errors=errors),
    )


def _session_not_found() -> AvatarSessionPayload:
    return AvatarSessionPayload(session=None, errors=user_errors(NotFound("Avatar session", field=["id"])))


@strawberry.type
class AvatarsMutation:
    @strawberry.mutation(description="Admins: create an avatar.")
    async def create_avatar(
        self, info: Info, input: Annotated[AvatarInput, strawberry.argument(description="The avatar's fields.")]
    ) -> AvatarPayload:
        viewer = await info.context.admin()
        values = authoring.AvatarFields(**given_fields(input))
        return await _avatar(info, lambda s: authoring.create_avatar(s, tenant_id=viewer.tenant_id, values=values))

    @strawberry.mutation(description="Admins: change the given fields of an avatar (e.g. make it INACTIVE).")
    async def update_avatar(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The avatar's id.")],
        input: Annotated[AvatarInput, strawberry.argument(description="The fields to change.")],
    ) -> AvatarPayload:
        viewer = await info.context.admin()
        key = local_id(id, "Avatar")
        if key is None:
            return AvatarPayload(avatar=None, errors=user_errors(NotFound("Avatar", field=["id"])))
        values = authoring.AvatarFields(**given_fields(input))
        return await _avatar(
            info, lambda s: authoring.update_avatar(s, tenant_id=viewer.tenant_id, avatar_id=key, values=values)
        )

    @strawberry.mutation(
        description=(
            "Start a session with an avatar: creates its LiveKit room and returns a token to join it. "
            "NOT_FOUND for an unknown avatar, UNAVAILABLE for an inactive one or a mode it does not offer, "
            "NOT_CONFIGURED without LiveKit, UPSTREAM_FAILED when LiveKit fails or times out."
        )
    )
    async def create_avatar_session(
        self,
        info: Info,
        input: Annotated[CreateAvatarSessionInput, strawberry.argument(description="The avatar and mode.")],
    ) -> CreateAvatarSessionPayload:
        viewer = await info.context.viewer()
        key = local_id(input.avatar_id, "Avatar")
        if key is None:
            errors = user_errors(NotFound("Avatar", field=["input", "avatarId"]))
            return CreateAvatarSessionPayload(
                session=None, session_id=None, room_name=None, token=None, livekit_url=None, errors=errors
            )
        result = await _units(
            info,
            lambda run: service.start_session(
                run,
                livekit=info.context.runtime.livekit,
                tenant_id=viewer.tenant_id,
                user=viewer.user,
                avatar_id=key,
                mode=input.mode,
                device_id=input.device_id,
                is_authenticated=input.is_authenticated,
            ),
        )
        if isinstance(result, Failed):
            return CreateAvatarSessionPayload(
                session=None, session_id=None, room_name=None, token=None, livekit_url=None, errors=result.errors
            )
        started = result.value
        return CreateAvatarSessionPayload(
            session=AvatarSessionNode.from_model(started.session),
            session_id=to_global_id("AvatarSession", started.session.id),
            room_name=started.session.livekit_room_name,
            token=started.token,
            livekit_url=started.livekit_url,
            errors=[],
        )

    @strawberry.mutation(
        description="End a session and close its LiveKit room; ending an ended session returns it unchanged."
    )
    async def end_avatar_session(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The session's id.")]
    ) -> AvatarSessionPayload:
        viewer = await info.context.viewer()
        key = local_id(id, "AvatarSession")
        if key is None:
            return _session_not_found()
        result = await _units(
            info,
            lambda run: service.end_session(
                run,
                livekit=info.context.runtime.livekit,
                tenant_id=viewer.tenant_id,
                user_id=viewer.user_id,
                is_admin=viewer.is_admin,
                session_id=key,
            ),
        )
        if isinstance(result, Failed):
            return AvatarSessionPayload(session=None, errors=result.errors)
        return AvatarSessionPayload(session=AvatarSessionNode.from_model(result.value), errors=[])
