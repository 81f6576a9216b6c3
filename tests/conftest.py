"""Test harness: a real PostgreSQL (embedded unless DATABASE_URL is set), migrated once,
the real ASGI app served by uvicorn on a loopback port, and a clean database per test."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, load_settings
from app.db import embedded_server_url, ensure_database, stop_embedded_server, transaction
from app.main import create_app
from app.migrate import upgrade_to_head_async
from app.runtime import Runtime
from app.serving import SERVER_OPTIONS
from app.tenancy.credentials import Role, mint_user_token
from app.tenancy.models import Tenant
from app.tenancy.service import create_tenant
from tests.livekit_server import FakeLiveKit, running_livekit

TEST_SECRET = "test-secret-" + "x" * 60
TABLES_KEPT = {"alembic_version"}


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="journeys-test-") as path:
        yield Path(path)
        # Stop the embedded server before its directory goes (else it outlives the suite).
        stop_embedded_server(Path(path))


@pytest.fixture(scope="session")
def livekit_server() -> Iterator[FakeLiveKit]:
    """A local server speaking LiveKit's RoomService, which the live server is configured with."""
    with running_livekit() as fake:
        yield fake


@pytest.fixture(scope="session")
def settings(data_dir: Path, livekit_server: FakeLiveKit) -> Settings:
    return load_settings(
        {
            "JOURNEYS_ENV": "test",
            "JOURNEYS_JWT_SECRET": TEST_SECRET,
            "JOURNEYS_DATA_DIR": str(data_dir),
            **livekit_server.environ(),
            # Short, so timeout tests are quick; the reconciliation is run by the tests themselves.
            "LIVEKIT_TIMEOUT": "1",
            "LIVEKIT_RECONCILE_INTERVAL": "0",
        }
    )


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> str:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        # A dedicated database on the given server, so the suite never touches real data.
        url = make_url(configured.replace("postgresql://", "postgresql+asyncpg://", 1))
        name = f"{url.database}_test"
        return url.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    return embedded_server_url(data_dir, cleanup="delete")


@pytest.fixture(scope="session")
async def migrated(database_url: str) -> str:
    await ensure_database(database_url)
    await upgrade_to_head_async(database_url)
    return database_url


