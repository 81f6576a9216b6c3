"""The floor of scripts/bench_operations.py: the same answers as the app, with nothing but the work.

A plain Starlette app on an asyncpg pool, served by its own `uvicorn` process. Per operation it
parses the request body, checks the same JWT (PyJWT, HS256, the same secret and required
claims; on every request, where the app remembers tokens it verified), finds the viewer as the
app does (cached in process for the app's TTL, else the app's one statement; the user's sighting
written at most once a minute), runs the SQL the app's resolvers issue — the published versions
as users and runs see them (bench_operations checks that, and that the JSON is byte-for-byte the
app's) — and encodes the answer the way the app's GraphQL view does (orjson). It imports nothing
from the app.

    BENCH_FLOOR_DSN=postgresql://… BENCH_FLOOR_SECRET=… \
        uvicorn bench_floor:create_app --factory --app-dir scripts --port 8001

``BENCH_FLOOR_POOL`` is the pool's maximum size (default 40, the app's pool_size + max_overflow).
Released connections are not reset: the floor changes no session state, so asyncpg's reset query
(advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would be work the app does not do.
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Page sizes of the measured operations (bench_operations builds its GraphQL documents from them).
JOURNEYS_PAGE = 20  # journeys(first: 20)
MY_JOURNEYS_PAGE = 10  # myJourneys(first: 10)
INSTANCE_EVENTS_PAGE = 10  # events(first: 10) of each journey instance
VIEWER_TTL = 30.0  # seconds a viewer stays cached (app/tenancy/viewer_cache.py TTL_SECONDS)
SEEN_INTERVAL = timedelta(minutes=1)  # a user's sighting is written at most this often (app/tenancy/last_seen.py)


def global_id(type_name: str, local: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{local}".encode()).rstrip(b"=").decode()


# The statements the app issues (bench_operations compares them with what the app sends), in asyncpg's syntax.
# The viewer (tenant by slug and its user, one statement), read when the viewer cache misses (app/tenancy/service.py).
SQL_VIEWER = (
    "SELECT tenants.id, tenants.slug, tenants.name, tenants.timezone, tenants.level_thresholds, tenants.created_at, "
    "users.id AS id_1, users.tenant_id, users.external_id, users.timezone AS timezone_1, "
    "users.created_at AS created_at_1, users.role, users.last_seen_at "
    "FROM tenants LEFT OUTER JOIN users ON users.tenant_id = tenants.id AND users.external_id = $1::VARCHAR "
    "WHERE tenants.slug = $2::VARCHAR"
)
# The viewer's sighting, at most once a minute per process and user (app/tenancy/last_seen.py), in its own transaction.
SQL_SEEN = (
    "UPDATE users SET role=$1::VARCHAR, last_seen_at=now() WHERE users.id = $2::UUID "
    "AND (users.last_seen_at IS NULL OR users.last_seen_at < now() - $3::INTERVAL)"
)
# A journey as served (a version's fields, the journey's status), and an event of a version (app/catalog/reads.py).
_SERVED = (
    "journey_versions.xp_reward{a}, journey_versions.created_at{a}, journey_versions.published_at{a}, "
    "journey_versions.version{a}"
)
_EVENT = (
    "journey_event_versions.id, journey_event_versions.journey_id, journey_event_versions.position, "
    "journey_event_versions.title, journey_event_versions.description, journey_event_versions.kind, "
    "journey_event_versions.day_offset, journey_event_versions.duration_minutes, journey_event_versions.xp_reward, "
    "CAST(journey_event_versions.metadata AS TEXT) AS metadata_"
)
_INSTANCE = (
    "journey_instances.id, journey_instances.user_id, journey_instances.journey_id, journey_instances.journey_version, "
    "journey_instances.status, journey_instances.started_at, journey_instances.started_on, journey_instances.timezone, "
    "journey_instances.suspended_at, journey_instances.completed_at, journey_instances.shift_days, "
    "CAST(journey_instances.metadata AS TEXT) AS metadata_"
)
# A run's events are those of the version it pins, with its rows (absent: not started).
_RUN_EVENTS = (
    "journey_event_versions ON journey_event_versions.journey_id = journey_instances.journey_id "
    "AND journey_event_versions.version = journey_instances.journey_version "
    "LEFT OUTER JOIN event_instances ON event_instances.instance_id = journey_instances.id "
    "AND event_instances.journey_event_id = journey_event_versions.id"
)
_PINNED = (
    "(journey_{t}versions.journey_id, journey_{t}versions.version) "
    "IN (SELECT unnest($2::UUID[]) AS unnest_1, unnest($3::INTEGER[]) AS unnest_2)"
)
SQL_CATALOGUE = (
    "SELECT journey_versions.journey_id AS id, journey_versions.slug, journey_versions.title, "
    "journey_versions.description, journey_versions.category, journey_versions.tags, journey_versions.visibility, "
    f"'PUBLISHED' AS status, {_SERVED.format(a='')} FROM journey_versions "
    "WHERE journey_versions.tenant_id = $1::UUID AND journey_versions.live "
    "AND journey_versions.visibility = $2::journey_visibility "
    "ORDER BY journey_versions.created_at DESC, journey_versions.journey_id DESC LIMIT $3"
)
SQL_EVENTS_OF_VERSIONS = (
    f"SELECT {_EVENT}, journey_event_versions.version AS item_version FROM journey_event_versions "
    f"WHERE journey_event_versions.tenant_id = $1::UUID AND {_PINNED.format(t='event_')} "
    "ORDER BY journey_event_versions.journey_id, journey_event_versions.version, journey_event_versions.position"
)
SQL_MY_INSTANCES = (
    f"SELECT {_INSTANCE} FROM journey_instances WHERE journey_instances.tenant_id = $1::UUID "
    "AND journey_instances.user_id = $2::UUID "
    "ORDER BY journey_instances.started_at DESC, journey_instances.id DESC LIMIT $3"
)
SQL_PINNED_JOURNEYS = (
    "SELECT journey_versions.journey_id AS id, journey_versions.slug AS slug, journey_versions.title AS title, "
    "journey_versions.description AS description, journey_versions.category AS category, "
    "journey_versions.tags AS tags, journey_versions.visibility AS visibility, journeys.status, "
    f"{_SERVED.format(a=' AS {}').format('xp_reward', 'created_at', 'published_at', 'version')} "
    "FROM journey_versions JOIN journeys ON journeys.id = journey_versions.journey_id "
    f"WHERE journey_versions.tenant_id = $1::UUID AND {_PINNED.format(t='')}"
)
SQL_PROGRESS = (
    "SELECT journey_instances.id, count(journey_event_versions.id) AS total, "
    "count(event_instances.id) FILTER (WHERE event_instances.status = $1::event_instance_status) AS done "
    f"FROM journey_instances LEFT OUTER JOIN {_RUN_EVENTS} "
    "WHERE journey_instances.tenant_id = $2::UUID AND journey_instances.id = ANY ($3::UUID[]) "
    "GROUP BY journey_instances.id"
)
_RANKED = (
    "instance_id, started_on, shift_days, id, journey_id, position, title, description, kind, day_offset, "
    "duration_minutes, xp_reward, metadata_, row_status, row_started_at, row_completed_at, "
    "row_shift_days_at_completion, rank"
)
_EVENT_ROW = (
    "event_instances.status AS row_status, event_instances.started_at AS row_started_at, "
    "event_instances.completed_at AS row_completed_at, "
    "event_instances.shift_days_at_completion AS row_shift_days_at_completion"
)
SQL_INSTANCE_EVENTS = (
    f"SELECT {', '.join(f'ranked.{name}' for name in _RANKED.split(', '))} "
    "FROM (SELECT journey_instances.id AS instance_id, journey_instances.started_on AS started_on, "
    "journey_instances.shift_days AS shift_days, "
    + ", ".join(
        f"{column} AS {column.rpartition('.')[2]}" if " AS " not in column else column for column in _EVENT.split(", ")
    )
    + f", {_EVENT_ROW}, "
    "row_number() OVER (PARTITION BY journey_instances.id ORDER BY journey_event_versions.position ASC) AS rank "
    f"FROM journey_instances JOIN {_RUN_EVENTS} "
    "WHERE journey_instances.tenant_id = $1::UUID AND journey_instances.id = ANY ($2::UUID[])) AS ranked "
    "WHERE ranked.rank <= $3 ORDER BY ranked.instance_id, ranked.rank"
)
# The run's columns under the labels i_<name>, the journey's under j_<name> (app/progress/today.py).
_TODAY_INSTANCE = ", ".join(
    f"{column} AS i_{column.rpartition('.')[2]}"
    if " AS " not in column
    else column.replace(" AS metadata_", " AS i_metadata_")
    for column in _INSTANCE.split(", ")
)
_TODAY_JOURNEY = ", ".join(
    f"{column} AS j_{label}"
    for column, label in [
        ("journey_versions.journey_id", "id"),
        *((f"journey_versions.{name}", name) for name in ("slug", "title", "description", "category", "tags")),
        ("journey_versions.visibility", "visibility"),
        ("journeys.status", "status"),
        *((f"journey_versions.{name}", name) for name in ("xp_reward", "created_at", "published_at", "version")),
    ]
)
SQL_TODAY = (
    f"SELECT {_TODAY_INSTANCE}, {_TODAY_JOURNEY}, {_EVENT}, {_EVENT_ROW} "
    "FROM journey_instances JOIN journey_versions ON journey_versions.journey_id = journey_instances.journey_id "
    "AND journey_versions.version = journey_instances.journey_version "
    f"JOIN journeys ON journeys.id = journey_instances.journey_id JOIN {_RUN_EVENTS} "
    "WHERE journey_instances.tenant_id = $1::UUID AND journey_instances.user_id = $2::UUID "
    "AND journey_instances.status = $3::journey_instance_status "
    "AND (event_instances.id IS NULL OR event_instances.status != $4::event_instance_status) "
    "AND (journey_event_versions.day_offset IS NULL OR journey_instances.started_on + journey_event_versions.day_offset "
    "+ journey_instances.shift_days <= $5::DATE) "
    "ORDER BY journey_instances.started_at, journey_instances.id, journey_event_versions.day_offset IS NULL, "
    "journey_event_versions.position"
)

# Per operation, the statements the floor runs once its viewer is cached, as the app (besides none other).
FLOOR_SQL: dict[str, list[str]] = {
    "journeys": [SQL_CATALOGUE, SQL_EVENTS_OF_VERSIONS],
    "myJourneys": [SQL_MY_INSTANCES, SQL_PINNED_JOURNEYS, SQL_PROGRESS, SQL_INSTANCE_EVENTS],
    "todayEvents": [SQL_TODAY],
}


def normalized(statement: str) -> str:
    """A statement with whitespace collapsed, ``IN ($n::T, …)`` as ``= ANY($?::T[])`` and ``$n`` as ``$?``."""
    statement = " ".join(statement.split())
    statement = re.sub(r"IN \(\$\d+::(\w+)(?:, \$\d+::\w+)*\)", r"= ANY($?::\1[])", statement)
    return re.sub(r"\$\d+", "$?", statement)


def encode(content: Any, status_code: int = 200) -> Response:
    """JSON as the app's GraphQL view writes it (orjson)."""
    return Response(orjson.dumps(content, default=str), status_code, media_type="application/json")


