"""GraphQL types of avatars and avatar sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.avatars.models import Avatar, AvatarMode, AvatarSession, AvatarSessionStatus, AvatarStatus
from app.graphql.context import Info
from app.graphql.errors import UserError
from app.graphql.node import node_by_key, node_type
from app.graphql.relay import Node, to_global_id
from app.graphql.scalars import JSON

if TYPE_CHECKING:
    from app.graphql.tenancy.users import UserNode

AvatarStatusEnum = strawberry.enum(
    AvatarStatus, name="AvatarStatus", description="ACTIVE avatars are listed and can be talked to; INACTIVE ones not."
)
AvatarModeEnum = strawberry.enum(
    AvatarMode, name="AvatarMode", description="VOICE: talk by audio only. VIDEO: audio and video."
)
AvatarSessionStatusEnum = strawberry.enum(
    AvatarSessionStatus,
    name="AvatarSessionStatus",
    description="ACTIVE while its room is open, ENDED once closed, FAILED when LiveKit could not create its room.",
)


@strawberry.type(name="Avatar", description="An AI avatar users can talk with in a LiveKit room.")
class AvatarNode(Node):
    name: str = strawberry.field(description="Name shown to users.")
    description: str = strawberry.field(description="Longer description.")
    provider: str = strawberry.field(description="Who renders the avatar, e.g. `tavus` or `hedra`.")
    status: AvatarStatus = strawberry.field(description="Whether users can start sessions with it.")
    modes: list[AvatarMode] = strawberry.field(description="The modes it offers.")
    metadata: JSON = strawberry.field(description="Free-form data for the frontend and the avatar's agent.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")
    model: strawberry.Private[Avatar]

    @classmethod
    def from_model(cls, avatar: Avatar) -> AvatarNode:
        return cls(
            id=to_global_id("Avatar", avatar.id),
            name=avatar.name,
            description=avatar.description,
            provider=avatar.provider,
            status=avatar.status,
            modes=[AvatarMode(m) for m in avatar.modes],
            metadata=JSON(avatar.metadata_),
            created_at=avatar.created_at,
            updated_at=avatar.updated_at,
            model=avatar,
        )


async def visible_avatar(info: Info, avatar_id: uuid.UUID) -> Avatar | None:
    """An avatar of the viewer's tenant they may see: active ones for users, any for admins."""
    viewer = await info.context.viewer()
    avatar = await info.context.loaders.avatar.load(avatar_id)
    if avatar is None or (not viewer.is_admin and avatar.status is not AvatarStatus.ACTIVE):
        return None
    return avatar


@node_type("Avatar")
async def avatar_node(info: Info, key: uuid.UUID) -> AvatarNode | None:
    avatar = await visible_avatar(info, key)
    return AvatarNode.from_model(avatar) if avatar else None


@strawberry.type(name="AvatarSession", description="A user's session with an avatar, in a LiveKit room of its own.")
class AvatarSessionNode(Node):
    tenant_id: strawberry.ID = strawberry.field(description="The global id of the tenant.")
    user_id: strawberry.ID = strawberry.field(description="The global id of the user whose session it is.")
    avatar_id: strawberry.ID = strawberry.field(description="The global id of the avatar.")
    livekit_room_name: str = strawberry.field(description="The LiveKit room's name, unique to this session.")
    livekit_room_sid: str | None = strawberry.field(
        description="The LiveKit room's sid; null when the room was never created."
    )
    mode: AvatarMode = strawberry.field(description="How the user talks with the avatar.")
    status: AvatarSessionStatus = strawberry.field(description="Where the session is in its life.")
    started_at: datetime = strawberry.field(description="When it started.")
    ended_at: datetime | None = strawberry.field(description="When it ended (or failed); null while ACTIVE.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    metadata: JSON = strawberry.field(
        description="What the client told about itself: `deviceId` and `isAuthenticated` when given."
    )
    model: strawberry.Private[AvatarSession]

    @strawberry.field(description="The user whose session it is.")
    async def user(self, info: Info) -> Annotated[UserNode, strawberry.lazy("app.graphql.tenancy.users")]:
        user: UserNode = await node_by_key(info, "User", self.model.user_id)
        return user

    @strawberry.field(description="The avatar (even if it has been made inactive since).")
    async def avatar(self, info: Info) -> AvatarNode:
        avatar = await info.context.loaders.avatar.load(self.model.avatar_id)
        if avatar is None:  # avatars are never deleted while their tenant exists
            raise LookupError("avatar of a session is missing")
        return AvatarNode.from_model(avatar)

    @classmethod
    def from_model(cls, row: AvatarSession) -> AvatarSessionNode:
        return cls(
            id=to_global_id("AvatarSession", row.id),
            tenant_id=to_global_id("Tenant", row.tenant_id),
            user_id=to_global_id("User", row.user_id),
            avatar_id=to_global_id("Avatar", row.avatar_id),
            livekit_room_name=row.livekit_room_name,
            livekit_room_sid=row.livekit_room_sid,
            mode=row.mode,
            status=row.status,
            started_at=row.started_at,
            ended_at=row.ended_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            metadata=JSON(row.metadata_),
            model=row,
        )


