"""Load and memory: many concurrent streams through the full stack, one very long stream, one huge event.

Not a test (figures only, no asserts; PASS/MISS against the targets of issue #12). Three parts:

1. **Load**: ``--streams`` (500) concurrent streams of ``--deltas`` (2,000) deltas each, on one
   event loop, through the full production stack (Tracing + Metrics to real SDK providers with a
   dropping exporter, an outer ``Timeout``, a ``Failover`` of two providers each with ``Retry``,
   ``CircuitBreaker`` and ``Timeout(first_event=10, idle=30)``, ``midstream="continue"``) against
   a fast loopback server in its own process (``_server.py``, ``--flush-every`` events per HTTP
   chunk). ``--rounds`` (10) rounds; per round: errors, events/s, time to first delta at the
   caller (p50 / p99 / max), RSS after the round (after ``gc.collect()``), and the peak RSS.
   Target: 0 errors; the second half of the rounds peaks no higher (RSS, live objects) than the first.
2. **Long stream**: one ``--long-deltas`` (100,000) delta stream of 40-character deltas (4 MB of
   text) through the same stack: the peak RSS growth while streaming it, against the text size.
   Target: proportional to the text, not to the events (the spec's ``output_text.done``,
   ``content_part.done``, ``output_item.done`` and ``response.completed`` each repeat the whole
   text, so about 5x the text; keeping every decoded event would take about 35x).
3. **Huge event**: one ``output_text.delta`` of 1, 2, 5 and 10 MB fed to the SSE decoder and to
   the full Open Responses stream decoder (SSE + JSON + event validation) in 4 KiB and 64 KiB
   chunks: seconds per MB. Target: linear (about the same time per MB at 5 and 10 MB; a quadratic
   decoder doubles it).

    python benchmarks/load.py            # ~3-4 minutes on 2 cores
    python benchmarks/load.py --quick    # 100 streams x 500 deltas x 3 rounds, 20,000-delta stream
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import multiprocessing
import os
import platform
import socket
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import Endpoint, _serve
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from openresponses import AsyncClient, CallContext, Provider, Request
from openresponses._emit import EventBuilder
from openresponses._sse import SSEDecoder, encode_event
from openresponses.middleware import (
    CircuitBreaker,
    Failover,
    Metrics,
    Retry,
    RetryPolicy,
    Timeout,
    Tracing,
)
from openresponses.transports._dialect import OpenResponsesDialect
from openresponses.types import CreateResponseBody

MB = 1_000_000


# -- the server ---------------------------------------------------------------------------------


def stream_flushes(deltas: int, flush_every: int, *, width: int = 0) -> list[bytes]:
    """A spec-valid stream of ``deltas`` text deltas, ``flush_every`` events per HTTP chunk."""
    b = EventBuilder(model="bench")
    b.created()
    b.in_progress()
    m = b.start_message()
    for i in range(deltas):
        piece = f"tok{i} "
        b.text(m, piece.ljust(width, ".") if width else piece)
    b.end_item(m)
    b.complete(usage={"input_tokens": 10, "output_tokens": deltas})
    frames = [encode_event(e) for e in b.drain()]
    frames.append(b"data: [DONE]\n\n")
    return [b"".join(frames[i : i + flush_every]) for i in range(0, len(frames), flush_every)]


def _serve_process(routes: dict[str, Endpoint], ready: Any) -> None:
    # _server.serve() listens with a backlog of 128; hundreds of connections opened at once
    # need more, or the kernel drops SYNs and the client retries them a second later.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(routes, sock, ready))


@contextlib.contextmanager
def serve(routes: dict[str, Endpoint]) -> Iterator[str]:
    """The benchmark server in a child process; yields ``http://127.0.0.1:PORT``."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_serve_process, args=(routes, child), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(60):
            raise RuntimeError("the benchmark server did not start")
        yield f"http://127.0.0.1:{parent.recv()}"
    finally:
        process.terminate()
        process.join(5)


# -- the client ---------------------------------------------------------------------------------


