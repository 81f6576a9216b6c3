"""What a running service holds for its lifetime: settings, database, cursor signer, realtime delivery,
viewer cache."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from app.avatars.livekit import LiveKit
from app.config import Settings
from app.db import SessionFactory, create_engine, create_session_factory
from app.graphql.relay import CursorCodec
from app.realtime.broadcast import create_broadcast
from app.realtime.delivery import Realtime
from app.tenancy.changes import ChangeListener, connector
from app.tenancy.viewer_cache import ViewerCache
from app.webhooks.worker import WebhookWorker


@dataclass
class Runtime:
    """Long-lived parts shared by every request of one process."""

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    cursors: CursorCodec
    realtime: Realtime
    livekit: LiveKit | None = None
    viewers: ViewerCache = field(default_factory=ViewerCache)
    changes: ChangeListener | None = None
    webhooks: WebhookWorker | None = None

    @classmethod
    def create(cls, settings: Settings, database_url: str) -> Runtime:
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        viewers = ViewerCache()
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            cursors=CursorCodec(settings.cursor_secret),
            realtime=Realtime(
                sessions=sessions, broadcast=create_broadcast(settings.broadcast_url, database_url=database_url)
            ),
            livekit=LiveKit.from_settings(settings),
            viewers=viewers,
            # Started by the first request that authenticates; until it listens, the cache serves nothing.
            changes=ChangeListener(viewers, connector(database_url)),
            # Started by the app's lifespan; None in production without JOURNEYS_SECRET_KEY.
            webhooks=WebhookWorker.from_settings(settings, database_url),
        )

    async def close(self) -> None:
        if self.changes is not None:
            await self.changes.close()
        await self.realtime.stop()
        if self.webhooks is not None:
            await self.webhooks.stop()
        if self.livekit is not None:
            await self.livekit.aclose()
        await self.engine.dispose()
