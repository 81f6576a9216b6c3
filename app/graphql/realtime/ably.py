"""The Ably token request: a signed grant to subscribe to the viewer's (or the tenant's admin) channel."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.errors import DomainError, ErrorCode
from app.graphql.context import Info
from app.graphql.errors import UserError, user_errors
from app.graphql.realtime.types import RealtimeScope
from app.graphql.scalars import EpochMillis
from app.realtime import ably_tokens
from app.realtime.store import admin_channel, user_channel


@strawberry.type(
    description=(
        "A token request signed with the service's Ably key, exactly as Ably client SDKs take it from an "
        "`authCallback`: the SDK exchanges it with Ably for a token that may only subscribe to one channel."
    )
)
class AblyTokenRequest:
    key_name: str = strawberry.field(description="The public name of the Ably key that signed it (`appId.keyId`).")
    client_id: str = strawberry.field(description="The Ably client id the token is for: the viewer's user id.")
    capability: str = strawberry.field(
        description='What the token allows, as the JSON text Ably expects, e.g. `{"user:…:…":["subscribe"]}`.'
    )
    timestamp: EpochMillis = strawberry.field(description="When it was signed, in milliseconds since the epoch.")
    nonce: str = strawberry.field(description="A random string that makes the request unique.")
    mac: str = strawberry.field(description="The request's HMAC-SHA256 signature, base64.")
    ttl: int = strawberry.field(description="How long the token lives once issued, in milliseconds (one hour).")

    @classmethod
    def from_domain(cls, request: ably_tokens.AblyTokenRequest) -> AblyTokenRequest:
        return cls(
            key_name=request.key_name,
            client_id=request.client_id,
            capability=request.capability,
            timestamp=EpochMillis(request.timestamp),
            nonce=request.nonce,
            mac=request.mac,
            ttl=request.ttl,
        )


@strawberry.type(description="The result of createAblyTokenRequest.")
class AblyTokenRequestPayload:
    channel_name: str | None = strawberry.field(description="The one channel the token may subscribe to.")
    token_request: AblyTokenRequest | None = strawberry.field(
        description="The signed token request; null when it failed."
    )
    errors: list[UserError] = strawberry.field(description="Why it failed (NOT_CONFIGURED without an Ably key).")


@strawberry.type
class AblyMutation:
    @strawberry.mutation(
        description=(
            "A signed Ably token request to subscribe to the viewer's channel (USER) or, for admins, the tenant's "
            "admin channel (ADMIN). Signed locally; pass it to an Ably client's `authCallback`."
        )
    )
    async def create_ably_token_request(
        self,
        info: Info,
        scope: Annotated[
            RealtimeScope | None,
            strawberry.argument(description="Which channel: the viewer's own (USER, also for null) or ADMIN."),
        ] = RealtimeScope.USER,
    ) -> AblyTokenRequestPayload:
        viewer = await info.context.viewer()
        if scope is RealtimeScope.ADMIN:
            if not viewer.is_admin:
                raise DomainError(ErrorCode.FORBIDDEN, "The admin channel needs the admin role")
            channel = admin_channel(viewer.tenant_id).name
        else:
            channel = user_channel(viewer.tenant_id, viewer.user_id).name
        try:
            request = await ably_tokens.create_token_request(
                settings=info.context.runtime.settings, client_id=str(viewer.user_id), channel=channel
            )
        except DomainError as exc:
            return AblyTokenRequestPayload(channel_name=None, token_request=None, errors=user_errors(exc))
        return AblyTokenRequestPayload(
            channel_name=channel, token_request=AblyTokenRequest.from_domain(request), errors=[]
        )
