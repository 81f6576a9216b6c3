"""A small graphql-transport-ws client for the realtime tests (over httpx-ws, against a live server)."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

PROTOCOL = "graphql-transport-ws"
EVENT_FIELDS = "id type occurredAt tenantId userId data"
USER_EVENTS = f"""
subscription UserEvents($after: String, $types: [String!]) {{
  userEvents(after: $after, types: $types) {{ {EVENT_FIELDS} }}
}}
"""
ADMIN_EVENTS = f"""
subscription AdminEvents($after: String, $types: [String!], $userId: ID) {{
  adminEvents(after: $after, types: $types, userId: $userId) {{ {EVENT_FIELDS} }}
}}
"""


class GraphQLSocket:
    """One acknowledged connection; messages are sorted per operation id as they arrive."""

    def __init__(self, ws: AsyncWebSocketSession) -> None:
        self.ws = ws
        self._pending: dict[str, deque[dict[str, Any]]] = defaultdict(deque)

    async def subscribe(self, operation_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send_json({"id": operation_id, "type": "subscribe", "payload": payload})

    async def complete(self, operation_id: str) -> None:
        await self.ws.send_json({"id": operation_id, "type": "complete"})

    async def _receive_one(self, within: float) -> None:
        message: dict[str, Any] = await self.ws.receive_json(timeout=within)
        if message["type"] == "ping":
            await self.ws.send_json({"type": "pong"})
            return
        self._pending[message.get("id", "")].append(message)

    async def message(self, operation_id: str, within: float = 10) -> dict[str, Any]:
        """The next message of one operation (`next`, `error` or `complete`)."""
        deadline = asyncio.get_running_loop().time() + within
        while not self._pending[operation_id]:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no message for operation {operation_id} within {within} s")
            await self._receive_one(remaining)
        return self._pending[operation_id].popleft()

    async def events(self, operation_id: str, count: int, within: float = 10) -> list[dict[str, Any]]:
        """The next ``count`` delivered events of a subscription (failing on anything else)."""
        events = []
        for _ in range(count):
            message = await self.message(operation_id, within)
            assert message["type"] == "next" and "errors" not in message["payload"], message
            (event,) = message["payload"]["data"].values()
            events.append(event)
        return events

    async def quiet(self, operation_id: str, seconds: float = 0.5) -> list[dict[str, Any]]:
        """Whatever arrives for an operation within ``seconds`` (expected: nothing)."""
        try:
            return [await self.message(operation_id, seconds)]
        except TimeoutError:
            return []


@asynccontextmanager
async def graphql_socket(http: httpx.AsyncClient, token: str, url: str = "/graphql") -> AsyncIterator[GraphQLSocket]:
    """A graphql-transport-ws connection initialised with ``Authorization: Bearer <token>``."""
    async with aconnect_ws(url, http, subprotocols=[PROTOCOL]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        ack = await ws.receive_json(timeout=10)
        assert ack["type"] == "connection_ack", ack
        yield GraphQLSocket(ws)


async def closed(ws: AsyncWebSocketSession, within: float = 10) -> tuple[int, str]:
    """Wait for the server to close the socket (answering its pings meanwhile): code and reason."""
    try:
        while True:
            message = await ws.receive_json(timeout=within)
            if isinstance(message, dict) and message.get("type") == "ping":
                await ws.send_json({"type": "pong"})
    except WebSocketDisconnect as ended:
        return ended.code, ended.reason or ""


async def close_code(ws: AsyncWebSocketSession, within: float = 10) -> int:
    """Wait for the server to close the socket; its close code."""
    return (await closed(ws, within))[0]
