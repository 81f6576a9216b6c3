"""The GraphQL endpoint: HTTP and graphql-transport-ws on one route."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from app.errors import DomainError
from app.graphql.context import Context, bearer_credential
from app.runtime import Runtime

log = logging.getLogger("app.graphql")


def _authorization(params: dict[str, Any] | None) -> str | None:
    for key, value in (params or {}).items():
        if key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws as Strawberry speaks it, except that an unexpected failure while
    handling a message (say the database is down during connection_init) closes the socket
    with 4500 Internal Server Error instead of tearing the connection down unexplained."""

    async def handle_message(self, message: Message) -> None:
        try:
            await super().handle_message(message)
        except Exception:
            log.exception(
                "unexpected error handling a %r websocket message (request %s)",
                message.get("type") if isinstance(message, dict) else None,
                self.context.request_id,
            )
            await self.websocket.close(code=4500, reason="Internal server error")


class JourneysGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view, with our context and websocket authentication."""

    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, schema: Any, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=3),
            keep_alive=True,
            keep_alive_interval=15,
        )
        self.runtime = runtime

    def _context(self, request: Request | WebSocket, response: Response | None, header: str | None) -> Context:
        context = Context(
            runtime=self.runtime,
            request=request,
            response=response,
            request_id=request.scope.get("state", {}).get("request_id", "-"),
        )
        try:
            context.credential = bearer_credential(header)
        except DomainError as exc:
            context.credential_error = exc
        return context

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        if isinstance(request, WebSocket):
            return self._context(request, None, None)
        assert isinstance(response, Response)
        return self._context(request, response, request.headers.get("authorization"))

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params or {}
        try:
            context.credential = bearer_credential(_authorization(params))
            if context.credential is None:
                raise ConnectionRejectionError()
            await context.viewer()
        except DomainError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        finally:
            await context.db.close()
        return None

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed.
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, "Mutations must be sent with POST") from exc
            raise

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"), default=str)
