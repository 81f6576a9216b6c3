"""Each GraphQL operation counted, timed (app/metrics.py) and, with tracing on, traced (app/tracing.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from app.metrics import OPERATION_NAMES, observe_operation, outcome_label
from app.tracing import OperationSpan, start_operation


def _first_code(errors: Any) -> str | None:
    """The outcome of a result with these errors: the first one's code (None without errors)."""
    if not errors:
        return None
    extensions = getattr(errors[0], "extensions", None) or {}
    return outcome_label(extensions.get("code"))


class ObserveOperation(SchemaExtension):
    """Counts every operation by name, type and outcome ("ok", or the code of its first error as
    the client sees it), times queries and mutations, and wraps each in a span when tracing is on.

    It must be the schema's first extension, so that it sees everything the others do and the
    errors as ErrorShaping leaves them. A subscription is counted when it ends (its outcome is its
    first error's code, if any result had one); over a websocket each operation has its own."""

    _outcome: str | None = None
    _streamed = False

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        request = getattr(self.execution_context.context, "request", None)
        span = start_operation(getattr(request, "headers", None))
        try:
            yield
        except GraphQLError as error:  # raised by a hook, shaped by ErrorShaping on its way out
            self._outcome = self._outcome or outcome_label((error.extensions or {}).get("code"))
            raise
        except Exception:  # the view answers these itself (400, 405: no query, wrong method)
            self._outcome = self._outcome or "BAD_REQUEST"
            raise
        finally:
            self._finish(started, span)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Over websockets results go out before the operation ends (shaped, once the hooks inside are done).
        yield
        self._outcome = self._outcome or _first_code(getattr(result, "errors", None))
        self._streamed = True

    def _finish(self, started: float, span: OperationSpan | None) -> None:
        context = self.execution_context
        outcome = self._outcome
        if outcome is None and not self._streamed:
            outcome = _first_code(getattr(context.result, "errors", None))
        outcome = outcome or "ok"
        try:
            type = context.operation_type.value
        except Exception:  # no document (it did not parse), or no operation of that name in it
            type = "unknown"
        name = OPERATION_NAMES.label(context.operation_name)
        seconds = None if type == "subscription" else time.perf_counter() - started
        observe_operation(name, type, outcome, seconds)
        if span is not None:
            span.finish(type, name, outcome)