class LiveServer:
    """The app served over real HTTP on a loopback port."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.graphql_url = f"{self.url}/graphql"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@pytest.fixture(scope="session")
async def server(migrated: str, settings: Settings) -> AsyncIterator[LiveServer]:
    app = create_app(settings, migrated)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **SERVER_OPTIONS)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    while not uv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(app, port)
    finally:
        uv.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="session")
async def truncate_sql(server: LiveServer) -> str:
    async with server.runtime.engine.connect() as conn:
        names = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
        tables = [n for n in names if n not in TABLES_KEPT]
    return "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"


@pytest.fixture
async def empty_database(server: LiveServer, truncate_sql: str) -> None:
    # The server's background passes (webhook deliveries, the realtime sweep, key purges) may hold a
    # lock on one table while wanting another that TRUNCATE already holds: PostgreSQL then cancels
    # one side as a deadlock. When that side is the TRUNCATE, it is simply taken again.
    for attempt in range(5):
        try:
            async with server.runtime.engine.begin() as conn:
                await conn.execute(text(truncate_sql))
            return
        except DBAPIError as exc:
            if "deadlock" not in str(exc).lower() or attempt == 4:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


@pytest.fixture(autouse=True)
def clean_database(request: pytest.FixtureRequest) -> None:
    """Tests that touch the database start from empty tables."""
    if "server" in request.fixturenames:
        request.getfixturevalue("empty_database")


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
def db(server: LiveServer) -> Any:
    """``async with db() as session``: a transaction committed at the end."""

    @asynccontextmanager
    async def session_scope() -> AsyncIterator[AsyncSession]:
        async with transaction(server.runtime.sessions) as session:
            yield session

    return session_scope


class GraphQLClient:
    """Posts GraphQL operations as a given credential."""

    def __init__(self, http: httpx.AsyncClient, credential: str | None) -> None:
        self.http = http
        self.credential = credential

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.credential}"} if self.credential else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The operation's data, asserting it had no top-level errors."""
        body = await self.post(query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def error_codes(self, query: str, variables: dict[str, Any] | None = None) -> list[str]:
        """The codes of the operation's top-level errors."""
        body = await self.post(query, variables)
        return [e["extensions"]["code"] for e in body.get("errors", [])]


class Actors:
    """Makes tenants and credentials for them."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, db: Any) -> None:
        self.http = http
        self.settings = settings
        self.db = db

    async def tenant(self, slug: str | None = None, timezone: str = "UTC") -> Tenant:
        async with self.db() as session:
            return await create_tenant(
                session, slug=slug or f"t-{uuid.uuid4().hex[:10]}", name="Test tenant", timezone=timezone
            )

    def token(self, tenant: Tenant, user: str = "alice", *, role: Role = Role.USER, **kwargs: Any) -> str:
        return mint_user_token(self.settings, tenant_slug=tenant.slug, subject=user, role=role, **kwargs)

    def user(self, tenant: Tenant, user: str = "alice", **kwargs: Any) -> GraphQLClient:
        return GraphQLClient(self.http, self.token(tenant, user, **kwargs))

    def admin(self, tenant: Tenant, user: str = "admin") -> GraphQLClient:
        return GraphQLClient(self.http, self.token(tenant, user, role=Role.ADMIN))

    def anonymous(self) -> GraphQLClient:
        return GraphQLClient(self.http, None)

    def credential(self, credential: str) -> GraphQLClient:
        return GraphQLClient(self.http, credential)


@pytest.fixture
def actors(client: httpx.AsyncClient, settings: Settings, db: Any) -> Actors:
    return Actors(client, settings, db)


class StatementCounter:
    """Counts SQL statements the server's engine executes, and the database round trips they
    and transaction control take: a statement is one round trip (once prepared), and so is each
    BEGIN, COMMIT and ROLLBACK asyncpg really sends (none on an autocommit connection, nor a
    COMMIT or ROLLBACK of a transaction that never began on the server)."""

    def __init__(self, runtime: Runtime) -> None:
        self.engine = runtime.engine.sync_engine
        self.count = 0
        self.begins = 0
        self.commits = 0
        self.rollbacks = 0

    @property
    def round_trips(self) -> int:
        return self.count + self.begins + self.commits + self.rollbacks

    @staticmethod
    def _driver(conn: Any) -> Any:
        # SQLAlchemy's asyncpg adapter: autocommit, and the asyncpg transaction once BEGIN was sent.
        return conn.connection.dbapi_connection

    def _on_execute(self, conn: Any, *_args: Any, **_kwargs: Any) -> None:
        self.count += 1
        driver = self._driver(conn)
        if not driver.autocommit and driver._transaction is None:
            self.begins += 1  # asyncpg sends BEGIN before this statement

    def _on_commit(self, conn: Any) -> None:
        if not conn.invalidated and self._driver(conn)._transaction is not None:
            self.commits += 1

    def _on_rollback(self, conn: Any) -> None:
        if not conn.invalidated and self._driver(conn)._transaction is not None:
            self.rollbacks += 1

    @asynccontextmanager
    async def measure(self) -> AsyncIterator[StatementCounter]:
        self.count = self.begins = self.commits = self.rollbacks = 0
        listeners = (
            ("before_cursor_execute", self._on_execute),
            ("commit", self._on_commit),
            ("rollback", self._on_rollback),
        )
        for name, listener in listeners:
            event.listen(self.engine, name, listener)
        try:
            yield self
        finally:
            for name, listener in listeners:
                event.remove(self.engine, name, listener)


@pytest.fixture
def statements(server: LiveServer) -> StatementCounter:
    return StatementCounter(server.runtime)
