"""What a running service holds for its lifetime: settings, database, cursor signer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import SessionFactory, create_engine, create_session_factory
from app.graphql.relay import CursorCodec


@dataclass
class Runtime:
    """Long-lived parts shared by every request of one process."""

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    cursors: CursorCodec

    @classmethod
    def create(cls, settings: Settings, database_url: str) -> Runtime:
        engine = create_engine(database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            cursors=CursorCodec(settings.cursor_secret),
        )

    async def close(self) -> None:
        await self.engine.dispose()
