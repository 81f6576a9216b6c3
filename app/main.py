"""The ASGI application: routes, middleware and the lifespan of long-lived parts."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from app.avatars.reconcile import Reconciler
from app.avatars.webhooks import livekit_webhook
from app.config import Settings, get_settings
from app.db import resolve_database_url
from app.graphql.ide import graphiql_assets_route
from app.graphql.schema import create_schema
from app.graphql.view import JourneysGraphQL
from app.idempotency import KeyPurge
from app.metrics import CONTENT_TYPE, exposition, instrument_pool
from app.middleware import RequestContextMiddleware
from app.migrate import current_revision, head_revision
from app.realtime.ably import AblyMirror
from app.runtime import Runtime
from app.tracing import instrument_engine, start_tracing, stop_tracing

log = logging.getLogger("app.http")


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


async def metrics(request: Request) -> Response:
    # With worker processes, every worker's metrics (app/metrics.py).
    body = exposition(request.app.state.runtime.settings.metrics_multiproc_dir)
    return Response(body, headers={"content-type": CONTENT_TYPE})


def create_app(settings: Settings | None = None, database_url: str | None = None) -> Starlette:
    """Build the service. The database URL defaults to the configured or embedded one."""
    settings = settings or get_settings()
    url = database_url or resolve_database_url(settings)
    runtime = Runtime.create(settings, url)
    schema = create_schema(introspection=settings.introspection, hide_suggestions=settings.production)
    graphql = JourneysGraphQL(schema, runtime)
    instrument_pool(runtime.engine)  # connections in use, for /metrics
    if settings.otel_exporter_otlp_endpoint:
        instrument_engine(runtime.engine)  # a span per SQL statement (app/tracing.py)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        app.state.runtime = runtime
        app.state.head_revision = head_revision()
        # The Ably mirror publishes stored events to Ably, apart from requests (app/realtime/ably.py).
        ably_mirror = AblyMirror.from_settings(settings, runtime.sessions) if settings.ably_api_key else None
        reconciler = Reconciler.for_runtime(runtime)
        key_purge = KeyPurge(runtime.engine)  # deletes expired idempotency keys (app/idempotency.py)
        tracing = start_tracing(settings)  # OpenTelemetry, when OTEL_EXPORTER_OTLP_ENDPOINT is set
        try:
            # Realtime delivery (broadcast, publisher, sweep, prune). On shutdown the server has already
            # closed the websockets (1001 under `journeys serve`, app/serving.py) by the time this resumes.
            await runtime.realtime.start()
            if ably_mirror is not None:
                ably_mirror.start()
            # Signed outbound webhooks from the event store (app/webhooks/worker.py).
            if runtime.webhooks is not None:
                runtime.webhooks.start()
            # Retries pending LiveKit room deletions and ends sessions whose room is gone (app/avatars/reconcile.py).
            if reconciler is not None:
                reconciler.start()
            key_purge.start()
            # What startup allocated lives as long as the process: keep it out of the collector's
            # full passes, which otherwise pause requests for tens of milliseconds (see the benchmark).
            gc.collect()
            gc.freeze()
            yield {}
        finally:
            await key_purge.stop()
            if reconciler is not None:
                await reconciler.stop()
            if ably_mirror is not None:
                await ably_mirror.stop()
            await runtime.close()
            if tracing:
                await stop_tracing()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/webhooks/livekit", livekit_webhook, methods=["POST"]),
            graphiql_assets_route(),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.schema = schema
    app.add_middleware(RequestContextMiddleware)
    return app
