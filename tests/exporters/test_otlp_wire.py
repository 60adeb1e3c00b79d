"""Real OTLP over the wire: ``exporters.setup(endpoint=...)`` → a loopback OTLP/HTTP receiver.

The receiver decodes the protobuf requests with ``opentelemetry-proto``, which is exactly the
format Jaeger ingests on port 4318. The client talks real HTTP to a scripted server, so the httpx
client span, the attempt span and the ``traceparent`` the server receives are all checked.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from openresponses import AsyncClient, exporters
from openresponses.middleware import Metrics, Tracing
from openresponses.testing import ScriptedServer, text


class Receiver:
    """A minimal OTLP/HTTP collector on 127.0.0.1: stores decoded export requests."""

    def __init__(self) -> None:
        self.traces: list[ExportTraceServiceRequest] = []
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.paths.append(self.path)
                reply: Any
                if self.path == "/v1/traces":
                    receiver.traces.append(ExportTraceServiceRequest.FromString(body))
                    reply = ExportTraceServiceResponse()
                elif self.path == "/v1/metrics":
                    receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                    reply = ExportMetricsServiceResponse()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = reply.SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) for every span received."""
        out = []
        for request in self.traces:
            for rs in request.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    out.extend((resource, span) for span in ss.spans)
        return out

    def metric(self, name: str) -> Any:
        for request in self.metrics:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name == name:
                            return metric
        return None


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    return getattr(value, kind) if kind else None


def attrs(span: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in span.attributes}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    rx.thread.start()
    try:
        yield rx
    finally:
        rx.server.shutdown()
        rx.server.server_close()


async def test_spans_and_metrics_arrive_over_otlp_http(receiver: Receiver) -> None:
    telemetry = exporters.setup(
        service_name="otlp-wire-test", endpoint=receiver.endpoint, set_global=False, instrument_httpx=True
    )
    try:
        tracing = Tracing(tracer_provider=telemetry.tracer_provider)
        metrics = Metrics(meter_provider=telemetry.meter_provider)
        scenario = text("Bonjour tout le monde", reasoning="Translate politely")
        async with (
            ScriptedServer([scenario]) as server,
            AsyncClient(
                base_url=server.base_url, api_key="sk-wire-secret-0123456789", middleware=[tracing, metrics]
            ) as client,
            client.responses.stream(model="m", input="Hello") as stream,
        ):
            final = await stream.get_final_response()
        received_headers = server.requests[0].headers
    finally:
        telemetry.shutdown()  # flushes spans and the final metric collection
    assert final.output_text == "Bonjour tout le monde"
    assert "/v1/traces" in receiver.paths and "/v1/metrics" in receiver.paths

    spans = receiver.spans()
    by_name = {span.name: span for _, span in spans}
    assert {"chat m", "attempt 1 default", "reasoning", "message"} <= set(by_name)
    resource = spans[0][0]
    assert resource["service.name"] == "otlp-wire-test"
    call, attempt = by_name["chat m"], by_name["attempt 1 default"]
    assert call.kind == 3  # SPAN_KIND_CLIENT
    assert attempt.parent_span_id == call.span_id
    assert by_name["reasoning"].parent_span_id == attempt.span_id
    assert by_name["message"].parent_span_id == attempt.span_id
    call_attrs = attrs(call)
    assert call_attrs["gen_ai.operation.name"] == "chat"
    assert call_attrs["gen_ai.request.model"] == "m"
    assert call_attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert call_attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert call_attrs["gen_ai.usage.output_tokens"] > 0
    assert call_attrs["server.address"] == "127.0.0.1"

    # The httpx client span nests under the attempt, and the server got a traceparent in this trace.
    http_spans = [
        span for _, span in spans if span.parent_span_id == attempt.span_id and span.name.startswith("POST")
    ]
    assert len(http_spans) == 1
    traceparent = received_headers["traceparent"]
    _, trace_id, parent_id, _ = traceparent.split("-")
    assert bytes.fromhex(trace_id) == call.trace_id
    assert bytes.fromhex(parent_id) == http_spans[0].span_id

    # Nothing anywhere carries the key.
    raw = b"".join(request.SerializeToString() for request in receiver.traces + receiver.metrics)  # type: ignore[operator]
    assert b"sk-wire-secret" not in raw
    assert b"Hello" not in raw and b"Bonjour" not in raw

    duration = receiver.metric("gen_ai.client.operation.duration")
    assert duration is not None and duration.unit == "s"
    point = duration.histogram.data_points[0]
    assert point.count == 1
    assert list(point.explicit_bounds) == [
        0.01,
        0.02,
        0.04,
        0.08,
        0.16,
        0.32,
        0.64,
        1.28,
        2.56,
        5.12,
        10.24,
        20.48,
        40.96,
        81.92,
    ]
    usage = receiver.metric("gen_ai.client.token.usage")
    kinds = sorted(
        _value(kv.value)
        for p in usage.histogram.data_points
        for kv in p.attributes
        if kv.key == "gen_ai.token.type"
    )
    assert kinds == ["input", "output"]
    assert receiver.metric("gen_ai.client.operation.time_to_first_chunk") is not None
