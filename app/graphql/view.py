"""The GraphQL endpoint: HTTP and graphql-transport-ws on one route."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.errors import DomainError
from app.graphql.context import Context, bearer_credential
from app.graphql.ide import graphiql_page
from app.graphql.media import as_graphql_response, wants_graphql_response
from app.graphql.requests import RETRY_AFTER_SECONDS, RequestJsonError, decode_request_json, http_error
from app.modelbase import utcnow
from app.runtime import Runtime
from app.tenancy.service import Viewer, api_key_active

log = logging.getLogger("app.graphql")
# How often a websocket authenticated by an API key checks that the key is not revoked.
CREDENTIAL_CHECK_INTERVAL = 60.0


def _authorization(params: dict[str, Any] | None) -> str | None:
    for key, value in (params or {}).items():
        if key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws as Strawberry speaks it, plus:

    - an unexpected failure while handling a message (say the database is down during
      connection_init) closes the socket with 4500 Internal Server Error instead of tearing
      the connection down unexplained;
    - the credential of `connection_init` is watched for as long as the socket lives: when a
      user JWT expires, or an API key is revoked (checked every ``credential_check_interval``
      seconds), the socket closes with 4403, and a client reconnects with a fresh one
      (graphql-ws retries 4403, calling ``connectionParams`` again).
    """

    credential_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        viewer = self.context.authenticated
        if self.connection_acknowledged and viewer is not None and self.credential_task is None:
            self.credential_task = asyncio.create_task(self._watch_credential(viewer))

    async def _watch_credential(self, viewer: Viewer) -> None:
        if viewer.expires_at is not None:  # a user token: it ends at its `exp`
            await asyncio.sleep(max(0.0, (viewer.expires_at - utcnow()).total_seconds()))
            reason = "Credential expired"
        elif viewer.api_key_id is not None:  # an API key: it ends when revoked
            interval = getattr(self.view, "credential_check_interval", CREDENTIAL_CHECK_INTERVAL)
            while True:
                await asyncio.sleep(interval)
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

    async def shutdown(self) -> None:
        if self.credential_task is not None:
            self.credential_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.credential_task
        await super().shutdown()

    async def send_message(self, message: Message) -> None:
        # Strawberry's own refusals on the socket (the subscription limit, incremental delivery)
        # carry no code: give them one, like every other error (SPEC §13).
        payload = message.get("payload")
        if message.get("type") == "error" and isinstance(payload, list):
            message = cast(Message, {**message, "payload": [_coded(entry) for entry in payload]})
        await super().send_message(message)

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


def _coded(entry: Any) -> Any:
    if not isinstance(entry, dict) or (entry.get("extensions") or {}).get("code"):
        return entry
    code = "QUERY_TOO_COMPLEX" if "limit" in str(entry.get("message", "")).lower() else "BAD_USER_INPUT"
    return {**entry, "extensions": {**(entry.get("extensions") or {}), "code": code, "status": 400}}


class JourneysGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view, with our context and websocket authentication."""

    graphql_transport_ws_handler_class = TransportWSHandler
    credential_check_interval = CREDENTIAL_CHECK_INTERVAL

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

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(request)  # bundled, with no CDN (app/graphql/ide.py)

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

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Subscriptions are served over websockets only: over HTTP they are refused before
        # anything runs (graphql-core would otherwise return an event stream to serialise).
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                raise HTTPException(400, "Subscriptions are served over websockets") from exc
            # GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed.
            raise HTTPException(405, "Mutations must be sent with POST") from exc
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Strawberry answers these in plain text; clients read GraphQL errors, with a code.
            response = http_error(exc.status_code, exc.reason)
        if wants_graphql_response(request.headers.get("accept")):
            response = as_graphql_response(response)
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return decode_request_json(data)
        except RequestJsonError as exc:
            raise HTTPException(400, exc.reason) from exc

    async def parse_http_body(self, request: Any) -> Any:
        try:
            return await super().parse_http_body(request)
        except (AttributeError, TypeError) as exc:  # a JSON body that is not an object
            raise HTTPException(400, "The request body must be a JSON object") from exc

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if _temporarily_unavailable(response_data):
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def encode_json(self, data: object) -> str:
        # Text, not bytes: Strawberry sends the same encoding as websocket text frames.
        return orjson.dumps(data, default=str).decode()


def _temporarily_unavailable(response_data: Any) -> bool:
    """Whether the response failed because a dependency (the database) could not be reached."""
    results = response_data if isinstance(response_data, list) else [response_data]
    return any(
        (error.get("extensions") or {}).get("code") == "TEMPORARILY_UNAVAILABLE"
        for result in results
        for error in result.get("errors") or ()
    )
