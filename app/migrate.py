"""Running Alembic migrations from code (the CLI and `serve` migrate to head first)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    """Alembic's config pointing at our migrations and the given database."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration (synchronous; runs its own event loop)."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    """Apply every pending migration from async code."""
    await asyncio.to_thread(upgrade_to_head, database_url)


def head_revision() -> str | None:
    """The newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://x/x")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None before the first migration). Read straight from
    Alembic's version table: cheap enough for every readiness probe, and silent in the logs."""
    async with engine.connect() as conn:
        if (await conn.execute(text("SELECT to_regclass('alembic_version')"))).scalar_one() is None:
            return None
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    if len(versions) > 1:
        raise RuntimeError(f"the database is at several revisions at once: {sorted(versions)}")
    return versions[0] if versions else None