@dataclass(frozen=True, slots=True)
class Viewer:
    """What the operations need of the tenant and user a token names (a row of SQL_VIEWER)."""

    tenant_id: uuid.UUID
    tenant_timezone: str | None
    user_id: uuid.UUID
    user_timezone: str | None
    last_seen_at: datetime | None


class Viewers:
    """Viewers by (tenant slug, subject) for VIEWER_TTL seconds, and when each user's sighting was
    last written: what the app keeps in process (app/tenancy/viewer_cache.py, last_seen.py), so the
    floor reads and writes what the app does. Nothing changes a viewer while the benchmark runs, so
    the floor needs no invalidation (the app's listener connection idles through it)."""

    def __init__(self) -> None:
        self._viewers: dict[tuple[str, str], tuple[float, Viewer]] = {}
        self._seen: dict[uuid.UUID, datetime] = {}

    async def get(self, conn: asyncpg.Connection, slug: str, subject: str) -> Viewer | None:
        found = self._viewers.get((slug, subject))
        if found is not None and found[0] > time.monotonic():
            return found[1]
        row = await conn.fetchrow(SQL_VIEWER, subject, slug)
        if row is None or row["id_1"] is None:
            return None  # the app would create a user seen first; the benchmark's users exist
        viewer = Viewer(row["id"], row["timezone"], row["id_1"], row["timezone_1"], row["last_seen_at"])
        self._viewers[slug, subject] = (time.monotonic() + VIEWER_TTL, viewer)
        return viewer

    def due(self, viewer: Viewer) -> bool:
        """Whether the user's sighting is to be written now (then it counts as written)."""
        now = datetime.now(UTC)
        written = self._seen.get(viewer.user_id, viewer.last_seen_at)
        if written is not None and now - written < SEEN_INTERVAL:
            self._seen.setdefault(viewer.user_id, written)
            return False
        self._seen[viewer.user_id] = now
        return True


