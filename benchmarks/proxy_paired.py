"""Two builds of the served proxy, side by side, in paired rounds: what a change did to latency.

Why, next to ``proxy.py``: on a shared VM the same code's added latency moves by ±40 % over a
day (docs/performance.md, "Measuring on this machine"), more than most changes are worth. Here
both builds serve at once against one fake upstream (``_chat_upstream.py``), each round sends
``--requests`` sequential non-stream requests to each (the order alternating), and the figure is
the median over rounds of the per-round difference of the p50: both builds see the same
machine state within a round.

A build is a source tree holding the ``openresponses`` package (put first on ``PYTHONPATH``)::

    git worktree add /tmp/before HEAD~1
    python benchmarks/proxy_paired.py --a /tmp/before/src --b src      # ~1 min
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chat_upstream import MODEL
from _loadgen import ProcessCPU, request_bytes, sequential
from _peers import KEY, Server, Spec, free_port, upstream, workdir
from proxy import PROMPT


def proxy_spec(name: str, source: str, upstream_url: str) -> Spec:
    """``python -m openresponses.proxies --preset ollama`` from ``source``, on a free port."""
    port = free_port()
    argv = [
        sys.executable, "-m", "openresponses.proxies", "--preset", "ollama", "--base-url",
        f"{upstream_url}/v1", "--port", str(port), "--api-key-env", "BENCH_PROXY_KEY",
    ]  # fmt: skip
    env = {"BENCH_PROXY_KEY": KEY, "PYTHONPATH": str(Path(source).resolve())}
    return Spec(name, argv, sys.executable, "openresponses.proxies", env=env, port=port)


async def latencies(port: int, request: bytes, count: int) -> list[float]:
    """``count`` sequential requests on one keep-alive connection; seconds each."""
    seconds, failed = await sequential(port, request, count)
    if failed:
        raise RuntimeError(f"port {port} answered {failed[0]}")
    return seconds


async def measure(targets: list[tuple[str, int, bytes, ProcessCPU]], rounds: int, count: int) -> None:
    for _, port, request, _ in targets:
        await latencies(port, request, 200)  # warm-up
    p50: dict[str, list[float]] = {name: [] for name, *_ in targets}
    cpu: dict[str, float] = dict.fromkeys(p50, 0.0)
    for number in range(rounds):
        for name, port, request, process in targets if number % 2 == 0 else targets[::-1]:
            before = process.seconds()
            p50[name].append(statistics.median(await latencies(port, request, count)))
            cpu[name] += process.seconds() - before
    (a, *_), (b, *_) = targets
    for name in (a, b):
        print(
            f"{name}: p50 {1e3 * statistics.median(p50[name]):.3f} ms (median of rounds), "
            f"CPU {1e6 * cpu[name] / (rounds * count):.0f} µs per request"
        )
    diffs = sorted(1e6 * (y - x) for x, y in zip(p50[a], p50[b], strict=True))
    print(
        f"paired, {b} - {a}: median {statistics.median(diffs):+.0f} µs per request, quartiles "
        f"{diffs[len(diffs) // 4]:+.0f} to {diffs[3 * len(diffs) // 4]:+.0f} µs ({rounds} rounds of {count})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--a", required=True, help="the first build's source tree (the baseline)")
    parser.add_argument("--b", required=True, help="the second build's source tree")
    parser.add_argument("--rounds", type=int, default=48, help="paired rounds (48)")
    parser.add_argument("--requests", type=int, default=250, help="requests per build per round (250)")
    args = parser.parse_args()
    for source in (args.a, args.b):
        if not (Path(source) / "openresponses" / "__init__.py").is_file():
            sys.exit(f"{source}: no openresponses package there (give the directory holding it)")
    with workdir() as scratch, upstream(500, 1, Path(scratch)) as (url, _pid):
        servers = [
            Server(proxy_spec(name, source, url), Path(scratch)).__enter__()
            for name, source in (("a", args.a), ("b", args.b))
        ]
        try:
            targets = []
            for server in servers:
                spec = server.spec
                body = {"model": MODEL, "input": PROMPT, "stream": False}
                request = request_bytes(
                    "POST", "127.0.0.1", spec.port, "/v1/responses", body, {"authorization": f"Bearer {KEY}"}
                )
                targets.append((spec.name, spec.port, request, ProcessCPU(server.pid)))
            asyncio.run(measure(targets, args.rounds, args.requests))
        finally:
            for server in servers:
                server.__exit__(None, None, None)


if __name__ == "__main__":
    main()
