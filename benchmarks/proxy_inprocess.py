"""The proxy app's own cost per non-streamed request, in process: no uvicorn, no client process.

Why, next to ``proxy.py``: on a shared 2-core VM the served figures move by ±40 % over a day
with the machine's state (docs/performance.md, "Measuring on this machine"), which hides
changes of a few percent. This drives the app built by ``openresponses proxy --preset ollama``
(access log included) through ASGI calls against the benchmark's fake upstream
(``_chat_upstream.py``, its own process), and reports:

* CPU per request (this process's user + system time), per batch of 200 requests: the median,
  and the fastest batch (a quiet machine's figure);
* with ``--instructions``: instructions per request under valgrind's callgrind (the difference
  between two run lengths, so start-up cancels out). Deterministic to ≈ 0.3 %: the figure to
  compare two versions of the code by. Needs ``valgrind`` (Debian's package).

    python benchmarks/proxy_inprocess.py                 # CPU per request, 4,000 requests
    python benchmarks/proxy_inprocess.py --instructions  # + instructions per request (~2 min)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chat_upstream import MODEL
from _peers import upstream, workdir

BATCH = 200
KEY = "sk-bench-inprocess-0123456789"
BODY = json.dumps(
    {
        "model": MODEL,
        "input": [{"type": "message", "role": "user", "content": "Tell me a long story."}],
        "stream": False,
    }
).encode()


def build_app(upstream_url: str) -> Any:
    """The app ``openresponses proxy --preset ollama --base-url ... --api-key-env`` serves."""
    from openresponses.cli.proxy import _add_arguments, settings_from_args
    from openresponses.proxies._access import AccessLog
    from openresponses.proxies.app import create_app_from_settings

    parser = argparse.ArgumentParser()
    _add_arguments(parser)
    os.environ["BENCH_INPROCESS_KEY"] = KEY
    args = parser.parse_args(
        ["--preset", "ollama", "--base-url", f"{upstream_url}/v1", "--api-key-env", "BENCH_INPROCESS_KEY"]
    )
    return AccessLog(create_app_from_settings(settings_from_args(args)))


async def drive(app: Any, warm: int, requests: int) -> list[float]:
    """``warm`` then ``requests`` sequential requests; CPU µs per request for each batch."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8003),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": "/v1/responses",
        "raw_path": b"/v1/responses",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8003"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"authorization", f"Bearer {KEY}".encode()),
        ],
        "state": {},
    }

    async def one() -> None:
        sent: list[dict[str, Any]] = []
        done = asyncio.Event()
        pending = [{"type": "http.request", "body": BODY, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(dict(scope), receive, send)
        done.set()
        if sent[0].get("status") != 200:
            raise RuntimeError(f"the proxy answered {sent[0].get('status')}: {sent[1:]}")

    async with app.app.router.lifespan_context(app.app):
        for _ in range(warm):
            await one()
        batches = []
        for _ in range(requests // BATCH):
            start = time.process_time()
            for _ in range(BATCH):
                await one()
            batches.append((time.process_time() - start) / BATCH * 1e6)
    return batches


def run_here(upstream_url: str, warm: int, requests: int) -> list[float]:
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    app = build_app(upstream_url)
    # The access line goes to stdout as in the served proxy; keep it out of the report.
    with open(os.devnull, "w") as sink:
        saved, sys.stdout = sys.stdout, sink
        try:
            from openresponses.proxies._access import configure_access_log

            configure_access_log("info")
            return list(runner(drive(app, warm, requests)))
        finally:
            sys.stdout = saved


def instructions(upstream_url: str, requests: int) -> float:
    """Instructions per request: callgrind's totals for two run lengths, differenced."""
    totals = []
    for count in (requests, 3 * requests):
        out = subprocess.run(
            [
                "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                sys.executable, __file__, "--child", upstream_url, "--requests", str(count), "--warm", "20",
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        line = next(line for line in out.stderr.splitlines() if "Collected" in line)
        totals.append(int(line.split()[-1]))
    return (totals[1] - totals[0]) / (2 * requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=4000, help="measured requests (4000)")
    parser.add_argument("--warm", type=int, default=300, help="warm-up requests (300)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one run against this upstream
    args = parser.parse_args()
    if args.child:
        run_here(args.child, args.warm, args.requests)
        return
    with workdir() as scratch, upstream(500, 1, Path(scratch)) as (url, _pid):
        batches = sorted(run_here(url, args.warm, args.requests))
        print(
            f"CPU per request, in process: median batch {statistics.median(batches):.0f} µs, "
            f"fastest {batches[0]:.0f} µs, quartiles {batches[len(batches) // 4]:.0f} to "
            f"{batches[3 * len(batches) // 4]:.0f} µs ({len(batches)} batches of {BATCH})"
        )
        if args.instructions:
            if shutil.which("valgrind") is None:
                sys.exit("--instructions needs valgrind (apt-get install valgrind)")
            print(f"instructions per request: {instructions(url, 200):,.0f}")


if __name__ == "__main__":
    main()
