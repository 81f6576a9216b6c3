"""The GraphQL endpoint: HTTP and both websocket protocols (app/graphql/sockets.py) on one route."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.errors import DomainError
from app.graphql.context import Context, bearer_credential
from app.graphql.ide import graphiql_page
from app.graphql.idempotency import IdempotentRequests
from app.graphql.media import as_graphql_response, wants_graphql_response
from app.graphql.persisted import PersistedQueries
from app.graphql.requests import RETRY_AFTER_SECONDS, RequestJsonError, decode_request_json, http_error
from app.graphql.sockets import CREDENTIAL_CHECK_INTERVAL, LegacyWSHandler, TransportWSHandler, authorization
from app.runtime import Runtime

log = logging.getLogger("app.graphql")


class JourneysGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view, with our context and websocket authentication."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    credential_check_interval = CREDENTIAL_CHECK_INTERVAL

    def __init__(self, schema: Any, runtime: Runtime) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if runtime.settings.graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=3),
            keep_alive=True,
            keep_alive_interval=15,
        )
        self.runtime = runtime
        settings = runtime.settings
        self.persisted = PersistedQueries.from_file(settings.persisted_queries, only=settings.persisted_only)
        self.idempotency = IdempotentRequests(runtime, self.persisted)

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
            context.credential = bearer_credential(authorization(params))
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
            query = self.persisted.resolve(request_data.query, request_data.extensions)
        except GraphQLError as error:  # an unknown persisted query, or persisted-only mode
            return ExecutionResult(data=None, errors=[error])
        try:
            return await self.schema.execute(
                query,
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
        # A mutation with an Idempotency-Key runs once; its repeats get its response (app/graphql/idempotency.py).
        response = await self.idempotency.answer(request, self._respond)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Strawberry answers these in plain text; clients read GraphQL errors, with a code.
            response = http_error(exc.status_code, exc.reason)
        if wants_graphql_response(request.headers.get("accept")):
            response = as_graphql_response(response)
        return response

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return decode_request_json(data)
        except RequestJsonError as exc:
            raise HTTPException(400, exc.reason) from exc

    async def parse_http_body(self, request: Any) -> Any:
        try:
            data = await super().parse_http_body(request)
        except (AttributeError, TypeError) as exc:  # a JSON body that is not an object
            raise HTTPException(400, "The request body must be a JSON object") from exc
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null")
        return data

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
