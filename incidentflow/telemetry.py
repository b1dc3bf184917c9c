"""Tracing: one trace from the webhook request through the signal, both workflows and every
activity (Temporal's OpenTelemetry interceptor carries the context across the server), down to
each evidence query an investigation makes (`evidence_span`).

Spans are exported over OTLP/HTTP only when `INCIDENTFLOW_OTLP_ENDPOINT` is set; otherwise the
OpenTelemetry API stays a no-op and costs next to nothing. Temporal's spans carry the workflow
id (`temporalWorkflowID`), which for an incident is its `INC-...` id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

from incidentflow.logs import incident_id
from incidentflow.metrics import MetricsInterceptor
from incidentflow.settings import ProcessSettings

TRACER_NAME = "incidentflow"
# Attributes of an evidence query's span.
EVIDENCE_SOURCE = "incidentflow.evidence.source"
EVIDENCE_QUERY = "incidentflow.evidence.query"
INCIDENT_ID = "incidentflow.incident_id"


def configure_tracing(process: ProcessSettings, service_name: str) -> TracerProvider | None:
    """Install an OTLP-exporting tracer provider when an endpoint is configured."""
    if not process.otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter,
    )

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=process.otlp_endpoint))
    )
    trace.set_tracer_provider(provider)
    return provider


def temporal_interceptors() -> list[Interceptor]:
    """Client interceptors (tracing, metrics); workers built from the client inherit them."""
    return [TracingInterceptor(), MetricsInterceptor()]


class TracedApp:
    """ASGI middleware: a server span per HTTP request, the parent of the Temporal calls the
    handler makes (so a batch's trace starts at the request that delivered it)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._tracer = trace.get_tracer(TRACER_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method, path = scope.get("method", "GET"), scope.get("path", "/")
        with self._tracer.start_as_current_span(f"{method} {path}", kind=SpanKind.SERVER) as span:
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", path)

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            await self._app(scope, receive, send_traced)


def traced(app: Any) -> TracedApp:
    """Wrap the ingest app so each request is a span."""
    return TracedApp(app)


@contextmanager
def evidence_span(source: str, query: str) -> Iterator[Span]:
    """A client span around one evidence query, child of the investigation's activity span.

    It names the source, the query as sent (PromQL, LogQL, a URL, a kubectl command line; never
    a credential) and the incident when an incident's activity asks. An exception marks the
    span as failed and goes on.
    """
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(f"evidence {source}", kind=SpanKind.CLIENT) as span:
        span.set_attribute(EVIDENCE_SOURCE, source)
        span.set_attribute(EVIDENCE_QUERY, query)
        incident = incident_id()
        if incident is not None:
            span.set_attribute(INCIDENT_ID, incident)
        yield span
