"""The delivery worker: runs in every server process and sends each endpoint's due deliveries.

A pass asks the database which enabled endpoints have events to queue or a delivery due, and
starts a drain for each one this process is not already draining (at most ``concurrency`` at a
time). A drain takes the endpoint's lock, queues its new events, and sends its due deliveries one
after the other, each in a transaction that holds the lock from the read to the written outcome
(see queue.py). Sends share one pooled HTTP client, with a 10 s limit per attempt, no redirects,
and the connect-time address check in production (urls.py). The worker has its own small
database pool: a send keeps a connection for up to the timeout, and requests must not wait for it.

``clock`` decides what is due and when to retry (tests drive it); signatures carry the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import SessionFactory, create_engine, create_session_factory, transaction
from app.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_BACKLOG, WEBHOOK_FAILED
from app.modelbase import utcnow
from app.realtime.resilient import Failures
from app.webhooks import queue, signing
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.secrets import SecretBox
from app.webhooks.sender import Response, post
from app.webhooks.urls import UrlPolicy, create_client

log = logging.getLogger("app.webhooks")

TIMEOUT = 10.0
RETENTION = timedelta(days=7)
PRUNE_INTERVAL = 3600.0
BACKLOG_SAMPLE_SECONDS = 5.0
CONCURRENCY = 8
STOP_GRACE = 5.0


class WebhookWorker:
    """Sends the deliveries of every endpoint (see the module docstring)."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        box: SecretBox,
        policy: UrlPolicy,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = 0.5,
        timeout: float = TIMEOUT,
        concurrency: int = CONCURRENCY,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.sessions = sessions
        self.box = box
        self.policy = policy
        self.clock = clock
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.prune_interval = PRUNE_INTERVAL
        self._engine = engine
        self._slots = asyncio.Semaphore(concurrency)
        self._draining: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._stopping = False

    @classmethod
    def from_settings(cls, settings: Settings, database_url: str) -> WebhookWorker | None:
        """The worker for the configured service; None in production without JOURNEYS_SECRET_KEY."""
        material = settings.webhook_key_material
        if material is None:
            log.warning("webhooks are off: JOURNEYS_SECRET_KEY is not set")
            return None
        engine = create_engine(database_url, pool_size=CONCURRENCY + 2, max_overflow=2)
        return cls(
            sessions=create_session_factory(engine),
            box=SecretBox(material),
            policy=UrlPolicy.from_settings(settings),
            poll_interval=settings.webhook_poll_interval,
            engine=engine,
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = create_client(self.policy, timeout=self.timeout)
        return self._client

    def start(self) -> None:
        """Deliver in the background until :meth:`stop`."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="webhook worker")

    async def stop(self) -> None:
        """Stop: sends in flight get a few seconds to finish; an unfinished one stays PENDING and is sent again."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        drains = list(self._draining.values())
        if drains:
            _done, late = await asyncio.wait(drains, timeout=STOP_GRACE)
            for drain in late:
                drain.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._engine is not None:
            await self._engine.dispose()

    async def use_policy(self, policy: UrlPolicy) -> None:
        """Apply another URL policy from the next send on (its client is made afresh)."""
        client, self._client = self._client, None
        self.policy = policy
        if client is not None:
            await client.aclose()

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        failures = Failures("webhook delivery")
        backlog_due = prune_due = 0.0
        while True:
            try:
                await self.run_once()
                if time.monotonic() >= backlog_due:
                    backlog_due = time.monotonic() + BACKLOG_SAMPLE_SECONDS
                    await self.measure_backlog()
                if time.monotonic() >= prune_due:
                    prune_due = time.monotonic() + self.prune_interval
                    await self.prune()
            except Exception:  # the database is away: the worker outlives it
                failures.failed()
            else:
                failures.succeeded()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    # ------------------------------------------------------------------ passes

    async def run_once(self) -> int:
        """Start a drain for every endpoint with work that this process is not draining; how many started."""
        async with transaction(self.sessions) as session:
            endpoints = await queue.endpoints_with_work(session, now=self.clock())
        started = 0
        for endpoint_id in endpoints:
            if endpoint_id not in self._draining and not self._stopping:
                task = asyncio.create_task(self._drain(endpoint_id), name=f"webhooks {endpoint_id}")
                self._draining[endpoint_id] = task
                task.add_done_callback(self._drained(endpoint_id))
                started += 1
        return started

    def _drained(self, endpoint_id: uuid.UUID) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            if self._draining.get(endpoint_id) is task:
                del self._draining[endpoint_id]

        return done

    async def settle(self) -> None:
        """Wait until this process's drains have finished (tests use it between clock moves)."""
        while self._draining:
            await asyncio.gather(*self._draining.values(), return_exceptions=True)

    async def measure_backlog(self) -> int:
        async with transaction(self.sessions) as session:
            pending = await queue.backlog(session)
        WEBHOOK_BACKLOG.set(pending)
        return pending

    async def prune(self) -> int:
        """Delete deliveries older than 7 days, in batches; how many went."""
        before = self.clock() - RETENTION
        total = 0
        while True:
            async with transaction(self.sessions) as session:
                deleted = await queue.prune(session, before=before)
            total += deleted
            if deleted < queue.PRUNE_BATCH:
                if total:
                    log.info("pruned %d webhook deliveries older than %s", total, before.isoformat())
                return total

    # ------------------------------------------------------------------ one endpoint

    async def _drain(self, endpoint_id: uuid.UUID) -> None:
        async with self._slots:
            try:
                while not self._stopping:
                    async with transaction(self.sessions) as session:
                        if not await queue.lock(session, endpoint_id):
                            return  # another process has it
                        queued = await queue.queue_events(session, endpoint_id=endpoint_id, now=self.clock())
                    if not await self.send_next(endpoint_id) and queued < queue.QUEUE_BATCH:
                        return
            except Exception:
                log.warning("delivering webhooks of endpoint %s failed; retrying later", endpoint_id, exc_info=True)

    async def send_next(self, endpoint_id: uuid.UUID) -> bool:
        """Send the endpoint's next due delivery and record its outcome; False when none is due (or it is busy)."""
        async with transaction(self.sessions) as session:
            if not await queue.lock(session, endpoint_id):
                return False
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            now = self.clock()
            if endpoint is None or not endpoint.enabled:
                return False
            delivery = await queue.next_due(session, endpoint_id=endpoint_id, now=now)
            if delivery is None:
                return False
            body = await queue.body_of(session, delivery)
            if body is None:
                queue.give_up(delivery, now=now, error="the event is no longer stored (events are kept 7 days)")
                WEBHOOK_FAILED.inc()
                return True
            response = await self._attempt(endpoint, delivery, body, now)
            queue.record_attempt(
                delivery, now=self.clock(), status=response.status, body=response.body, error=response.error
            )
            self._observe(endpoint, delivery)
        return True

    def _secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[bytes]:
        found = [self.box.open(endpoint.secret, endpoint_id=endpoint.id)]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret is not None and expires is not None and now < expires:
            found.append(self.box.open(endpoint.previous_secret, endpoint_id=endpoint.id))
        return found

    async def _attempt(
        self, endpoint: WebhookEndpoint, delivery: WebhookDelivery, body: bytes, now: datetime
    ) -> Response:
        try:
            secrets = self._secrets(endpoint, now)
        except ValueError as exc:
            log.error("cannot sign webhooks of endpoint %s: %s", endpoint.id, exc)
            return Response(None, None, "the endpoint's secret cannot be read (JOURNEYS_SECRET_KEY changed?)")
        headers = signing.headers(message_id=delivery.message_id, body=body, secrets=secrets)
        return await post(self.client, endpoint.url, body=body, headers=headers, within=self.timeout)

    def _observe(self, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> None:
        if delivery.status is DeliveryStatus.SUCCEEDED:
            WEBHOOK_ATTEMPTS.labels("succeeded").inc()
            return
        WEBHOOK_ATTEMPTS.labels("failed").inc()
        if delivery.status is DeliveryStatus.FAILED:
            WEBHOOK_FAILED.inc()
            log.warning(
                "webhook delivery of event %s to endpoint %s FAILED after %d attempts: %s",
                delivery.message_id,
                endpoint.id,
                delivery.attempts,
                delivery.last_error,
            )
        else:
            log.info(
                "webhook delivery of event %s to endpoint %s failed (attempt %d, next at %s): %s",
                delivery.message_id,
                endpoint.id,
                delivery.attempts,
                delivery.next_attempt_at.isoformat() if delivery.next_attempt_at else "-",
                delivery.last_error,
            )
