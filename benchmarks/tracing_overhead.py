"""CPU cost of Tracing + Metrics: per streamed delta and per request, against no telemetry.

Run: ``python benchmarks/tracing_overhead.py [--deltas 2000] [--rounds 15] [--flush-every 1]``

Three pipelines, each measured bare and with ``Tracing()`` + ``Metrics()`` (default levels), in
interleaved rounds (bare, traced, traced, bare, ...) so drift hits both alike; medians printed:

- ``loopback``: the real client over a real socket: ``AsyncClient(base_url=...)`` against the
  loopback server of ``_server.py`` running in another process (its CPU is not billed here),
  one HTTP chunk per ``--flush-every`` events (default 1: a server flushing every token);
- ``http``: the client's ``HTTPTransport`` over ``httpx.MockTransport`` serving the same SSE bytes
  in 512-byte chunks (SSE decoding and event validation included, no socket);
- ``in-process``: pre-built event objects, no decoding at all (the worst case for the ratio,
  since the baseline does almost nothing per event).

CPU is ``time.process_time()`` (all threads). Spans go through a ``SimpleSpanProcessor`` into an
exporter that discards them, so span processing is paid inline and counted; metrics aggregate in
an ``InMemoryMetricReader``. Targets: ≤ 1 µs per delta at the default level, ≤ 10 % extra CPU
on a 2,000-delta stream.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _server import Endpoint, serve_in_process
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from openresponses import AsyncClient
from openresponses._emit import EventBuilder
from openresponses._pipeline import Reply, Request, Target
from openresponses._sse import encode_event
from openresponses._streaming import EventStream
from openresponses.middleware import Metrics, Tracing
from openresponses.transports.http import HTTPTransport
from openresponses.types import Response, StreamEvent


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def build_events(deltas: int) -> list[StreamEvent]:
    b = EventBuilder(model="bench")
    b.created()
    b.in_progress()
    m = b.start_message()
    for i in range(deltas):
        b.text(m, f"tok{i} ")
    b.end_item(m)
    b.complete(usage={"input_tokens": 10, "output_tokens": deltas})
    return b.drain()


class InProcess:
    def __init__(self, events: list[StreamEvent]) -> None:
        self.events = events
        self.final = events[-1].response  # type: ignore[union-attr]
        self.target = Target("bench", "http://bench.local/v1")

    async def __call__(self, request: Request, /) -> Reply:
        if not request.stream:
            assert isinstance(self.final, Response)
            return self.final
        events = self.events

        async def source() -> AsyncIterator[list[StreamEvent]]:
            for event in events:
                yield [event]

        return EventStream(source(), provider="bench")

    async def aclose(self) -> None:
        return None


def frames(events: list[StreamEvent]) -> list[bytes]:
    """The SSE bytes of each event, then ``[DONE]``."""
    out = [encode_event(e.model_dump_json(exclude_unset=True).encode()) for e in events]
    return [*out, b"data: [DONE]\n\n"]


def loopback_routes(events: list[StreamEvent], flush_every: int) -> dict[str, Endpoint]:
    sse = frames(events)
    flushes = [b"".join(sse[i : i + flush_every]) for i in range(0, len(sse), flush_every)]
    final = events[-1].response.model_dump_json(exclude_unset=True).encode()  # type: ignore[union-attr]
    return {"/v1/responses": Endpoint(body=final, stream=flushes)}


def http_transport(events: list[StreamEvent]) -> HTTPTransport:
    body = b"".join(frames(events))
    final = events[-1].response.model_dump_json(exclude_unset=True).encode()  # type: ignore[union-attr]
    chunks = [body[i : i + 512] for i in range(0, len(body), 512)]  # ~ network-sized chunks

    def handler(request: httpx.Request) -> httpx.Response:
        if b'"stream":true' in request.content:
            return httpx.Response(200, stream=_Chunks(chunks), headers={"content-type": "text/event-stream"})
        return httpx.Response(200, content=final, headers={"content-type": "application/json"})

    return HTTPTransport("http://bench.local/v1", provider="bench",
                         http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))  # fmt: skip


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def telemetry() -> list[Any]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return [Tracing(tracer_provider=tracer_provider), Metrics(meter_provider=meter_provider)]


async def stream_once(client: AsyncClient) -> None:
    async with client.responses.stream(model="bench", input="x") as stream:
        async for _ in stream:
            pass


async def request_once(client: AsyncClient) -> None:
    await client.responses.create(model="bench", input="x")


async def cpu(action: Callable[[], Any], repeat: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(repeat):
        await action()
    return (time.process_time() - start) / repeat


async def compare(name: str, make: Callable[..., AsyncClient], action: Callable[[AsyncClient], Any],
                  repeat: int, rounds: int) -> tuple[float, float]:  # fmt: skip
    bare = make()
    traced = make(middleware=telemetry())
    for client in (bare, traced):  # warm up
        await action(client)
    bare_s: list[float] = []
    traced_s: list[float] = []
    for r in range(rounds):
        order = [(bare, bare_s), (traced, traced_s)] if r % 2 == 0 else [(traced, traced_s), (bare, bare_s)]
        for client, out in order:
            out.append(await cpu(lambda c=client: action(c), repeat))
    await bare.aclose()
    await traced.aclose()
    return statistics.median(bare_s), statistics.median(traced_s)


async def run(args: argparse.Namespace, events: list[StreamEvent], base_url: str) -> None:
    n_events = len(events)
    print(
        f"stream: {args.deltas} deltas, {n_events} events; loopback: {args.flush_every} event(s) per "
        f"HTTP chunk; {args.rounds} interleaved rounds; medians\n"
    )
    print(f"{'case':<28}{'bare':>12}{'traced':>12}{'extra':>12}{'ratio':>9}{'extra/delta':>14}")
    cases: list[tuple[str, Callable[..., AsyncClient]]] = [
        ("loopback", lambda **kw: AsyncClient(base_url=base_url + "/v1", **kw)),
        ("http", lambda **kw: AsyncClient(transport=http_transport(events), **kw)),
        ("in-process", lambda **kw: AsyncClient(transport=InProcess(events), **kw)),
    ]
    for label, make in cases:
        bare, traced = await compare(label, make, stream_once, 3, args.rounds)
        extra = traced - bare
        print(
            f"{label + ' stream':<28}{bare * 1e3:>10.2f}ms{traced * 1e3:>10.2f}ms{extra * 1e3:>10.3f}ms"
            f"{traced / bare:>8.3f}x{extra / args.deltas * 1e6:>11.3f} µs"
        )
        bare, traced = await compare(label, make, request_once, 50, args.rounds)
        print(
            f"{label + ' request':<28}{bare * 1e6:>10.1f}µs{traced * 1e6:>10.1f}µs"
            f"{(traced - bare) * 1e6:>10.1f}µs"
            f"{traced / bare:>8.3f}x{'':>14}"
        )
    print("\nextra/delta = (traced - bare) / deltas: all telemetry cost of the stream spread over its deltas")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--flush-every", type=int, default=1, help="loopback: events per HTTP chunk")
    args = parser.parse_args()
    events = build_events(args.deltas)
    with serve_in_process(loopback_routes(events, args.flush_every)) as base:
        asyncio.run(run(args, events, base))


if __name__ == "__main__":
    main()
