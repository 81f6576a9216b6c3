"""LiveKit as avatar sessions use it: rooms through the RoomService (Twirp over HTTP),
participant tokens, and the verification of LiveKit's signed webhooks.

Every RoomService call has a hard deadline, and every way it can fail (an HTTP or Twirp
error, a refused connection, a timeout) is one :class:`LiveKitError`, so callers decide
what a failure means without knowing the SDK's exceptions.

The SDK (livekit-api, with aiohttp and protobuf under it) is imported when LiveKit is first
used, not with this module: a server without LiveKit configured never loads it (15 MiB of
every worker's memory, measured).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from app.config import Settings

if TYPE_CHECKING:
    from livekit.api import LiveKitAPI, WebhookEvent

log = logging.getLogger(__name__)

NOT_FOUND = "not_found"


class LiveKitError(Exception):
    """A RoomService call failed or timed out."""


class WebhookRejected(Exception):
    """A webhook delivery that is not LiveKit's: bad or missing signature, or a body that
    does not match the signed hash."""


class WebhookMalformed(Exception):
    """A correctly signed webhook whose body is not a LiveKit event."""


@dataclass(frozen=True)
class Room:
    """A LiveKit room as created."""

    name: str
    sid: str


def _sdk() -> ModuleType:
    import livekit.api

    return livekit.api


class LiveKit:
    """A LiveKit project (or `livekit-server --dev`): its URL and API key pair."""

    def __init__(self, *, url: str, api_key: str, api_secret: str, timeout: float) -> None:
        self.url = url
        self.api_key = api_key
        self.api_secret = api_secret
        self.timeout = timeout
        self._api: LiveKitAPI | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveKit | None:
        """The configured LiveKit, or None when the settings name none."""
        if not (settings.livekit_url and settings.livekit_api_key and settings.livekit_api_secret):
            return None
        return cls(
            url=settings.livekit_url,
            api_key=settings.livekit_api_key,
            api_secret=settings.livekit_api_secret,
            timeout=settings.livekit_timeout,
        )

    def _client(self) -> LiveKitAPI:
        # Created on first use, inside the running loop its HTTP session belongs to.
        if self._api is None:
            import aiohttp

            self._api = _sdk().LiveKitAPI(
                self.url,
                self.api_key,
                self.api_secret,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._api

    async def _call(self, what: str, request: Any) -> Any:
        import aiohttp

        server_error = _sdk().ServerError
        try:
            async with asyncio.timeout(self.timeout):
                return await request
        except server_error as exc:
            raise LiveKitError(f"{what}: {exc.code} ({exc.status}) {exc.message}") from exc
        except TimeoutError as exc:
            raise LiveKitError(f"{what}: no answer within {self.timeout:g}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise LiveKitError(f"{what}: {type(exc).__name__}: {exc}") from exc

    async def create_room(
        self, *, name: str, empty_timeout: int, max_participants: int, metadata: dict[str, Any]
    ) -> Room:
        """Create a room (RoomService CreateRoom)."""
        request = _sdk().CreateRoomRequest(
            name=name,
            empty_timeout=empty_timeout,
            max_participants=max_participants,
            metadata=json.dumps(metadata, separators=(",", ":")),
        )
        room = await self._call(f"CreateRoom {name}", self._client().room.create_room(request))
        return Room(name=room.name, sid=room.sid)

    async def delete_room(self, name: str) -> bool:
        """Delete a room (RoomService DeleteRoom); False when it was already gone."""
        try:
            await self._call(f"DeleteRoom {name}", self._client().room.delete_room(_sdk().DeleteRoomRequest(room=name)))
        except LiveKitError as exc:
            if isinstance(exc.__cause__, _sdk().ServerError) and exc.__cause__.code == NOT_FOUND:
                return False
            raise
        return True

    async def existing_rooms(self, names: Sequence[str]) -> set[str]:
        """Which of these rooms exist now (RoomService ListRooms)."""
        if not names:
            return set()
        response = await self._call(
            "ListRooms", self._client().room.list_rooms(_sdk().ListRoomsRequest(names=list(names)))
        )
        return {room.name for room in response.rooms}

    def participant_token(
        self,
        *,
        room: str,
        identity: str,
        name: str,
        metadata: dict[str, Any],
        ttl: timedelta,
        sources: Sequence[str],
    ) -> str:
        """A token that lets one participant join one room (and nothing else), for ``ttl``."""
        sdk = _sdk()
        grants = sdk.VideoGrants(room_join=True, room=room, can_publish_sources=list(sources))
        return (  # type: ignore[no-any-return]
            sdk.AccessToken(self.api_key, self.api_secret)
            .with_identity(identity)
            .with_name(name)
            .with_metadata(json.dumps(metadata, separators=(",", ":")))
            .with_grants(grants)
            .with_ttl(ttl)
            .to_jwt()
        )

    def receive_webhook(self, body: str, authorization: str | None) -> WebhookEvent:
        """The event of a webhook delivery signed with our API secret (a JWT in the
        Authorization header whose ``sha256`` claim is the body's hash)."""
        token = (authorization or "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            raise WebhookRejected("no Authorization header")
        from google.protobuf.json_format import ParseError

        sdk = _sdk()
        receiver = sdk.WebhookReceiver(sdk.TokenVerifier(self.api_key, self.api_secret))
        try:
            return receiver.receive(body, token)  # type: ignore[no-any-return]
        except ParseError as exc:
            raise WebhookMalformed(str(exc)) from exc
        except Exception as exc:  # the receiver raises plain Exceptions and PyJWT's for bad signatures
            raise WebhookRejected(str(exc)) from exc

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._api is not None:
            api, self._api = self._api, None
            await api.aclose()
