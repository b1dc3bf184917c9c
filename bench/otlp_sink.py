"""A loopback OTLP/HTTP trace collector for benchmarks: it takes `POST /v1/traces` the way a
real collector does (protobuf `ExportTraceServiceRequest` in, `ExportTraceServiceResponse`
out), counts the spans it received, and keeps nothing else. Traced benchmark rounds export
to it, so they pay for recording, batching, encoding and sending every span.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class Collector(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """What INCIDENTFLOW_OTLP_ENDPOINT is set to."""
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def add(self, spans: int) -> None:
        with self._lock:
            self.spans += spans


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = ExportTraceServiceRequest.FromString(body)
        self.server.add(sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def otlp_collector() -> Iterator[Collector]:
    """A collector on a free loopback port for the duration of the block."""
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
