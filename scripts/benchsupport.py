"""What the benchmark scripts share: their own embedded PostgreSQL, migrated to head."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from app.db import embedded_server_url, ensure_database, stop_embedded_server
from app.migrate import upgrade_to_head_async


@dataclass
class Database:
    url: str  # SQLAlchemy (postgresql+asyncpg://) URL
    data_dir: Path

    @property
    def asyncpg_dsn(self) -> str:
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def stop(self) -> None:
        stop_embedded_server(self.data_dir)


async def start_database(data_dir: Path) -> Database:
    """An embedded PostgreSQL in ``data_dir`` (deleted when stopped), migrated to head."""
    url = await asyncio.to_thread(embedded_server_url, data_dir, cleanup="delete")
    await ensure_database(url)
    await upgrade_to_head_async(url)
    return Database(url=url, data_dir=data_dir)
