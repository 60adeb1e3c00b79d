"""exporters.memory(), setup() options, the terminal tree, and importing the core without OTel."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openresponses import APIConnectionError, AsyncClient, exporters
from openresponses._decisions import FailedOver
from openresponses._emit import EventBuilder
from openresponses._pipeline import AttemptBoundary, Reply, Request, Target
from openresponses._streaming import EventStream
from openresponses.exporters import semconv as sc
from openresponses.middleware import Metrics, Tracing
from openresponses.types import StreamEvent


def rich_events() -> list[StreamEvent]:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    r = b.start_reasoning()
    b.summary(r, "Thinking")
    b.end_item(r)
    m = b.start_message()
    b.text(m, "Hi")
    b.text(m, " there")
    b.end_item(m)
    f = b.start_function_call("lookup")
    b.arguments(f, "{}")
    b.end_item(f)
    b.complete(
        usage={"input_tokens": 3, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 2}}
    )
    return b.drain()


class Local:
    def __init__(self, outcome: Any, name: str) -> None:
        self.outcome = outcome
        self.target = Target(name, f"http://{name}.example:8000/v1")

    async def __call__(self, request: Request, /) -> Reply:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        evts = self.outcome

        async def source() -> AsyncIterator[list[StreamEvent]]:
            for event in evts:
                yield [event]

        return EventStream(source(), provider=self.target.provider)

    async def aclose(self) -> None:
        return None


async def test_memory_exporters_and_the_terminal_tree() -> None:
    mem = exporters.memory()
    a, b = (
        AttemptBoundary(Local(APIConnectionError("refused"), "a")),
        AttemptBoundary(Local(rich_events(), "b")),
    )

    async def failover(request: Request, /) -> Reply:
        try:
            return await a(request)
        except APIConnectionError:
            request.context.record(FailedOver("a", "b", "APIConnectionError"))
            return await b(request)

    client = AsyncClient(
        middleware=[Tracing(tracer_provider=mem.tracer_provider), Metrics(meter_provider=mem.meter_provider)],
        endpoint=failover,
    )
    async with client.responses.stream(model="demo", input="x") as stream:
        await stream.get_final_response()

    assert len(mem.last_trace()) == 6
    assert "gen_ai.client.operation.duration" in mem.metric_points()
    tree = mem.render_last_trace(bar_width=20)
    lines = tree.splitlines()
    assert lines[0].startswith("chat demo") and "CLIENT" in lines[0] and lines[0].endswith("|")
    assert "provider=b attempts=2 finish=tool_calls ttft=" in lines[1]
    assert "tokens in=3 out=9 (reasoning 2)" in lines[1]
    assert any("failover from=a to=b reason=APIConnectionError" in line for line in lines)
    assert any(line.startswith("├─ attempt 1 a") and "ERROR" in line for line in lines)
    assert any(line.startswith("└─ attempt 2 b") for line in lines)
    assert any("failover after 0.00 s" not in line and "failover from a" in line for line in lines)
    for name in ("├─ reasoning", "├─ message", "└─ function_call lookup"):
        assert any(name in line for line in lines), name
    assert any("gen_ai.first_chunk" in line for line in lines)
    # Every bar has the same width and sits between pipes.
    bars = [line[line.index("|") :] for line in lines if line.endswith("|")]
    assert len(bars) == 6 and {len(bar) for bar in bars} == {22}
    mem.clear()
    assert mem.spans() == ()
    assert exporters.render_trace([]) == "(no spans)"
    mem.shutdown()


def test_print_last_trace(capsys: pytest.CaptureFixture[str]) -> None:
    mem = exporters.memory()
    tracer = mem.tracer_provider.get_tracer("t")
    with tracer.start_as_current_span("root"), tracer.start_as_current_span("child"):
        pass
    exporters.print_last_trace(mem)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("root") and out[1].startswith("└─ child")


def test_setup_builds_http_and_grpc_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans

    telemetry = exporters.setup("svc", endpoint="http://127.0.0.1:1", protocol="grpc", set_global=False,
                                instrument_httpx=False, metrics=False)  # fmt: skip
    try:
        processors = telemetry.tracer_provider._active_span_processor._span_processors
        assert isinstance(processors[0].span_exporter, GrpcSpans)  # type: ignore[attr-defined]
        assert telemetry.meter_provider is None
        assert telemetry.tracer_provider.resource.attributes["service.name"] == "svc"
    finally:
        telemetry.shutdown()
        telemetry.shutdown()  # idempotent

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector.example:4318/v1/traces")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    with exporters.setup(set_global=False, instrument_httpx=False, metrics=False) as telemetry:
        exporter = telemetry.tracer_provider._active_span_processor._span_processors[0].span_exporter  # type: ignore[attr-defined]
        assert exporter._endpoint == "http://collector.example:4318/v1/traces"
        assert telemetry.protocol == "http/protobuf"
        assert telemetry.tracer_provider.resource.attributes["service.name"] == "from-env"
    with pytest.raises(ValueError, match="protocol"):
        exporters.setup(protocol="thrift", set_global=False)  # type: ignore[arg-type]


def test_semconv_profiles() -> None:
    assert sc.conventions({}) is sc.V1_41
    assert sc.conventions({sc.OPT_IN_ENV: "database,gen_ai_latest_experimental"}) is sc.LATEST_EXPERIMENTAL
    assert sc.V1_41.metric_token_usage == "gen_ai.client.token.usage"
    assert sc.LATEST_EXPERIMENTAL.metric_duration == "gen_ai.client.inference.duration"
    assert sc.capture_content_from_env({sc.CAPTURE_CONTENT_ENV: "True"})
    assert not sc.capture_content_from_env({sc.CAPTURE_CONTENT_ENV: "no_content"})
    assert not sc.capture_content_from_env({})


def test_core_and_semconv_import_without_opentelemetry() -> None:
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import openresponses
from openresponses import exporters, AsyncClient
from openresponses.exporters import semconv
import openresponses.middleware
assert semconv.V1_41.metric_duration == "gen_ai.client.operation.duration"
try:
    openresponses.middleware.Tracing
except ImportError as exc:
    assert "opentelemetry" in str(exc)
else:
    raise SystemExit("Tracing imported without OpenTelemetry?")
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
