"""Tracing demo: a retried, failed-over, streamed call against scripted servers, shown as a tree.

Run it locally (prints the trace in the terminal)::

    python examples/tracing_demo.py

Send the same traces and metrics to Jaeger (or any OTLP collector) as well::

    docker run --rm -p 16686:16686 -p 4317:4317 -p 4318:4318 jaegertracing/all-in-one:latest
    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 python examples/tracing_demo.py

The upstreams are :class:`openresponses.testing.ScriptedServer` instances on loopback (real HTTP,
so httpx client spans and ``traceparent`` headers are real): provider ``primary`` answers 429
then drops the connection, provider ``backup`` streams reasoning, text and a tool call.
"""

from __future__ import annotations

import asyncio
import os

from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from openresponses import AsyncClient, Provider, exporters
from openresponses.middleware import Failover, Metrics, Retry, RetryPolicy, Tracing
from openresponses.testing import ScriptedServer, reset_before_headers, status, text


async def main() -> None:
    memory = exporters.memory()
    tracer_provider, meter_provider = memory.tracer_provider, memory.meter_provider
    otlp = None
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        otlp = exporters.setup(
            service_name=os.environ.get("OTEL_SERVICE_NAME", "openresponses-demo"),
            metrics=os.environ.get("DEMO_OTLP_METRICS", "true").lower() == "true",  # Jaeger takes traces only
        )
        # The same spans go to OTLP and to the in-memory exporter behind the terminal tree.
        otlp.tracer_provider.add_span_processor(SimpleSpanProcessor(memory.span_exporter))
        tracer_provider = otlp.tracer_provider
        meter_provider = otlp.meter_provider or meter_provider
    middleware = [Tracing(tracer_provider=tracer_provider), Metrics(meter_provider=meter_provider)]

    rounds = int(os.environ.get("DEMO_ROUNDS", "1"))
    for _ in range(rounds):
        async with (
            ScriptedServer([status(429, retry_after=0.2), reset_before_headers()]) as primary,
            ScriptedServer([text("It will be sunny in Paris tomorrow.", reasoning="Look up the forecast",
                                 event_delay=0.02)]) as backup,
        ):  # fmt: skip
            failover = Failover(
                [
                    Provider(
                        "primary",
                        primary.base_url,
                        middleware=[Retry(RetryPolicy(attempts=2, jitter="none"))],
                    ),
                    Provider("backup", backup.base_url),
                ]
            )
            async with AsyncClient(middleware=middleware, endpoint=failover) as client:
                async with client.responses.stream(model="demo-model", input="Weather in Paris?") as stream:
                    async for event in stream:
                        if event.type == "response.output_text.delta":
                            print(event.delta, end="", flush=True)
                print("\n")
        print(memory.render_last_trace())
        memory.clear()
        await asyncio.sleep(float(os.environ.get("DEMO_PAUSE_S", "0")))
    if otlp is not None:
        otlp.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
