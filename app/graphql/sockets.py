"""The websocket protocols: graphql-transport-ws and the legacy graphql-ws
(subscriptions-transport-ws), as Strawberry speaks them, with the same rules for both:

- the credential comes in ``connection_init`` (``{"Authorization": "Bearer …"}``, key case
  insensitive); a missing or bad one closes the socket with 4403 (the legacy protocol first
  sends its ``connection_error`` message); no ``connection_init`` within 3 s closes it with 4408;
- the credential is watched for as long as the socket lives: a user JWT's ``exp`` closes the
  socket with 4403 "Credential expired" at that moment; an API key is re-checked every
  ``credential_check_interval`` seconds and its revocation closes it with 4403 (graphql-ws
  retries 4403, calling ``connectionParams`` again, so clients resume with a fresh one);
- an unexpected failure while handling a message (say the database is down during
  ``connection_init``) closes the socket with 4500 instead of tearing it down unexplained;
- every error entry sent carries a code (Strawberry's own refusals, such as the subscription
  limit, have none: they get one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, cast

from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage as LegacyInitMessage
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage

from app.graphql.context import Context
from app.modelbase import utcnow
from app.tenancy.service import Viewer, api_key_active

log = logging.getLogger("app.graphql")
# How often a websocket authenticated by an API key checks that the key is not revoked.
CREDENTIAL_CHECK_INTERVAL = 60.0
CONNECTION_INIT_TIMEOUT = 3.0


def authorization(params: dict[str, Any] | None) -> str | None:
    """The ``Authorization`` entry of a connection_init payload, whatever its case."""
    for key, value in (params or {}).items():
        if key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


def coded(entry: Any) -> Any:
    """An error entry with an ``extensions.code`` (QUERY_TOO_COMPLEX for a limit)."""
    if not isinstance(entry, dict) or (entry.get("extensions") or {}).get("code"):
        return entry
    code = "QUERY_TOO_COMPLEX" if "limit" in str(entry.get("message", "")).lower() else "BAD_USER_INPUT"
    return {**entry, "extensions": {**(entry.get("extensions") or {}), "code": code, "status": 400}}


class CredentialWatch:
    """Closes a socket with 4403 when the credential it was opened with stops being valid."""

    def __init__(self, context: Context, websocket: Any, interval: float) -> None:
        self.context = context
        self.websocket = websocket
        self.interval = interval
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        viewer = self.context.authenticated
        if viewer is not None and self.task is None:
            self.task = asyncio.create_task(self._watch(viewer))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _watch(self, viewer: Viewer) -> None:
        if viewer.expires_at is not None:  # a user token: it ends at its `exp`
            await asyncio.sleep(max(0.0, (viewer.expires_at - utcnow()).total_seconds()))
            reason = "Credential expired"
        elif viewer.api_key_id is not None:  # an API key: it ends when revoked
            while True:
                await asyncio.sleep(self.interval)
                if not await self._api_key_active(viewer.api_key_id):
                    break
            reason = "Credential revoked"
        else:
            return
        log.info("closing a websocket: %s (request %s)", reason.lower(), self.context.request_id)
        with contextlib.suppress(RuntimeError, OSError):  # the client may have left meanwhile
            await self.websocket.close(code=4403, reason=reason)

    async def _api_key_active(self, key_id: uuid.UUID) -> bool:
        try:
            async with self.context.runtime.sessions() as session:
                return await api_key_active(session, key_id=key_id)
        except Exception:  # the database may be briefly away: keep the socket, check again later
            log.warning("could not check a websocket's API key (request %s)", self.context.request_id, exc_info=True)
            return True


def _interval(view: Any) -> float:
    return float(getattr(view, "credential_check_interval", CREDENTIAL_CHECK_INTERVAL))


async def _close_unexpectedly(websocket: Any, context: Context, kind: Any) -> None:
    log.exception("unexpected error handling a %r websocket message (request %s)", kind, context.request_id)
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code=4500, reason="Internal server error")


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with the rules of the module docstring."""

    watch: CredentialWatch | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.watch is None:
            self.watch = CredentialWatch(self.context, self.websocket, _interval(self.view))
            self.watch.start()

    async def shutdown(self) -> None:
        if self.watch is not None:
            await self.watch.stop()
        await super().shutdown()

    async def send_message(self, message: Message) -> None:
        payload = message.get("payload")
        if message.get("type") == "error" and isinstance(payload, list):
            message = cast(Message, {**message, "payload": [coded(entry) for entry in payload]})
        await super().send_message(message)

    async def handle_message(self, message: Message) -> None:
        try:
            await super().handle_message(message)
        except Exception:
            await _close_unexpectedly(self.websocket, self.context, message.get("type"))


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol (subscriptions-transport-ws) with the same rules."""

    watch: CredentialWatch | None = None
    init_timeout: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        self.init_timeout = asyncio.create_task(self._close_without_init())
        try:
            await super().handle()
        finally:
            self.init_timeout.cancel()
            if self.watch is not None:
                await self.watch.stop()

    async def _close_without_init(self) -> None:
        await asyncio.sleep(CONNECTION_INIT_TIMEOUT)
        if not self.connection_acknowledged:
            with contextlib.suppress(RuntimeError, OSError):
                await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_connection_init(self, message: LegacyInitMessage) -> None:
        payload: Any = message.get("payload")
        if payload is not None and not isinstance(payload, dict):  # the type says dict; clients send anything
            await self.send_message({"type": "connection_error", "payload": {"message": "Invalid payload"}})
            await self.websocket.close(code=4400, reason="Invalid connection_init payload")
            return
        self.context.connection_params = payload
        try:
            await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as exc:
            await self.send_message({"type": "connection_error", "payload": exc.payload})
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())
        self.watch = CredentialWatch(self.context, self.websocket, _interval(self.view))
        self.watch.start()

    async def send_message(self, message: OperationMessage) -> None:
        payload = message.get("payload")
        if message.get("type") == "error" and isinstance(payload, dict):
            message = cast(OperationMessage, {**message, "payload": coded(payload)})
        elif message.get("type") == "data" and isinstance(payload, dict) and payload.get("errors"):
            errors = [coded(entry) for entry in payload["errors"]]
            message = cast(OperationMessage, {**message, "payload": {**payload, "errors": errors}})
        await super().send_message(message)

    async def handle_message(self, message: OperationMessage) -> None:
        try:
            await super().handle_message(message)
        except Exception:
            await _close_unexpectedly(self.websocket, self.context, message.get("type"))
