"""A 20-turn tool-call loop over HTTP streaming vs over one WebSocket, against the same server.

One :class:`~openresponses.testing.websocket.ScriptedWebSocketServer` runs in its own process
(its CPU is not billed to the client) and answers both transports from one script: 19 turns
that call a tool, then a text answer, each turn continuing the previous one with
``previous_response_id`` plus only the new ``function_call_output`` (the agent loop the spec's
WebSocket mode is for). The client runs the loop over

* **http**: ``client.responses.stream(...)`` per turn (a pooled keep-alive HTTP connection);
* **websocket**: one ``client.responses.connect(...)`` and ``conn.create(..., continue_=True)``;

in interleaved rounds after a warm-up, and prints per-turn medians: wall time and client CPU
(``time.process_time()`` of this process), plus the ratio.

    python benchmarks/websocket.py             # 20 turns, 7 rounds
    python benchmarks/websocket.py --quick     # a smoke run
    python benchmarks/websocket.py --delay 0.02  # a server that takes 20 ms before its first event
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openresponses import AsyncClient

SERVER = """
import sys, time
from openresponses.testing import function_call, text
from openresponses.testing.websocket import ScriptedWebSocketServer
turns, delay = int(sys.argv[1]), float(sys.argv[2])
def script():
    calls = [function_call("lookup", {"step": i, "query": "x" * 40}).with_(first_event_delay=delay)
             for i in range(turns - 1)]
    return [*calls, text("All done: " + "word " * 40).with_(first_event_delay=delay)]
server = ScriptedWebSocketServer(script() * 10000)
with server.run_in_thread():
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


def _output(final: Any) -> list[dict[str, Any]]:
    calls = [item for item in final.output if item.type == "function_call"]
    return [{"type": "function_call_output", "call_id": c.call_id, "output": '{"ok": true}'} for c in calls]


async def loop_http(client: AsyncClient, turns: int) -> None:
    previous: str | None = None
    items: Any = "Start the task."
    for _ in range(turns):
        extra = {"previous_response_id": previous} if previous else {}
        async with client.responses.stream(model="m", input=items, tools=TOOLS, **extra) as stream:
            final = await stream.get_final_response()
        previous, items = final.id, _output(final)


async def loop_websocket(client: AsyncClient, turns: int) -> None:
    async with client.responses.connect(model="m", tools=TOOLS) as conn:
        stream = await conn.create(input="Start the task.")
        for turn in range(turns):
            final = await stream.get_final_response()
            if turn + 1 < turns:
                stream = await conn.create(input=_output(final), continue_=True)


TOOLS = [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}]


async def measure(run: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    return time.perf_counter() - wall, time.process_time() - cpu


async def run_rounds(base_url: str, turns: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {"http": [], "websocket": []}
    async with AsyncClient(base_url=base_url) as client:
        runs = {
            "http": lambda: loop_http(client, turns),
            "websocket": lambda: loop_websocket(client, turns),
        }
        for run in runs.values():  # warm-up (imports, pools, pydantic)
            await measure(run)
        for _ in range(rounds):
            for name, run in runs.items():
                results[name].append(await measure(run))
    return results


def main(turns: int, rounds: int, delay: float) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(turns), str(delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    base_url = server.stdout.readline().strip()
    try:
        results = asyncio.run(run_rounds(base_url, turns, rounds))
    finally:
        server.communicate("", timeout=10)
    print(f"# {turns}-turn tool-call loop, {rounds} rounds, first-event delay {delay * 1000:g} ms")
    print(f"# Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print(f"{'transport':<10} {'wall/turn ms':>13} {'cpu/turn ms':>12} {'loop wall ms':>13}")
    medians: dict[str, tuple[float, float]] = {}
    for name, values in results.items():
        wall = statistics.median(w for w, _ in values) / turns * 1000
        cpu = statistics.median(c for _, c in values) / turns * 1000
        medians[name] = (wall, cpu)
        print(f"{name:<10} {wall:>13.2f} {cpu:>12.2f} {wall * turns:>13.1f}")
    (hw, hc), (ww, wc) = medians["http"], medians["websocket"]
    print(f"websocket/http: wall x{ww / hw:.2f}, cpu x{wc / hc:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--delay", type=float, default=0.0, help="server delay before each first event (s)")
    parser.add_argument("--quick", action="store_true", help="5 turns, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.rounds = 5, 1
    main(args.turns, args.rounds, args.delay)
