"""Resilience middleware overhead: the full stack (Retry + CircuitBreaker + Failover) vs the bare client.

A loopback HTTP/1.1 server (``_server.py``, in its own process so its CPU is not billed to the
client) answers ``POST /v1/responses`` with a whole ``Response`` or, when asked, a spec-valid
stream of N ``response.output_text.delta`` events (8 events per flush). No faults: this is the
price every healthy call pays.

* bare:  ``AsyncClient(base_url=...)``
* stack: ``AsyncClient(middleware=[Retry(), Failover([Provider("p", url, middleware=[CircuitBreaker()]),
  Provider("q", url)], midstream=...)])`` (two providers; the first always serves), one stack per
  ``--midstream`` mode (default: ``raise``, ``restart`` and ``continue``; ``restart`` and
  ``continue`` wrap the stream to be able to recover it)

In interleaved rounds (bare, stack, stack, bare, ...) after a warm-up, it measures client CPU
(``time.process_time()``) and wall time per request, and prints medians, the differences and
the ratios against the issue's targets: at most 5% extra CPU on the stream (each mode), at most
100 µs extra per non-stream request.

    python benchmarks/middleware_overhead.py                       # N=2000 deltas, 15 rounds
    python benchmarks/middleware_overhead.py --midstream restart   # one mode only
    python benchmarks/middleware_overhead.py --quick               # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import Endpoint, serve_in_process

from openresponses import AsyncClient
from openresponses._emit import EventBuilder
from openresponses._provider import Provider
from openresponses._sse import encode_event
from openresponses.middleware import CircuitBreaker, Failover, Retry


def payloads(deltas: int) -> tuple[bytes, list[bytes]]:
    b = EventBuilder(model="bench")
    b.created()
    b.in_progress()
    m = b.start_message()
    for i in range(deltas):
        b.text(m, f"tok{i} ")
    b.end_item(m)
    b.complete(usage={"input_tokens": 10, "output_tokens": deltas})
    events = b.drain()
    frames = [encode_event(e.model_dump_json(exclude_unset=True).encode()) for e in events]
    frames.append(b"data: [DONE]\n\n")
    flushes = [b"".join(frames[i : i + 8]) for i in range(0, len(frames), 8)]
    body = events[-1].response.model_dump_json(exclude_unset=True).encode()  # type: ignore[union-attr]
    return body, flushes


def full_stack(url: str, midstream: str) -> AsyncClient:
    providers = [Provider("p", url, middleware=[CircuitBreaker()]), Provider("q", url)]
    return AsyncClient(middleware=[Retry(), Failover(providers, midstream=midstream)])  # type: ignore[arg-type]


async def stream_once(client: AsyncClient) -> None:
    async with client.responses.stream(model="bench", input="x") as stream:
        async for _ in stream:
            pass


async def request_once(client: AsyncClient) -> None:
    await client.responses.create(model="bench", input="x")


async def measure(action: Callable[[], Awaitable[None]], repeat: int) -> tuple[float, float]:
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        await action()
    return (time.process_time() - cpu0) / repeat, (time.perf_counter() - wall0) / repeat


async def compare(
    bare: AsyncClient,
    stack: AsyncClient,
    action: Callable[[AsyncClient], Awaitable[None]],
    repeat: int,
    rounds: int,
) -> dict[str, tuple[float, float]]:
    for client in (bare, stack, bare, stack):  # warm up pools and caches
        await action(client)
    samples: dict[str, list[tuple[float, float]]] = {"bare": [], "stack": []}
    for r in range(rounds):
        order = [("bare", bare), ("stack", stack)] if r % 2 == 0 else [("stack", stack), ("bare", bare)]
        for name, client in order:
            samples[name].append(await measure(lambda c=client: action(c), repeat))  # type: ignore[misc]
    return {
        name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs))
        for name, runs in samples.items()
    }


def report(
    label: str, result: dict[str, tuple[float, float]], unit: float, suffix: str
) -> tuple[float, float]:
    (bcpu, bwall), (scpu, swall) = result["bare"], result["stack"]
    print(
        f"{label:<22}{'cpu':>5}{bcpu * unit:>12.1f}{suffix}{scpu * unit:>12.1f}{suffix}"
        f"{(scpu - bcpu) * 1e6:>12.1f}µs{scpu / bcpu:>9.3f}x"
    )
    print(
        f"{'':<22}{'wall':>5}{bwall * unit:>12.1f}{suffix}{swall * unit:>12.1f}{suffix}"
        f"{(swall - bwall) * 1e6:>12.1f}µs{swall / bwall:>9.3f}x"
    )
    return scpu - bcpu, scpu / bcpu


async def run(base: str, args: argparse.Namespace) -> None:
    url = base + "/v1"
    bare = AsyncClient(base_url=url)
    stacks = {mode: full_stack(url, mode) for mode in args.midstream}
    stream_pcts: dict[str, float] = {}
    try:
        print(f"{'case':<22}{'':>5}{'bare':>14}{'stack':>14}{'extra':>14}{'ratio':>9}")
        for mode, stack in stacks.items():
            stream = await compare(bare, stack, stream_once, args.stream_repeat, args.rounds)
            _, ratio = report(f"stream, {mode}", stream, 1e3, "ms")
            stream_pcts[mode] = (ratio - 1) * 100
        first = next(iter(stacks.values()))
        whole = await compare(bare, first, request_once, args.request_repeat, args.rounds)
        request_extra, _ = report("non-stream request", whole, 1e6, "µs")
    finally:
        await bare.aclose()
        for stack in stacks.values():
            await stack.aclose()
    print()
    for mode, pct in stream_pcts.items():
        label = f"target: stream extra CPU <= 5% ({mode}):"
        print(f"{label:<44}{pct:+.2f}%  {'PASS' if pct <= 5 else 'MISS'}")
    verdict = "PASS" if request_extra * 1e6 <= 100 else "MISS"
    print(f"{'target: non-stream extra CPU <= 100 µs:':<44}{request_extra * 1e6:+.1f} µs  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--stream-repeat", type=int, default=5)
    parser.add_argument("--request-repeat", type=int, default=100)
    parser.add_argument(
        "--midstream",
        choices=["raise", "restart", "continue"],
        nargs="+",
        default=["raise", "restart", "continue"],
        help="Failover's mid-stream modes to measure (restart/continue add a recovering stream wrapper)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 rounds, fewer repeats")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.stream_repeat, args.request_repeat = 3, 2, 20
    body, flushes = payloads(args.deltas)
    routes = {"/v1/responses": Endpoint(body=body, stream=flushes)}
    modes = ", ".join(args.midstream)
    print(f"loopback server; {args.deltas} deltas, 8 events per flush; midstream: {modes}; "
          f"{args.rounds} interleaved rounds; medians\n")  # fmt: skip
    with serve_in_process(routes) as base:
        asyncio.run(run(base, args))


if __name__ == "__main__":
    main()
