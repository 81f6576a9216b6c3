"""Tracing (app/tracing.py): with OTEL_EXPORTER_OTLP_ENDPOINT set, a span per GraphQL operation
named after it, a child span per SQL statement, exported over OTLP/HTTP; off without it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app import tracing
from app.config import Settings, load_settings
from app.main import create_app
from tests.conftest import TEST_SECRET, Actors

TITLES = "query TracedTitles { journeys { edges { node { title } } } }"
PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"


class Collector:
    """A local OTLP/HTTP receiver: keeps each export request it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                collector.requests.append((self.path, self.headers.get("content-type", ""), body))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def span_names(self) -> list[str]:
        names = []
        for _path, _type, body in self.requests:
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    names += [span.name for span in scope.spans]
        return names


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    try:
        yield receiver
    finally:
        receiver.close()


def traced_settings(data_dir: Path, endpoint: str) -> Settings:
    return load_settings(
        {
            "JOURNEYS_ENV": "test",
            "JOURNEYS_JWT_SECRET": TEST_SECRET,
            "JOURNEYS_DATA_DIR": str(data_dir),
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_SERVICE_NAME": "journeys-test",
        }
    )


async def test_an_operation_span_with_a_child_span_per_statement(
    actors: Actors, migrated: str, data_dir: Path, collector: Collector
) -> None:
    tenant = await actors.tenant()
    app = create_app(traced_settings(data_dir, collector.url), migrated)
    exporter = InMemorySpanExporter()
    async with app.router.lifespan_context(app):
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://journeys") as http:
            headers = {"authorization": f"Bearer {actors.token(tenant)}"}
            response = await http.post("/graphql", json={"query": TITLES}, headers=headers)
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            # the caller's trace context is the operation's parent
            headers["traceparent"] = f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"
            refused = await http.post(
                "/graphql",
                json={"query": "query Refused { viewer { id } }"},
                headers={"traceparent": headers["traceparent"]},
            )
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        spans = exporter.get_finished_spans()

        (operation,) = [s for s in spans if s.name == "graphql.query TracedTitles"]
        assert operation.kind is SpanKind.SERVER and operation.parent is None
        assert operation.attributes is not None
        assert operation.attributes["graphql.operation.name"] == "TracedTitles"
        assert operation.attributes["graphql.operation.type"] == "query"
        assert operation.status.status_code is StatusCode.UNSET
        statements = [s for s in spans if s.parent is not None and s.parent.span_id == operation.context.span_id]
        assert statements, [s.name for s in spans]
        for statement in statements:
            assert statement.kind is SpanKind.CLIENT
            assert statement.context.trace_id == operation.context.trace_id
            assert statement.attributes is not None and statement.attributes["db.system.name"] == "postgresql"
            assert statement.name.split()[0] == statement.attributes["db.operation.name"]
            assert statement.start_time >= operation.start_time and statement.end_time <= operation.end_time
        assert any("journey_versions" in str(s.attributes["db.query.text"]) for s in statements)
        # every statement span of the request has the operation as its parent
        assert all(s.parent is not None for s in spans if s.kind is SpanKind.CLIENT)

        (failed,) = [s for s in spans if s.name == "graphql.query Refused"]
        assert failed.status.status_code is StatusCode.ERROR
        assert failed.attributes is not None and failed.attributes["error.type"] == "UNAUTHENTICATED"
        assert failed.parent is not None and f"{failed.parent.span_id:016x}" == PARENT_SPAN
        assert f"{failed.context.trace_id:032x}" == PARENT_TRACE
    # the lifespan's end flushed the batch to the OTLP endpoint
    assert collector.requests and all(path == "/v1/traces" for path, _type, _body in collector.requests)
    assert collector.requests[0][1] == "application/x-protobuf"
    assert "graphql.query TracedTitles" in collector.span_names()


async def test_tracing_is_off_without_an_endpoint(settings: Settings) -> None:
    assert settings.otel_exporter_otlp_endpoint is None
    assert tracing.start_tracing(settings) is False
    assert tracing.start_operation(None) is None
    with pytest.raises(RuntimeError):
        tracing.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
