"""``OpenResponsesInstrumentor``: in-process, and under the real ``opentelemetry-instrument`` launcher."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from openresponses import AsyncClient
from openresponses.integrations.otel import OpenResponsesInstrumentor
from openresponses.middleware import Tracing
from openresponses.testing import ScriptedServer, text


def _load_receiver() -> Any:
    # The OTLP/HTTP receiver of the exporter tests, reused as it is.
    path = Path(__file__).parents[1] / "exporters" / "test_otlp_wire.py"
    spec = importlib.util.spec_from_file_location("_otlp_wire_receiver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WIRE = _load_receiver()


@pytest.fixture
def receiver() -> Iterator[Any]:
    rx = WIRE.Receiver()
    rx.thread.start()
    try:
        yield rx
    finally:
        rx.server.shutdown()
        rx.server.server_close()


@pytest.fixture
def telemetry() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader, TracerProvider, MeterProvider]]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield exporter, reader, tracer_provider, meter_provider
    OpenResponsesInstrumentor().uninstrument()


def _chat_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]


async def test_instrument_and_uninstrument_reach_new_and_existing_clients(telemetry: Any) -> None:
    exporter, reader, tracer_provider, meter_provider = telemetry
    async with (
        ScriptedServer(default=text("Hi")) as server,
        AsyncClient(base_url=server.base_url) as existing,
    ):
        await existing.responses.create(model="m", input="before")
        assert _chat_spans(exporter) == []
        OpenResponsesInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        await existing.responses.create(model="m", input="existing")
        async with AsyncClient(base_url=server.base_url) as created:
            await created.responses.create(model="m", input="new")
        assert len(_chat_spans(exporter)) == 2
        assert existing.middleware == ()  # the client's own list is untouched
        OpenResponsesInstrumentor().uninstrument()
        await existing.responses.create(model="m", input="after")
    assert len(_chat_spans(exporter)) == 2
    data = reader.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert "gen_ai.client.operation.duration" in names


async def test_websocket_turns_are_instrumented_too(telemetry: Any) -> None:
    from openresponses.testing.websocket import ScriptedWebSocketServer

    exporter, _, tracer_provider, meter_provider = telemetry
    OpenResponsesInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    async with ScriptedWebSocketServer([text("one"), text("two")]) as server:  # noqa: SIM117
        async with AsyncClient(base_url=server.base_url) as client:
            async with client.responses.connect(model="m", store=False) as conn:
                await (await conn.create(input="a")).get_final_response()
                await (await conn.create(input="b", continue_=True)).get_final_response()
    spans = _chat_spans(exporter)
    assert len(spans) == 2
    assert all("openresponses.websocket.connection_id" in (s.attributes or {}) for s in spans)


async def test_a_client_with_its_own_tracing_is_not_traced_twice(telemetry: Any) -> None:
    exporter, _reader, tracer_provider, meter_provider = telemetry
    OpenResponsesInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    async with (
        ScriptedServer(default=text("Hi")) as server,
        AsyncClient(
            base_url=server.base_url, middleware=[Tracing(tracer_provider=tracer_provider)]
        ) as client,
    ):
        await client.responses.create(model="m", input="once")
    assert len(_chat_spans(exporter)) == 1


APP = """
import asyncio
from openresponses import AsyncClient, Client
from openresponses.middleware import Tracing
from openresponses.testing import ScriptedServer, text

async def main() -> None:
    async with ScriptedServer(default=text("Bonjour")) as server:
        async with AsyncClient(base_url=server.base_url) as client:
            response = await client.responses.create(model="m", input="Hello")
            print(response.output_text)
        async with AsyncClient(base_url=server.base_url, middleware=[Tracing()]) as traced:
            await traced.responses.create(model="m", input="Again")

asyncio.run(main())
"""


def test_opentelemetry_instrument_launcher_exports_our_spans_over_otlp(receiver: Any, tmp_path: Path) -> None:
    launcher = shutil.which("opentelemetry-instrument") or str(
        Path(sys.executable).parent / "opentelemetry-instrument"
    )
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "instrumented-app",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    done = subprocess.run(
        [launcher, sys.executable, str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Bonjour"
    spans = receiver.spans()
    chats = [(resource, span) for resource, span in spans if span.name == "chat m"]
    assert len(chats) == 2, [span.name for _, span in spans]  # the Tracing client got no second one
    resource, span = chats[0]
    assert resource["service.name"] == "instrumented-app"
    attributes = WIRE.attrs(span)
    assert attributes["gen_ai.request.model"] == "m"
    assert "Hello" in attributes["gen_ai.input.messages"]  # content capture honoured from the env
    # httpx's own instrumentation (also auto-loaded) nests under our attempt span.
    ids = {s.span_id: s for _, s in spans}
    http = [s for _, s in spans if s.name.startswith("POST")]
    assert http and all(ids[s.parent_span_id].name.startswith("attempt") for s in http)
    assert "/v1/metrics" in receiver.paths
