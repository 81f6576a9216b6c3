"""The floor of scripts/bench_operations.py: the same answers as the app, with nothing but the work.

A plain Starlette app on an asyncpg pool, served by its own `uvicorn` process. Per operation it
parses the request body, checks the same JWT (PyJWT, HS256, the same secret and required
claims), runs the SQL the app's resolvers issue (bench_operations checks that, and that the JSON
is byte-for-byte the app's) and encodes the answer the way the app's GraphQL view does
(``json.dumps`` with ``separators=(",", ":")``). It imports nothing from the app.

    BENCH_FLOOR_DSN=postgresql://… BENCH_FLOOR_SECRET=… \
        uvicorn bench_floor:create_app --factory --app-dir scripts --port 8001

``BENCH_FLOOR_POOL`` is the pool's maximum size (default 40, the app's pool_size + max_overflow).
Released connections are not reset: the floor changes no session state, so asyncpg's reset query
(advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would be work the app does not do.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Page sizes of the measured operations (bench_operations builds its GraphQL documents from them).
JOURNEYS_PAGE = 20  # journeys(first: 20)
MY_JOURNEYS_PAGE = 10  # myJourneys(first: 10)
INSTANCE_EVENTS_PAGE = 10  # events(first: 10) of each journey instance


def global_id(type_name: str, local: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{local}".encode()).rstrip(b"=").decode()


# The statements the app issues (bench_operations compares them with what the app sends), in asyncpg's syntax.
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

# Per operation, the statements the floor runs (besides none other).
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


def encode(content: Any, status_code: int = 200) -> Response:
    """JSON as the app's GraphQL view writes it."""
    return Response(json.dumps(content, separators=(",", ":"), default=str), status_code, media_type="application/json")


Handler = Callable[[asyncpg.Connection, asyncpg.Record, asyncpg.Record, str | None], Awaitable[Any]]


async def journeys(conn: asyncpg.Connection, tenant: asyncpg.Record, _user: asyncpg.Record, _tz: str | None) -> Any:
    rows = (await conn.fetch(SQL_CATALOGUE, tenant["id"], "PUBLISHED", "PUBLIC", JOURNEYS_PAGE + 1))[:JOURNEYS_PAGE]
    events = await conn.fetch(SQL_EVENTS_OF_JOURNEYS, tenant["id"], [r["id"] for r in rows])
    grouped: dict[uuid.UUID, list[Any]] = {r["id"]: [] for r in rows}
    for e in events:
        grouped[e["journey_id"]].append({"id": global_id("JourneyEvent", e["id"]), "title": e["title"]})
    edges = [
        {"node": {"id": global_id("Journey", r["id"]), "title": r["title"], "events": grouped[r["id"]]}} for r in rows
    ]
    return {"journeys": {"edges": edges}}


async def my_journeys(conn: asyncpg.Connection, tenant: asyncpg.Record, user: asyncpg.Record, _tz: str | None) -> Any:
    instances = (await conn.fetch(SQL_MY_INSTANCES, tenant["id"], user["id"], MY_JOURNEYS_PAGE + 1))[:MY_JOURNEYS_PAGE]
    ids = [i["id"] for i in instances]
    by_id = {
        j["id"]: j
        for j in await conn.fetch(SQL_JOURNEYS_BY_IDS, tenant["id"], list({i["journey_id"] for i in instances}))
    }
    progress = await conn.fetch(SQL_PROGRESS, "COMPLETED", tenant["id"], ids)
    done = {r["id"]: (r["count_1"], r["anon_1"]) for r in progress}
    statuses: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for r in await conn.fetch(SQL_INSTANCE_EVENTS, tenant["id"], INSTANCE_EVENTS_PAGE + 1, ids):
        statuses[r["instance_id"]].append(r["status"] or "NOT_STARTED")
    edges = []
    for i in instances:
        total, completed = done.get(i["id"], (0, 0))
        edges.append(
            {
                "node": {
                    "id": global_id("JourneyInstance", i["id"]),
                    "status": i["status"],
                    "journey": {"title": by_id[i["journey_id"]]["title"]},
                    "progress": {"percent": completed * 100 // total if total else 0},
                    "events": {"edges": [{"node": {"status": s}} for s in statuses[i["id"]][:INSTANCE_EVENTS_PAGE]]},
                }
            }
        )
    return {"myJourneys": {"edges": edges}}


async def today_events(conn: asyncpg.Connection, tenant: asyncpg.Record, user: asyncpg.Record, tz: str | None) -> Any:
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


HANDLERS: dict[str, Handler] = {"journeys": journeys, "myJourneys": my_journeys, "todayEvents": today_events}


async def _no_reset(_conn: asyncpg.Connection) -> None:
    return None


def create_app() -> Starlette:
    dsn = os.environ["BENCH_FLOOR_DSN"]
    secret = os.environ["BENCH_FLOOR_SECRET"]
    pool_size = int(os.environ.get("BENCH_FLOOR_POOL", "40"))
    state: dict[str, asyncpg.Pool] = {}

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
                    tenant = await conn.fetchrow(SQL_TENANT, claims["tenant"])
                    user = await conn.fetchrow(SQL_USER, tenant["id"], claims["sub"])
                    data = await handler(conn, tenant, user, claims.get("tz"))
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
