"""Naming the GraphQL operation in the logs of the request that runs it (app/logs.py)."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.logs import CURRENT_REQUEST, RequestLog


class LogOperation(SchemaExtension):
    """From execution on, log records carry the operation's name ("anonymous" for an unnamed
    one). Each operation over a websocket runs in its own task, so they never mix."""

    def on_execute(self) -> Iterator[None]:
        current = CURRENT_REQUEST.get()
        request_id = current.request_id if current else getattr(self.execution_context.context, "request_id", "-")
        CURRENT_REQUEST.set(RequestLog(request_id, self.execution_context.operation_name or "anonymous"))
        yield
