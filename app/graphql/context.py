"""The typed per-request context: who is asking, the request's session gate and loaders."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, TypeAlias, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from app.db import SessionGate
from app.errors import DomainError, ErrorCode
from app.graphql.loaders import Loaders
from app.graphql.relay import CursorCodec
from app.realtime.outbox import take_committed
from app.runtime import Runtime
from app.tenancy.credentials import Unauthenticated
from app.tenancy.service import Viewer, authenticate


class UserOwned(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...


Owned = TypeVar("Owned", bound=UserOwned)


class Authored(Protocol):
    @property
    def status(self) -> Enum: ...


Content = TypeVar("Content", bound=Authored)


def bearer_credential(value: str | None) -> str | None:
    """The credential in an ``Authorization: Bearer …`` value; None when absent."""
    if value is None or not value.strip():
        return None
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token or API key>'")
    return credential.strip()


@dataclass
class Context:
    """Everything a resolver may use. One per HTTP request, or per websocket connection."""

    runtime: Runtime
    request: Request | WebSocket
    response: Response | None
    request_id: str
    credential: str | None = None
    credential_error: DomainError | None = None
    connection_params: dict[str, Any] | None = None
    db: SessionGate = field(init=False)
    _loaders: Loaders | None = field(default=None, init=False)
    _viewer: Viewer | None = field(default=None, init=False)
    _auth_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    _sighting: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.db = self._gate()
        self._loaders = None

    def _gate(self) -> SessionGate:
        return SessionGate(self.runtime.sessions, on_commit=self._committed)

    def _committed(self, session: AsyncSession) -> None:
        """After a write commits: cached loads may be stale, and its events go to realtime subscribers."""
        self.refresh_loaders()
        self.runtime.realtime.announce(take_committed(session))

    async def renew(self) -> None:
        """A fresh session gate and loaders; the previous session is closed once nobody is using it.

        A websocket's context lives as long as the socket, so each event a subscription delivers
        is resolved with its own session and loaders rather than the connection's.
        """
        previous, self.db = self.db, self._gate()
        self._loaders = None
        await previous.close()  # once an operation still using it is done

    @property
    def cursors(self) -> CursorCodec:
        return self.runtime.cursors

    @property
    def loaders(self) -> Loaders:
        """The loaders of the current unit (made on first use: many operations need none)."""
        if self._loaders is None:
            self._loaders = Loaders(self)
        return self._loaders

    def refresh_loaders(self) -> None:
        """Forget cached loads (after a write committed, they may be stale)."""
        self._loaders = None

    @property
    def authenticated(self) -> Viewer | None:
        """The viewer, if authentication already happened (no IO)."""
        return self._viewer

    async def viewer(self) -> Viewer:
        """The authenticated viewer; UNAUTHENTICATED without a valid credential."""
        if self._viewer is not None:
            return self._viewer
        if self.credential_error is not None:
            raise self.credential_error
        if self.credential is None:
            raise DomainError(
                ErrorCode.UNAUTHENTICATED, "Authentication required: send 'Authorization: Bearer <token>'"
            )
        async with self._auth_lock:
            if self._viewer is None:
                try:
                    # Reads only (autocommit); most requests find their viewer cached and read nothing.
                    self._viewer = await authenticate(
                        self.db.read,
                        settings=self.runtime.settings,
                        credential=self.credential,
                        cache=self.runtime.viewers,
                    )
                except DomainError as exc:
                    self.credential_error = exc
                    raise
                await self._seen(self._viewer)
        return self._viewer

    async def _seen(self, viewer: Viewer) -> None:
        """Record that the viewer used the API, at most once a minute (app/tenancy/last_seen.py):
        over HTTP while the operation runs (it ends once written, :meth:`settle`), on a
        websocket as it connects."""
        seen = self.runtime.viewers.seen
        if seen.due(viewer.user):
            self._sighting = seen.start(self.runtime.sessions, user_id=viewer.user_id, role=viewer.role)
            if self.response is None:
                await self.settle()

    async def settle(self) -> None:
        """Wait for the viewer's sighting, if one is being written: an operation's work ends with it."""
        sighting, self._sighting = self._sighting, None
        if sighting is not None:
            await sighting

    async def readable(self, loader: DataLoader[uuid.UUID, Owned | None], key: uuid.UUID) -> Owned | None:
        """A user's row (a run, an avatar session…) by key through ``loader``, if the viewer may
        read it: their own, or any of the tenant's for admins; None otherwise."""
        viewer = await self.viewer()
        row = await loader.load(key)
        return row if row is not None and viewer.may_read(row.user_id) else None

    async def visible(
        self, loader: DataLoader[uuid.UUID, Content | None], key: uuid.UUID, *, published: Enum
    ) -> Content | None:
        """Authored content (a journey, an onboarding) by key through ``loader``, if the viewer
        may see it: only when ``published`` for users, in any status for admins; None otherwise."""
        viewer = await self.viewer()
        item = await loader.load(key)
        return item if item is not None and (viewer.is_admin or item.status is published) else None

    async def admin(self) -> Viewer:
        """The viewer, who must be an admin of their tenant (FORBIDDEN otherwise)."""
        viewer = await self.viewer()
        if not viewer.is_admin:
            raise DomainError(ErrorCode.FORBIDDEN, "This operation needs the admin role")
        return viewer


Info: TypeAlias = StrawberryInfo[Context, None]
