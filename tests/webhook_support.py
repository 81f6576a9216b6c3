"""Webhook test helpers: a local receiver that verifies every delivery with the `standardwebhooks`
package, a clock the tests drive, GraphQL documents and event factories."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.graphql.relay import local_id
from app.modelbase import utcnow
from app.realtime.outbox import EventType, record_event
from tests.catalog_support import mutate
from tests.conftest import GraphQLClient

USER_ERRORS = "errors { code message field }"
ENDPOINT_FIELDS = "id url types description enabled createdAt"
DELIVERY_FIELDS = (
    "id eventId eventType attempts status lastResponseStatus lastResponseBody lastError nextAttemptAt createdAt "
    "deliveredAt"
)
CREATE_ENDPOINT = f"""
mutation Create($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{ endpoint {{ {ENDPOINT_FIELDS} }} secret {USER_ERRORS} }}
}}
"""
UPDATE_ENDPOINT = f"""
mutation Update($id: ID!, $input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(id: $id, input: $input) {{ endpoint {{ {ENDPOINT_FIELDS} }} {USER_ERRORS} }}
}}
"""
DELETE_ENDPOINT = f"mutation Delete($id: ID!) {{ deleteWebhookEndpoint(id: $id) {{ deletedId {USER_ERRORS} }} }}"
ROTATE_SECRET = (
    f"mutation Rotate($id: ID!) {{ rotateWebhookSecret(id: $id) {{ endpoint {{ id }} secret {USER_ERRORS} }} }}"
)
REDELIVER = f"""
mutation Redeliver($endpointId: ID!, $eventId: String!) {{
  redeliverWebhookEvent(endpointId: $endpointId, eventId: $eventId) {{ delivery {{ {DELIVERY_FIELDS} }} {USER_ERRORS} }}
}}
"""
SEND_TEST = f"""
mutation Test($endpointId: ID!) {{
  sendTestWebhook(endpointId: $endpointId) {{ delivery {{ {DELIVERY_FIELDS} }} {USER_ERRORS} }}
}}
"""
ENDPOINTS = f"""
query Endpoints($first: Int, $after: String) {{
  webhookEndpoints(first: $first, after: $after) {{ edges {{ cursor node {{ {ENDPOINT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }}
}}
"""
ENDPOINT = f"""
query Endpoint($id: ID!, $status: WebhookDeliveryStatus, $first: Int) {{
  webhookEndpoint(id: $id) {{ {ENDPOINT_FIELDS} deliveries(first: $first, status: $status) {{ nodes {{ {DELIVERY_FIELDS} }} }} }}
}}
"""


class Clock:
    """The wall clock moved forward by however much the test advanced it: the worker reads it to
    decide what is due, so tests move it instead of sleeping through backoffs."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def advance_to(self, at: datetime) -> None:
        """Move forward to ``at`` (never back)."""
        self.offset += max(timedelta(), at - self())


@dataclass
class Received:
    """One request the receiver got, and what verifying it found."""

    headers: dict[str, str]
    body: bytes
    status: int
    verified_by: list[str]  # the secrets (of those the receiver knows) whose signature verified

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A local HTTP server standing in for a tenant's webhook endpoint.

    ``answer`` decides each response's status (and an optional delay in seconds) from the number
    of requests so far; every request is verified with `standardwebhooks` against ``secrets``.
    """

    port: int
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    answer: Callable[[int], tuple[int, float]] = lambda _n: (200, 0.0)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        verified = []
        for secret in self.secrets:
            try:
                payload = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            assert payload == json.loads(body)
            verified.append(secret)
        status, delay = self.answer(len(self.received))
        # Recorded on arrival: a sender that dies (or gives up) before the answer still sent it.
        async with self.arrived:
            self.received.append(Received(headers, body, status, verified))
            self.arrived.notify_all()
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, text=f"answer {status} " + "x" * 2000)

    async def wait_for(self, count: int, *, within: float = 20.0) -> list[Received]:
        """The first ``count`` requests, once they arrived (a test failure if they do not in time)."""
        async with self.arrived:
            try:
                await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.received) >= count), within)
            except TimeoutError:
                raise AssertionError(f"{len(self.received)} of {count} webhook requests arrived") from None
        return self.received[:count]

    async def wait_until(self, done: Callable[[list[Received]], bool], *, within: float = 20.0) -> None:
        """Until ``done`` holds for the requests received so far (a test failure if not in time)."""
        async with self.arrived:
            try:
                await asyncio.wait_for(self.arrived.wait_for(lambda: done(self.received)), within)
            except TimeoutError:
                raise AssertionError(f"not done after {len(self.received)} webhook requests") from None

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]


@asynccontextmanager
async def receiver(**options: Any) -> AsyncIterator[Receiver]:
    """A running receiver on a loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    hook = Receiver(port=sock.getsockname()[1], **options)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield hook
    finally:
        await runner.cleanup()


async def create_endpoint(admin: GraphQLClient, hook: Receiver, **fields: Any) -> tuple[str, str]:
    """A new endpoint for ``hook`` through the API; its id and secret (which ``hook`` then verifies with)."""
    payload = await mutate(admin, CREATE_ENDPOINT, {"input": {"url": hook.url, **fields}})
    assert payload["errors"] == [], payload
    hook.secrets.append(payload["secret"])
    return payload["endpoint"]["id"], payload["secret"]


async def record_events(
    db: Any, tenant_id: uuid.UUID, count: int, *, type: EventType = EventType.JOURNEY_UPDATED
) -> list[str]:
    """``count`` tenant-wide events recorded through the event store, one transaction; their ids."""
    async with db() as session:
        for n in range(count):
            record_event(session, tenant_id=tenant_id, user_id=None, type=type, data={"n": n})
    async with db() as session:
        rows = await session.execute(
            text("SELECT id FROM outbox_events WHERE tenant_id = :t AND type = :type ORDER BY id"),
            {"t": tenant_id, "type": type.value},
        )
        return [str(i) for i in rows.scalars()][-count:]


async def deliveries(db: Any, tenant_id: uuid.UUID, endpoint_id: str | None = None) -> list[dict[str, Any]]:
    """Every delivery of the tenant (or of one of its endpoints, by global id), in queue order; the
    status as its name."""
    query = "SELECT * FROM webhook_deliveries WHERE tenant_id = :t"
    params: dict[str, Any] = {"t": tenant_id}
    if endpoint_id is not None:
        query += " AND endpoint_id = :e"
        params["e"] = local_id(endpoint_id, "WebhookEndpoint")
    async with db() as session:
        rows = [dict(r._mapping) for r in await session.execute(text(query + " ORDER BY seq"), params)]
    for row in rows:
        row["status"] = getattr(row["status"], "value", row["status"])
    return rows


async def eventually(check: Callable[[], Any], *, within: float = 20.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