async def visible_session(info: Info, session_id: uuid.UUID) -> AvatarSession | None:
    """A session the viewer may see: their own, or any of the tenant's for admins."""
    return await info.context.readable(info.context.loaders.avatar_session, session_id)


@node_type("AvatarSession")
async def avatar_session_node(info: Info, key: uuid.UUID) -> AvatarSessionNode | None:
    row = await visible_session(info, key)
    return AvatarSessionNode.from_model(row) if row else None


@strawberry.type(description="The result of an avatar mutation.")
class AvatarPayload:
    avatar: AvatarNode | None = strawberry.field(description="The avatar; null when the mutation failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.type(description="A started avatar session and what the client needs to join its LiveKit room.")
class CreateAvatarSessionPayload:
    session: AvatarSessionNode | None = strawberry.field(description="The session; null when it could not start.")
    session_id: strawberry.ID | None = strawberry.field(description="The session's id (as `session.id`).")
    room_name: str | None = strawberry.field(description="The LiveKit room to join (as `session.livekitRoomName`).")
    token: str | None = strawberry.field(
        description="A LiveKit participant token for that room only, valid for at most one hour."
    )
    livekit_url: str | None = strawberry.field(description="The LiveKit server to connect to with the token.")
    errors: list[UserError] = strawberry.field(
        description="Why it failed (NOT_FOUND, UNAVAILABLE, NOT_CONFIGURED, UPSTREAM_FAILED); empty on success."
    )


@strawberry.type(description="The result of an avatar session mutation.")
class AvatarSessionPayload:
    session: AvatarSessionNode | None = strawberry.field(description="The session; null when the mutation failed.")
    errors: list[UserError] = strawberry.field(description="Why it failed; empty on success.")


@strawberry.input(
    description="Avatar fields. On create, `name`, `provider` and `modes` are required; on update, omitted fields stay as they are."
)
class AvatarInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description="1-200 characters.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 10,000 characters.")
    provider: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Who renders it: 1-64 lowercase letters, digits, '_', '.' or '-', e.g. `tavus`.",
    )
    status: AvatarStatus | None = strawberry.field(default=strawberry.UNSET, description="Default ACTIVE.")
    modes: list[AvatarMode] | None = strawberry.field(
        default=strawberry.UNSET, description="The modes it offers; at least one."
    )
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Free-form JSON object, at most 16 KiB."
    )


@strawberry.input(description="What session to start.")
class CreateAvatarSessionInput:
    avatar_id: strawberry.ID = strawberry.field(description="The avatar to talk with.")
    mode: AvatarMode = strawberry.field(description="A mode the avatar offers.")
    device_id: str | None = strawberry.field(
        default=None, description="The client device's id, at most 200 characters; kept in the session's metadata."
    )
    is_authenticated: bool | None = strawberry.field(
        default=None, description="Whether the client considers its user signed in; kept in the session's metadata."
    )