class _DroppingExporter(SpanExporter):
    """Counts spans and keeps none (an exporter that kept them would grow RSS by itself)."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def full_stack(url: str, exporter: SpanExporter, *, first_event: float = 10.0) -> AsyncClient:
    """The README's stack: Tracing, Metrics, Timeout(120), Failover of two providers, each with
    Retry, CircuitBreaker and ``Timeout(first_event=10, idle=30)``, ``first_token_timeout=15``."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])

    def stack() -> list[Any]:
        return [
            Retry(RetryPolicy(attempts=3)),
            CircuitBreaker(fail_max=5, reset_timeout=30),
            Timeout(first_event=first_event, idle=30),
        ]

    return AsyncClient(
        middleware=[
            Tracing(tracer_provider=tracer_provider),
            Metrics(meter_provider=meter_provider),
            Timeout(120),
        ],
        endpoint=Failover(
            [
                Provider("primary", base_url=url, middleware=stack()),
                Provider("fallback", base_url=url, middleware=stack()),
            ],
            first_token_timeout=first_event + 5,
            midstream="continue",
        ),
    )


@dataclass
class Round:
    seconds: float
    events: int
    errors: list[str]
    ttfe: list[float]
    rss: int
    peak: int
    objects: int


@dataclass
class Stream:
    events: int = 0
    ttfe: float | None = None
    error: str | None = None
    text_chars: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


async def one_stream(client: AsyncClient) -> Stream:
    out = Stream()
    start = time.perf_counter()
    try:
        async with client.responses.stream(model="bench", input="x") as stream:
            async for event in stream:
                out.events += 1
                if out.ttfe is None and event.type == "response.output_text.delta":
                    out.ttfe = time.perf_counter() - start
            final = await stream.get_final_response()
            out.text_chars = len(final.output_text)
    except Exception as exc:
        out.error = _kind(exc)
    return out


def _kind(exc: BaseException) -> str:
    """A short label: the error type (and timeout kind), per provider attempt for a failover."""
    if isinstance(exc, ExceptionGroup):
        inner = ", ".join(f"{getattr(e, 'provider', None) or '?'}: {_kind(e)}" for e in exc.exceptions)
        return f"{type(exc).__name__}({inner})"
    which = getattr(exc, "which", None)
    return f"{type(exc).__name__}({which})" if which else type(exc).__name__


def rss_bytes() -> tuple[int, int]:
    """(current RSS, peak RSS since the last reset), from /proc (Linux)."""
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value, _ = line.split()
                values[name] = int(value) * 1024
    return values["VmRSS:"], values["VmHWM:"]


