"""Prometheus metrics (prometheus_client), right under `journeys serve --workers N` too.

One process: the metrics live in this module's REGISTRY and ``/metrics`` renders it.
Several worker processes: `journeys serve` gives them a fresh directory in
``PROMETHEUS_MULTIPROC_DIR`` before they start (see :func:`multiprocess_directory`);
prometheus_client then keeps every value in a file per process there, and a scrape of any
worker merges them all (MultiProcessCollector): counters and histograms add up over every
worker that ever ran, gauges are ``livesum`` (summed over the live workers) or
``livemostrecent``. The supervisor removes a worker's live gauges when it exits
(``multiprocess.mark_process_dead``).

Labels stay bounded: routes are a fixed set, statuses are classes, operation names are the
first MAX_OPERATION_NAMES seen by a process (truncated), then "other"; outcomes are error
codes the server sets.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/webhooks/livekit"})
MAX_OPERATION_NAMES = 200
MAX_OPERATION_NAME_LENGTH = 64
_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")

# No `_created` series beside every counter and histogram.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry()

HTTP_REQUESTS = Counter(
    "journeys_http_requests", "HTTP requests served, by route and status class.", ["route", "status"], registry=REGISTRY
)
HTTP_SECONDS = Histogram(
    "journeys_http_request_seconds", "HTTP request latency, by route.", ["route"], buckets=BUCKETS, registry=REGISTRY
)
OPERATIONS = Counter(
    "journeys_graphql_operations",
    "GraphQL operations, by operation name, type and outcome (ok, or the first error's code). "
    "A subscription is counted when it ends.",
    ["operation", "type", "outcome"],
    registry=REGISTRY,
)
OPERATION_SECONDS = Histogram(
    "journeys_graphql_operation_seconds",
    "GraphQL query and mutation latency, by operation name and type (subscriptions are not timed).",
    ["operation", "type"],
    buckets=BUCKETS,
    registry=REGISTRY,
)
WEBSOCKETS_OPEN = Gauge(
    "journeys_websockets_open", "Accepted websockets now open.", multiprocess_mode="livesum", registry=REGISTRY
)
SUBSCRIPTIONS_ACTIVE = Gauge(
    "journeys_subscriptions_active",
    "Subscriptions now delivering events.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
DELIVERY_LAG = Histogram(
    "journeys_realtime_delivery_lag_seconds",
    "Seconds from an event's occurredAt (taken in its committing transaction) to its delivery to a subscriber; "
    "events replayed to a subscription that resumes `after` an old id land in the top buckets.",
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)
ABLY_BACKLOG = Gauge(
    "journeys_ably_backlog_events",
    "Stored events the Ably mirror has not published yet (all tenants; sampled by the mirror).",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
ABLY_PUBLISHED = Counter("journeys_ably_published_events", "Events the Ably mirror published.", registry=REGISTRY)
WEBHOOK_BACKLOG = Gauge(
    "journeys_webhook_backlog_deliveries",
    "Webhook deliveries still PENDING (all tenants; sampled by the delivery workers).",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
WEBHOOK_ATTEMPTS = Counter(
    "journeys_webhook_attempts",
    "Webhook delivery attempts, by outcome: succeeded (a 2xx answer) or failed (another answer, a timeout, "
    "a refused connection).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_FAILED = Counter(
    "journeys_webhook_failed_deliveries",
    "Webhook deliveries given up on (FAILED after 24 hours of attempts, or their event left the store).",
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "journeys_db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)


def exposition(multiproc_dir: Path | None) -> bytes:
    """The text ``/metrics`` serves: this process's registry, or every worker's when they share a directory."""
    if multiproc_dir is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(multiproc_dir))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


# ---------------------------------------------------------------- HTTP and websockets


def observe_request(path: str, status: int, seconds: float) -> None:
    route = path if path in ROUTES else "other"
    HTTP_REQUESTS.labels(route, f"{status // 100}xx").inc()
    HTTP_SECONDS.labels(route).observe(seconds)


async def serve_websocket(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run a websocket connection, counting it in WEBSOCKETS_OPEN from its acceptance to its end."""
    accepted = False

    async def counting_send(message: Message) -> None:
        nonlocal accepted
        if message["type"] == "websocket.accept" and not accepted:
            accepted = True
            WEBSOCKETS_OPEN.inc()
        await send(message)

    try:
        await app(scope, receive, counting_send)
    finally:
        if accepted:
            WEBSOCKETS_OPEN.dec()


# ---------------------------------------------------------------- GraphQL operations


class OperationNames:
    """Operation names as label values: client-chosen, so the first ``limit`` distinct ones are
    kept (truncated to MAX_OPERATION_NAME_LENGTH) and any later one is "other"."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: object) -> str:
        if not name:
            return "anonymous"
        if not isinstance(name, str) or not _GRAPHQL_NAME.fullmatch(name):
            return "invalid"  # not a GraphQL name (a client's operationName matching nothing)
        name = name[:MAX_OPERATION_NAME_LENGTH]
        if name in self._seen:
            return name
        with self._lock:
            if len(self._seen) < self._limit:
                self._seen.add(name)
                return name
        return "other"


OPERATION_NAMES = OperationNames()


def outcome_label(code: object) -> str:
    """An error code as a label value ("error" for anything that does not look like one of ours)."""
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "error"


def observe_operation(name: str, type: str, outcome: str, seconds: float | None) -> None:
    OPERATIONS.labels(name, type, outcome).inc()
    if seconds is not None:
        OPERATION_SECONDS.labels(name, type).observe(seconds)


# ---------------------------------------------------------------- realtime and the database


def observe_delivery(occurred_at: datetime) -> None:
    """An event delivered to a subscriber now."""
    DELIVERY_LAG.observe(max(0.0, (datetime.now(UTC) - occurred_at).total_seconds()))


def instrument_pool(engine: AsyncEngine) -> None:
    """Keep DB_POOL_IN_USE in step with the engine's pool (every checkout is checked in once)."""

    def checked_out(*_args: Any) -> None:
        DB_POOL_IN_USE.inc()

    def checked_in(*_args: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(engine.sync_engine, "checkout", checked_out)
    event.listen(engine.sync_engine, "checkin", checked_in)


# ---------------------------------------------------------------- worker processes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_workers(directory: Path) -> list[int]:
    """``mark_process_dead`` for every process with live gauges in ``directory`` that has exited."""
    dead = set()
    for path in directory.glob("gauge_live*_*.db"):
        suffix = path.stem.rsplit("_", 1)[-1]
        if suffix.isdigit() and int(suffix) != os.getpid() and not _alive(int(suffix)):
            dead.add(int(suffix))
    for pid in sorted(dead):
        multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    return sorted(dead)


@contextlib.contextmanager
def multiprocess_directory(given: Path | None = None, *, interval: float = 1.0) -> Iterator[Path]:
    """The workers' metrics directory: ``given``, or a fresh one deleted at the end. Meanwhile a
    thread drops the live gauges of workers that exited (uvicorn replaces a worker that dies)."""
    directory = given or Path(tempfile.mkdtemp(prefix="journeys-metrics-"))
    stop = threading.Event()

    def reap() -> None:
        while not stop.wait(interval):
            with contextlib.suppress(OSError):
                reap_dead_workers(directory)

    reaper = threading.Thread(target=reap, name="metrics-reaper", daemon=True)
    reaper.start()
    try:
        yield directory
    finally:
        stop.set()
        reaper.join()
        if given is None:
            shutil.rmtree(directory, ignore_errors=True)
