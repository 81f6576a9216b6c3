"""The legacy `graphql-ws` websocket protocol (subscriptions-transport-ws, SPEC §18): the same
credentials and rules as graphql-transport-ws, with the npm client older Apollo setups use."""

from __future__ import annotations

import asyncio
import shutil

from httpx_ws import aconnect_ws

from tests.conftest import Actors, LiveServer
from tests.subscription_support import closed
from tests.test_realtime import node_subscriber_receives_journey_started

LEGACY = "graphql-ws"
CONFORMANCE = "tests/conformance"


async def _legacy_subscriber(server: LiveServer, token: str) -> asyncio.subprocess.Process:
    node = shutil.which("node")
    assert node, "Node.js is required: install node and npm, then run `npm ci --prefix tests/conformance`"
    return await asyncio.create_subprocess_exec(
        node,
        "subscribe-legacy.mjs",
        server.ws_url,
        token,
        cwd=CONFORMANCE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_the_subscriptions_transport_ws_client_receives_journey_started(
    actors: Actors, server: LiveServer
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required: install node and npm, then run `npm ci --prefix tests/conformance`"
    event, channel = await node_subscriber_receives_journey_started(actors, server, node, "subscribe-legacy.mjs")
    assert event["type"] == "journey.started"
    assert f"user:{event['tenantId']}:{event['userId']}" == channel


async def test_the_client_is_refused_with_a_bad_credential(actors: Actors, server: LiveServer) -> None:
    process = await _legacy_subscriber(server, "not-a-token")
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 4, (out, err)
    assert "connectionError" in out.decode()


async def test_legacy_close_codes(actors: Actors) -> None:
    tenant = await actors.tenant()
    # a bad credential: connection_error, then 4403
    async with aconnect_ws("/graphql", actors.http, subprotocols=[LEGACY]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_error"
        assert (await closed(ws))[0] == 4403
    # no connection_init within 3 s: 4408
    async with aconnect_ws("/graphql", actors.http, subprotocols=[LEGACY]) as ws:
        assert (await closed(ws, within=10))[0] == 4408
    # an acknowledged socket: a document over a limit answers an error with a code
    async with aconnect_ws("/graphql", actors.http, subprotocols=[LEGACY]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {actors.token(tenant)}"}})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        deep = "subscription { userEvents { " + "data " * 1 + "} }"
        await ws.send_json({"id": "1", "type": "start", "payload": {"query": deep + " fragment F on Nope { x }"}})
        message = await ws.receive_json(timeout=10)
        while message["type"] == "ka":
            message = await ws.receive_json(timeout=10)
        assert message["type"] == "error", message
        assert message["payload"]["extensions"]["code"] == "BAD_USER_INPUT", message


async def test_a_legacy_socket_closes_when_its_token_expires(actors: Actors) -> None:
    tenant = await actors.tenant()
    token = actors.token(tenant, ttl_seconds=2)
    async with aconnect_ws("/graphql", actors.http, subprotocols=[LEGACY]) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        code, reason = await closed(ws, within=10)
    assert (code, reason) == (4403, "Credential expired")