def reset_peak() -> bool:
    """Reset the kernel's peak RSS (VmHWM) to the current RSS; False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


async def load(url: str, streams: int, rounds: int, first_event: float) -> list[Round]:
    exporter = _DroppingExporter()
    client = full_stack(url, exporter, first_event=first_event)
    results = []
    try:
        for number in range(1, rounds + 1):
            start = time.perf_counter()
            done = await asyncio.gather(*(one_stream(client) for _ in range(streams)))
            seconds = time.perf_counter() - start
            gc.collect()
            rss, peak = rss_bytes()
            objects = len(gc.get_objects())  # a leak grows this; the allocator's high-water mark does not
            result = Round(
                seconds=seconds,
                events=sum(s.events for s in done),
                errors=[s.error for s in done if s.error],
                ttfe=sorted(s.ttfe for s in done if s.ttfe is not None),
                rss=rss,
                peak=peak,
                objects=objects,
            )
            results.append(result)
            p50, p99 = _quantiles(result.ttfe)
            print(
                f"  round {number:2}: {result.events / seconds:9,.0f} events/s  errors {len(result.errors)}  "
                f"first delta p50 {p50 * 1e3:7.1f} ms  p99 {p99 * 1e3:7.1f} ms  RSS {rss / MB:6.1f} MB  "
                f"objects {objects:,}",
                flush=True,
            )
            for kind, count in collections.Counter(result.errors).most_common(3):
                print(f"           {count} x {kind}", flush=True)
    finally:
        await client.aclose()
    return results


async def long_stream(url: str, warm_url: str) -> tuple[Stream, int, int]:
    """One long stream: (result, peak RSS growth while streaming it, peak of the Python heap).

    Warmed up on a short stream first (imports, caches, the connection), so the growth is the
    long stream's own. The Python heap peak (``tracemalloc``, a second run) counts what the
    library allocates itself, without the allocator's slack.
    """
    client = full_stack(url, _DroppingExporter())
    warm = full_stack(warm_url, _DroppingExporter())
    try:
        await one_stream(warm)
        gc.collect()
        reset_peak()
        base, _ = rss_bytes()
        result = await one_stream(client)
        _, peak = rss_bytes()
        del result
        gc.collect()
        tracemalloc.start()
        result = await one_stream(client)
        heap_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        await client.aclose()
        await warm.aclose()
    return result, peak - base, heap_peak


def retained_events_heap(deltas: int) -> int:
    """Python heap taken by every decoded event of a ``deltas`` stream, kept in a list (the
    cost an accumulator that stored events would pay)."""
    data = b"".join(stream_flushes(deltas, 8, width=40))
    request = Request(body=CreateResponseBody(model="bench", stream=True), stream=True, context=CallContext())
    decoder = OpenResponsesDialect().decoder(request, provider="bench")
    gc.collect()
    tracemalloc.start()
    kept = [
        event for start in range(0, len(data), 65536) for event in decoder.feed(data[start : start + 65536])
    ]
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return size


def huge_event(size: int, chunk: int, *, full: bool) -> float:
    """Seconds to decode one ``size``-byte delta event fed in ``chunk``-byte pieces."""
    b = EventBuilder(model="bench")
    b.created()
    b.in_progress()
    m = b.start_message()
    b.drain()
    frame = encode_event(b.text(m, "x" * size))
    request = Request(body=CreateResponseBody(model="bench", stream=True), stream=True, context=CallContext())
    decoder: Any = OpenResponsesDialect().decoder(request, provider="bench") if full else SSEDecoder()
    if full:  # the sequence check wants the stream's earlier events
        decoder.feed(b"".join(encode_event(e) for e in _lifecycle()))
    pieces = [frame[i : i + chunk] for i in range(0, len(frame), chunk)]
    gc.collect()
    start = time.perf_counter()
    events: list[Any] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    seconds = time.perf_counter() - start
    if len(events) != 1:
        raise RuntimeError(f"expected one event, got {len(events)}")
    return seconds


def _lifecycle() -> list[Any]:
    b = EventBuilder(model="bench")
    b.created()
    b.in_progress()
    b.start_message()
    return b.drain()


def _quantiles(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]


# -- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--flush-every", type=int, default=8, help="events per HTTP chunk (default 8)")
    parser.add_argument("--long-deltas", type=int, default=100_000)
    parser.add_argument(
        "--first-event",
        type=float,
        default=10.0,
        help="each provider's Timeout(first_event=...) in the load part (default 10, as the README; "
        "Failover's first_token_timeout is 5 s more)",
    )
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 5, 10], help="huge event sizes, MB")
    parser.add_argument(
        "--quick", action="store_true", help="100 streams x 500 deltas x 3 rounds, smaller rest"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.deltas, args.rounds, args.long_deltas = 100, 500, 3, 20_000
        args.sizes = [1, 5]

    print(
        f"openresponses load benchmark: Python {platform.python_version()}, {platform.system()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start; server in its "
        f"own process, {args.flush_every} events per chunk\n"
    )
    routes = {
        "/v1/responses": Endpoint(stream=stream_flushes(args.deltas, args.flush_every)),
        "/long/v1/responses": Endpoint(stream=stream_flushes(args.long_deltas, args.flush_every, width=40)),
    }
    with serve(routes) as base:
        # The long stream first: after the load rounds its RSS growth would vanish into free arenas.
        long, peak_growth, heap = asyncio.run(long_stream(base + "/long/v1", base + "/v1"))
        print(
            f"1. load: {args.streams} concurrent streams x {args.deltas} deltas x {args.rounds} rounds, "
            f"first_event={args.first_event:g}s"
        )
        rounds = asyncio.run(load(base + "/v1", args.streams, args.rounds, args.first_event))
    retained = retained_events_heap(args.long_deltas)
    print(f"\n2. one stream of {args.long_deltas:,} deltas of 40 characters")
    errors = sum(len(r.errors) for r in rounds)
    ttfe = sorted(t for r in rounds for t in r.ttfe)
    p50, p99 = _quantiles(ttfe)
    rates = [r.events / r.seconds for r in rounds]
    # A leak raises the high-water mark round after round; the pool's idle connections and the
    # collector's timing move single rounds up and down. Compare the peaks of the two halves.
    half = max(1, len(rounds) // 2)
    first_half, second_half = rounds[:half], rounds[half:] or rounds[-1:]
    growth = max(r.rss for r in second_half) - max(r.rss for r in first_half)
    object_growth = max(r.objects for r in second_half) - max(r.objects for r in first_half)
    flat = growth <= 0.05 * max(r.rss for r in first_half) and object_growth <= 0.05 * max(
        r.objects for r in first_half
    )
    text = max(1, long.text_chars)
    print(
        f"   text {text / MB:.1f} MB; peak RSS growth while streaming {peak_growth / MB:.1f} MB "
        f"({peak_growth / text:.2f}x the text); Python heap peak {heap / MB:.1f} MB ({heap / text:.2f}x); "
        f"error: {long.error}"
    )
    print(
        f"   for comparison, keeping every decoded event would take {retained / MB:.1f} MB "
        f"({retained / text:.1f}x)"
    )

    print("\n3. one huge output_text.delta event: seconds per MB")
    huge: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for full in (False, True):
        label = "full decoder" if full else "SSE framing"
        for chunk in (4096, 65536):
            row = []
            for size_mb in args.sizes:
                seconds = min(huge_event(int(size_mb * MB), chunk, full=full) for _ in range(5))
                row.append((size_mb, seconds / size_mb))
            huge[(label, chunk)] = row
            cells = "  ".join(f"{size:g} MB: {per * 1e3:6.2f} ms/MB" for size, per in row)
            print(f"   {label:12} {chunk // 1024:2} KiB chunks  {cells}")

    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    print("\n## Summary (markdown)\n")
    print("| figure | value | target |")
    print("| --- | ---: | --- |")
    print(
        f"| streams x deltas x rounds (first_event) | {args.streams} x {args.deltas:,} x {args.rounds} "
        f"({args.first_event:g} s) | |"
    )
    print(f"| errors | {errors} | 0 {'✔' if errors == 0 else '✘'} |")
    print(
        f"| events/s (median round; min-max) | {statistics.median(rates):,.0f} "
        f"({min(rates):,.0f}-{max(rates):,.0f}) | |"
    )
    print(
        f"| time to first delta, p50 / p99 / max | {p50 * 1e3:.0f} / {p99 * 1e3:.0f} / "
        f"{ttfe[-1] * 1e3 if ttfe else float('nan'):.0f} ms | |"
    )
    print(f"| peak RSS | {max(r.peak for r in rounds) / MB:.0f} MB | |")
    rss_list = ", ".join(f"{r.rss / MB:.0f}" for r in rounds)
    print(f"| RSS after each round | {rss_list} MB | no growth |")
    print(
        f"| highest RSS / live objects, rounds {half + 1}-{len(rounds)} against rounds 1-{half} | "
        f"{growth / MB:+.1f} MB / {object_growth:+,} | no growth (≤ 5 %) {'✔' if flat else '✘'} |"
    )
    objects_list = ", ".join(f"{r.objects / 1e3:.0f}k" for r in rounds)
    print(f"| live objects after each round | {objects_list} | no growth |")
    print(f"| {args.long_deltas:,}-delta stream: text | {text / MB:.1f} MB | |")
    print(
        f"| ... peak RSS growth / Python heap peak while streaming it | {peak_growth / MB:.1f} MB "
        f"({peak_growth / text:.1f}x) / {heap / MB:.1f} MB ({heap / text:.1f}x) | about the text, far below "
        f"keeping the events ({retained / MB:.0f} MB, {retained / text:.0f}x) "
        f"{'✔' if heap < retained / 3 else '✘'} |"
    )
    for (label, chunk), row in huge.items():
        cells = ", ".join(f"{per * 1e3:.1f}" for _, per in row)
        sizes = "/".join(f"{s:g}" for s, _ in row)
        # Linear: the largest size costs about what the one before it costs per MB (a quadratic
        # decoder doubles it from 5 to 10 MB). Small sizes are cheaper per MB: they fit in cache.
        ratio = row[-1][1] / row[-2][1] if len(row) > 1 else 1.0
        linear = ratio <= 1.6
        print(
            f"| huge event, {label}, {chunk // 1024} KiB chunks: ms per MB at {sizes} MB | {cells} | "
            f"linear: last/previous {ratio:.2f} (quadratic: 2) {'✔' if linear else '✘'} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
