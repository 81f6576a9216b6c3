"""A local stand-in for a LiveKit server's RoomService, speaking its real wire protocol.

LiveKit's server API is Twirp: ``POST /twirp/livekit.RoomService/<Method>`` with a protobuf
request body and an ``Authorization: Bearer <JWT>`` service token (HS256 with the API secret,
issued by the API key, carrying video grants). This server decodes the real request messages
with ``livekit.protocol``'s generated classes, checks the token and its grants as LiveKit
does (``roomCreate`` for CreateRoom and DeleteRoom, ``roomList`` for ListRooms), answers
protobuf bodies, or Twirp's JSON errors, and records every request. It runs uvicorn in a
thread of its own on a free loopback port, so it keeps answering (or stalling) while the
test's event loop waits on the application.

Failure switches: ``error_on`` (methods answering HTTP 500 ``internal``), ``delay_on`` (seconds
a method stalls before doing its work, e.g. longer than the client's timeout),
``not_found_on_delete`` (DeleteRoom answers 404 ``not_found`` whatever the rooms are).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from livekit.api import AccessToken
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol import webhook as proto_webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "APItestkey"
API_SECRET = "test-livekit-secret-" + "s" * 32
PROTOBUF = "application/protobuf"

# What each method decodes, and the video grant its service token must carry.
METHODS: dict[str, tuple[type[Message], str]] = {
    "CreateRoom": (proto_room.CreateRoomRequest, "roomCreate"),
    "DeleteRoom": (proto_room.DeleteRoomRequest, "roomCreate"),
    "ListRooms": (proto_room.ListRoomsRequest, "roomList"),
}


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    message: Any
    claims: dict[str, Any]
    content_type: str


@dataclass
class FakeLiveKit:
    """The server's state, switches and records (shared with its thread under a lock)."""

    api_key: str = API_KEY
    api_secret: str = API_SECRET
    port: int = 0
    rooms: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    error_on: set[str] = field(default_factory=set)
    delay_on: dict[str, float] = field(default_factory=dict)
    not_found_on_delete: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """The application's settings for this server."""
        return {"LIVEKIT_URL": self.url, "LIVEKIT_API_KEY": self.api_key, "LIVEKIT_API_SECRET": self.api_secret}

    def reset(self) -> None:
        with self.lock:
            self.rooms.clear()
            self.requests.clear()
            self.error_on.clear()
            self.delay_on.clear()
            self.not_found_on_delete = False

    def calls(self, method: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method]

    def room_names(self) -> set[str]:
        with self.lock:
            return set(self.rooms)

    def close_room(self, name: str) -> None:
        """LiveKit closed the room on its own (empty timeout, or deleted elsewhere)."""
        with self.lock:
            self.rooms.pop(name, None)

    def signed_webhook(self, event: Any, *, secret: str | None = None) -> tuple[str, dict[str, str]]:
        """A webhook delivery as LiveKit sends it: protojson body, and a JWT in the
        Authorization header whose ``sha256`` claim is the body's hash."""
        body = MessageToJson(event)
        return body, self.webhook_headers(body, secret=secret)

    def webhook_headers(self, body: str, *, secret: str | None = None) -> dict[str, str]:
        """The headers LiveKit signs a webhook body with."""
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        token = AccessToken(self.api_key, secret or self.api_secret).with_sha256(digest).to_jwt()
        return {"Authorization": token, "Content-Type": "application/webhook+json"}

    @staticmethod
    def room_finished(name: str, *, sid: str = "", event_id: str | None = None) -> Any:
        """A ``room_finished`` webhook event for a room."""
        return proto_webhook.WebhookEvent(
            event="room_finished",
            id=event_id or f"EV_{uuid.uuid4().hex[:12]}",
            created_at=int(time.time()),
            room=proto_models.Room(name=name, sid=sid),
        )

    # ------------------------------------------------------------------ the server

    async def handle(self, request: Request) -> Response:
        method = request.path_params["method"]
        if method not in METHODS:
            return _twirp_error(404, "bad_route", f"no method {method}")
        request_class, grant = METHODS[method]
        claims = self._claims(request.headers.get("authorization", ""))
        if claims is None:
            return _twirp_error(401, "unauthenticated", "invalid service token")
        if not claims.get("video", {}).get(grant):
            return _twirp_error(403, "permission_denied", f"{method} needs the {grant} grant")
        message = request_class.FromString(await request.body())
        with self.lock:
            self.requests.append(Recorded(method, message, claims, request.headers.get("content-type", "")))
            delay = self.delay_on.get(method, 0.0)
            error = method in self.error_on
        if delay:
            await asyncio.sleep(delay)
        if error:
            return _twirp_error(500, "internal", "the fake LiveKit is failing on purpose")
        return getattr(self, f"_{method}")(message)

    def _claims(self, authorization: str) -> dict[str, Any] | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.api_secret, algorithms=["HS256"], issuer=self.api_key, options={"require": ["exp"]}
            )
        except jwt.PyJWTError:
            return None
        return claims

    def _CreateRoom(self, message: Any) -> Response:
        with self.lock:
            room = self.rooms.get(message.name)
            if room is None:
                room = proto_models.Room(
                    sid=f"RM_{uuid.uuid4().hex[:12]}",
                    name=message.name,
                    empty_timeout=message.empty_timeout,
                    max_participants=message.max_participants,
                    metadata=message.metadata,
                    creation_time=int(time.time()),
                )
                self.rooms[message.name] = room
        return _protobuf(room)

    def _DeleteRoom(self, message: Any) -> Response:
        with self.lock:
            gone = self.not_found_on_delete or message.room not in self.rooms
            self.rooms.pop(message.room, None)
        if gone:
            return _twirp_error(404, "not_found", "requested room does not exist")
        return _protobuf(proto_room.DeleteRoomResponse())

    def _ListRooms(self, message: Any) -> Response:
        with self.lock:
            names = set(message.names)
            rooms = [r for name, r in self.rooms.items() if not names or name in names]
        return _protobuf(proto_room.ListRoomsResponse(rooms=rooms))

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/twirp/livekit.RoomService/{method}", self.handle, methods=["POST"])])


def _protobuf(message: Any) -> Response:
    return Response(message.SerializeToString(), media_type=PROTOBUF)


def _twirp_error(status: int, code: str, msg: str) -> Response:
    return JSONResponse({"code": code, "msg": msg}, status_code=status)


@contextmanager
def running_livekit() -> Iterator[FakeLiveKit]:
    """A fake LiveKit served from a thread on a free loopback port, for the duration."""
    fake = FakeLiveKit()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    fake.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.app(), log_level="warning", lifespan="off", ws="none"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake LiveKit server did not start")
        time.sleep(0.01)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
