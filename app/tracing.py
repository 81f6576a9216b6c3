"""OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT is set.

- One span per GraphQL operation, ``graphql.{type} {name}`` (``graphql.query MyQuery``), started
  and ended by the operation extension (app/graphql/metrics.py), with the operation's name, type
  and, when it failed, its error code; its parent is the caller's ``traceparent`` header, if any.
- One child span per SQL statement run while an operation's span is current, made here from
  SQLAlchemy's cursor events on the engine (rather than opentelemetry-instrumentation-sqlalchemy:
  one dependency fewer, no global patching, exactly our attributes; the SQL text is the
  parametrised statement, never its values). SQLAlchemy runs a statement in a greenlet that
  carries the calling task's context, so the current span is the operation's. Statements of
  background work (realtime delivery, the Ably mirror) belong to no operation and are not traced.

Spans go in batches over OTLP/HTTP (protobuf) to ``{endpoint}/v1/traces``; the exporter reads
the other OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself. The opentelemetry packages
are imported only when tracing is on. Tracing is per process: each app's lifespan (each
worker's) starts it and, at its end, flushes and stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Span, Tracer

MAX_STATEMENT_LENGTH = 4096
_SPAN = "_journeys_span"

_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_users = 0  # apps of this process whose lifespan started tracing


def enabled(settings: Settings) -> bool:
    return settings.otel_exporter_otlp_endpoint is not None


def traces_url(endpoint: str) -> str:
    """Where OTLP/HTTP wants spans, given the base endpoint (as OTEL_EXPORTER_OTLP_ENDPOINT is)."""
    return endpoint.rstrip("/") + "/v1/traces"


def start_tracing(settings: Settings) -> bool:
    """Start exporting spans if the settings ask for it; whether tracing is on."""
    global _provider, _tracer, _users
    if not enabled(settings):
        return False
    _users += 1
    if _provider is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        assert settings.otel_exporter_otlp_endpoint is not None
        provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
        exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_exporter_otlp_endpoint))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        _provider, _tracer = provider, provider.get_tracer("journeys")
    return True


async def stop_tracing() -> None:
    """Undo one :func:`start_tracing`; the last one flushes the spans (off the event loop) and stops."""
    global _provider, _tracer, _users
    _users = max(0, _users - 1)
    if _users or _provider is None:
        return
    provider, _provider, _tracer = _provider, None, None
    await asyncio.to_thread(provider.shutdown)


def add_span_processor(processor: SpanProcessor) -> None:
    """Also hand every span to ``processor`` (tests: an in-memory exporter); tracing must be on."""
    if _provider is None:
        raise RuntimeError("tracing is not on (OTEL_EXPORTER_OTLP_ENDPOINT is not set)")
    _provider.add_span_processor(processor)


# ---------------------------------------------------------------- GraphQL operations


class OperationSpan:
    """An operation's span, current from :func:`start_operation` until :meth:`finish`."""

    def __init__(self, span: Span, token: object) -> None:
        self.span = span
        self._token = token

    def finish(self, type: str, name: str, outcome: str) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        span.update_name(f"graphql.{type} {name}" if name != "anonymous" else f"graphql.{type}")
        span.set_attribute("graphql.operation.type", type)
        span.set_attribute("graphql.operation.name", name)
        if outcome != "ok":
            span.set_attribute("error.type", outcome)
            span.set_status(Status(StatusCode.ERROR, outcome))
        context.detach(self._token)  # type: ignore[arg-type]
        span.end()


def start_operation(headers: Mapping[str, str] | None) -> OperationSpan | None:
    """A span for an operation starting now (None when tracing is off), made current; its name is
    settled when it ends, once the document says what the operation is."""
    tracer = _tracer
    if tracer is None:
        return None
    from opentelemetry import context, propagate, trace

    parent = propagate.extract(dict(headers)) if headers else None
    span = tracer.start_span("graphql.operation", context=parent, kind=trace.SpanKind.SERVER)
    return OperationSpan(span, context.attach(trace.set_span_in_context(span, parent)))


# ---------------------------------------------------------------- SQL statements


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per statement the engine runs while a span is current (see the module docstring)."""
    sync_engine = engine.sync_engine
    database = sync_engine.url.database or "postgres"
    attributes = {"db.system.name": "postgresql", "db.namespace": database}
    if sync_engine.url.host:
        attributes["server.address"] = sync_engine.url.host

    def before(_conn: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, executemany: bool) -> None:
        tracer = _tracer
        if tracer is None or context is None:
            return
        from opentelemetry import trace

        if not trace.get_current_span().is_recording():
            return
        words = statement.split(None, 1)
        operation = words[0].upper() if words else "SQL"
        span = tracer.start_span(
            f"{operation} {database}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                **attributes,
                "db.operation.name": operation,
                "db.query.text": statement[:MAX_STATEMENT_LENGTH],
                **({"db.operation.batch.size": len(_parameters)} if executemany and _parameters else {}),
            },
        )
        setattr(context, _SPAN, span)

    def after(_conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any, _many: bool) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            setattr(context, _SPAN, None)
            span.end()

    def failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN, None)
        if span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        setattr(context, _SPAN, None)
        error = exception_context.original_exception
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)