Handler = Callable[[asyncpg.Connection, Viewer, str | None], Awaitable[Any]]


async def journeys(conn: asyncpg.Connection, viewer: Viewer, _tz: str | None) -> Any:
    rows = (await conn.fetch(SQL_CATALOGUE, viewer.tenant_id, "PUBLIC", JOURNEYS_PAGE + 1))[:JOURNEYS_PAGE]
    keys = [(r["id"], r["version"]) for r in rows]
    events = await conn.fetch(SQL_EVENTS_OF_VERSIONS, viewer.tenant_id, [k[0] for k in keys], [k[1] for k in keys])
    grouped: dict[tuple[uuid.UUID, int], list[Any]] = {key: [] for key in keys}
    for e in events:
        grouped[e["journey_id"], e["item_version"]].append(
            {"id": global_id("JourneyEvent", e["id"]), "title": e["title"]}
        )
    edges = [
        {"node": {"id": global_id("Journey", r["id"]), "title": r["title"], "events": grouped[r["id"], r["version"]]}}
        for r in rows
    ]
    return {"journeys": {"edges": edges}}


async def my_journeys(conn: asyncpg.Connection, viewer: Viewer, _tz: str | None) -> Any:
    instances = (await conn.fetch(SQL_MY_INSTANCES, viewer.tenant_id, viewer.user_id, MY_JOURNEYS_PAGE + 1))[
        :MY_JOURNEYS_PAGE
    ]
    ids = [i["id"] for i in instances]
    keys = list(dict.fromkeys((i["journey_id"], i["journey_version"]) for i in instances))
    pinned = await conn.fetch(SQL_PINNED_JOURNEYS, viewer.tenant_id, [k[0] for k in keys], [k[1] for k in keys])
    by_key = {(j["id"], j["version"]): j for j in pinned}
    progress = await conn.fetch(SQL_PROGRESS, "COMPLETED", viewer.tenant_id, ids)
    done = {r["id"]: (r["total"], r["done"]) for r in progress}
    statuses: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for r in await conn.fetch(SQL_INSTANCE_EVENTS, viewer.tenant_id, ids, INSTANCE_EVENTS_PAGE + 1):
        statuses[r["instance_id"]].append(r["row_status"] or "NOT_STARTED")
    edges = []
    for i in instances:
        total, completed = done.get(i["id"], (0, 0))
        edges.append(
            {
                "node": {
                    "id": global_id("JourneyInstance", i["id"]),
                    "status": i["status"],
                    "journey": {"title": by_key[i["journey_id"], i["journey_version"]]["title"]},
                    "progress": {"percent": completed * 100 // total if total else 0},
                    "events": {"edges": [{"node": {"status": s}} for s in statuses[i["id"]][:INSTANCE_EVENTS_PAGE]]},
                }
            }
        )
    return {"myJourneys": {"edges": edges}}


async def today_events(conn: asyncpg.Connection, viewer: Viewer, tz: str | None) -> Any:
    zone = "UTC"
    for candidate in (tz, viewer.user_timezone, viewer.tenant_timezone):
        if candidate:
            zone = candidate
            break
    day = datetime.now(ZoneInfo(zone)).date()
    groups: list[dict[str, Any]] = []
    last: uuid.UUID | None = None
    for r in await conn.fetch(SQL_TODAY, viewer.tenant_id, viewer.user_id, "ACTIVE", "COMPLETED", day):
        if r["i_id"] != last:
            last = r["i_id"]
            groups.append({"journey": {"title": r["j_title"]}, "events": []})
        event_id = uuid.uuid5(r["i_id"], str(r["id"]))  # app.progress.models.event_instance_id
        groups[-1]["events"].append(
            {"id": global_id("EventInstance", event_id), "status": r["row_status"] or "NOT_STARTED"}
        )
    return {"todayEvents": groups}


HANDLERS: dict[str, Handler] = {"journeys": journeys, "myJourneys": my_journeys, "todayEvents": today_events}


async def _no_reset(_conn: asyncpg.Connection) -> None:
    return None


def create_app() -> Starlette:
    dsn = os.environ["BENCH_FLOOR_DSN"]
    secret = os.environ["BENCH_FLOOR_SECRET"]
    pool_size = int(os.environ.get("BENCH_FLOOR_POOL", "40"))
    state: dict[str, asyncpg.Pool] = {}
    viewers = Viewers()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size, reset=_no_reset)
        try:
            yield
        finally:
            await state["pool"].close()

    served = [0]  # requests answered (or failed) by the endpoints, for bench_operations' per-request figures

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                await request.json()  # the app parses the body; so does the floor
                token = request.headers.get("authorization", "").partition(" ")[2]
                try:
                    claims = jwt.decode(
                        token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "tenant"]}
                    )
                except jwt.PyJWTError:
                    return encode({"errors": [{"message": "unauthenticated"}]}, status_code=401)
                async with state["pool"].acquire() as conn:
                    viewer = await viewers.get(conn, claims["tenant"], claims["sub"])
                    if viewer is None:
                        return encode({"errors": [{"message": "unauthenticated"}]}, status_code=401)
                    data = await handler(conn, viewer, claims.get("tz"))
                    if viewers.due(viewer):
                        async with conn.transaction():
                            await conn.execute(SQL_SEEN, claims.get("role", "user"), viewer.user_id, SEEN_INTERVAL)
                return encode({"data": data})
            finally:
                served[0] += 1

        return run

    async def metrics(_request: Request) -> Response:
        """Like the app's /metrics (journeys_http_requests_total), the count of requests served."""
        return Response(f"floor_requests_total {served[0]}\n", media_type="text/plain")

    async def readyz(_request: Request) -> Response:
        async with state["pool"].acquire() as conn:
            await conn.fetchval("SELECT 1")
        return encode({"status": "ok"})

    routes = [Route(f"/floor/{name}", endpoint(handler), methods=["POST"]) for name, handler in HANDLERS.items()]
    return Starlette(routes=[*routes, Route("/readyz", readyz), Route("/metrics", metrics)], lifespan=lifespan)
