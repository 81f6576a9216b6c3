"""The ASGI application: routes, middleware and the lifespan of long-lived parts."""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.avatars.reconcile import Reconciler
from app.avatars.webhooks import livekit_webhook
from app.config import Settings, get_settings
from app.db import resolve_database_url
from app.graphql.limits import MAX_BODY_BYTES
from app.graphql.schema import create_schema
from app.graphql.view import JourneysGraphQL
from app.logs import CURRENT_REQUEST, RequestLog
from app.metrics import METRICS
from app.migrate import current_revision, head_revision
from app.realtime.ably import AblyMirror
from app.runtime import Runtime

log = logging.getLogger("app.http")


class RequestContextMiddleware:
    """Request ids, access logs, metrics and the 1 MiB body limit, for HTTP requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        request_id = headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # Every log record written while this request is handled carries its id (app/logs.py).
        CURRENT_REQUEST.set(RequestLog(request_id))
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            await _too_large(scope, receive, send)
            status = 413
        finally:
            elapsed = time.perf_counter() - started
            METRICS.observe_request(scope.get("path", ""), status, elapsed)
            log.info(
                "%s %s %s %.1fms",
                scope.get("method"),
                scope.get("path"),
                status,
                elapsed * 1000,
            )


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    body = {
        "errors": [
            {
                "message": f"Request body exceeds {MAX_BODY_BYTES} bytes",
                "extensions": {"code": "QUERY_TOO_COMPLEX", "status": 413},
            }
        ]
    }
    await JSONResponse(body, status_code=413)(scope, receive, send)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        current = await current_revision(runtime.engine)
    except Exception:  # any database failure means not ready
        log.warning("readiness check failed", exc_info=True)
        return JSONResponse({"status": "unavailable", "database": False}, status_code=503)
    head = request.app.state.head_revision
    ready = current == head
    return JSONResponse(
        {"status": "ok" if ready else "migrations pending", "database": True, "revision": current, "head": head},
        status_code=200 if ready else 503,
    )


async def metrics(_request: Request) -> Response:
    return PlainTextResponse(METRICS.render(), media_type="text/plain; version=0.0.4")


def create_app(settings: Settings | None = None, database_url: str | None = None) -> Starlette:
    """Build the service. The database URL defaults to the configured or embedded one."""
    settings = settings or get_settings()
    url = database_url or resolve_database_url(settings)
    runtime = Runtime.create(settings, url)
    schema = create_schema(introspection=settings.introspection)
    graphql = JourneysGraphQL(schema, runtime)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        app.state.runtime = runtime
        app.state.head_revision = head_revision()
        # The Ably mirror publishes stored events to Ably, apart from requests (app/realtime/ably.py).
        ably_mirror = AblyMirror.from_settings(settings, runtime.sessions) if settings.ably_api_key else None
        reconciler = Reconciler.for_runtime(runtime)
        try:
            # Realtime delivery (broadcast, publisher, sweep, prune). On shutdown the server has already
            # closed the websockets (1001 under `journeys serve`, app/serving.py) by the time this resumes.
            await runtime.realtime.start()
            if ably_mirror is not None:
                ably_mirror.start()
            # Retries pending LiveKit room deletions and ends sessions whose room is gone (app/avatars/reconcile.py).
            if reconciler is not None:
                reconciler.start()
            # What startup allocated lives as long as the process: keep it out of the collector's
            # full passes, which otherwise pause requests for tens of milliseconds (see the benchmark).
            gc.collect()
            gc.freeze()
            yield {}
        finally:
            if reconciler is not None:
                await reconciler.stop()
            if ably_mirror is not None:
                await ably_mirror.stop()
            await runtime.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/webhooks/livekit", livekit_webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_middleware(RequestContextMiddleware)
    return app
