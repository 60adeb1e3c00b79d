"""``openresponses demo --otlp URL``: the demo's traces arrive at a real OTLP/HTTP receiver."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ..conftest import unused_port
from .conftest import RunCli


class _Collector:
    """Accepts OTLP/HTTP protobuf exports on 127.0.0.1; keeps the decoded trace requests."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    collector.traces.append(ExportTraceServiceRequest.FromString(body))
                    payload = ExportTraceServiceResponse().SerializeToString()
                else:
                    payload = b""  # metrics: accepted, not inspected
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def span_names(self) -> list[tuple[str, str]]:
        out = []
        for request in self.traces:
            for rs in request.resource_spans:
                service = next(
                    kv.value.string_value for kv in rs.resource.attributes if kv.key == "service.name"
                )
                out.extend((service, span.name) for ss in rs.scope_spans for span in ss.spans)
        return out


@pytest.fixture
def collector() -> Iterator[_Collector]:
    rx = _Collector()
    thread = threading.Thread(target=rx.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rx
    finally:
        rx.server.shutdown()
        rx.server.server_close()


def test_demo_sends_its_traces(run_cli: RunCli, collector: _Collector) -> None:
    done = run_cli("demo", "--otlp", collector.url)
    assert done.returncode == 0, done.stderr
    assert "attempt 1 primary" in done.stdout  # the waterfall is still drawn locally
    names = collector.span_names()
    assert ("openresponses-demo", "chat demo-model") in names
    assert sum(name.startswith("attempt") for _, name in names) >= 5  # 3 + 1 (breaker call) + 2 (continue)
    assert f"over OTLP to {collector.url} (service.name=openresponses-demo)" in done.stdout


def test_demo_without_a_collector_ends_quickly(run_cli: RunCli) -> None:
    port = unused_port()  # nothing listens there, and no other worker's server is handed it
    done = run_cli("demo", "--otlp", f"http://127.0.0.1:{port}", timeout=30)
    assert done.returncode == 0, done.stderr
    assert "Done in" in done.stdout
    assert "Traceback" not in done.stderr
