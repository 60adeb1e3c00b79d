"""Run the fault table of ``tests/faults`` and write ``docs/reliability.md``.

Each scenario plays a fault on a loopback primary with a healthy loopback fallback behind it,
through the production stack of ``tests/faults/runner.py`` (Tracing, an outer Timeout, a
Failover of two providers each with Retry, CircuitBreaker and Timeout(idle=0.5)), and records
what the caller saw. The generated part of the page is the table; everything below the marker
line (the load figures, notes) is kept as it is when the page is regenerated.

    python benchmarks/reliability.py             # writes docs/reliability.md
    python benchmarks/reliability.py --only stall cut_stream --stdout
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from faults.runner import TOTAL, Result, run  # noqa: E402
from faults.scenarios import IDLE, SCENARIOS, FaultScenario  # noqa: E402

REPORT = ROOT / "docs" / "reliability.md"
COMMAND = "python benchmarks/reliability.py"
MARKER = "<!-- end of the generated part: text below this line is kept when regenerating -->"

DEFAULT_FOOTER = """
## Notes

Regenerate after any change to the resilience stack, the transports or the stream decoder.
The same table is asserted, row by row, by `python -m pytest tests/faults` (one test per row),
and a test checks that this page lists every row, so it cannot go stale silently.
"""


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _row(result: Result) -> str:
    s = result.scenario
    ok = "✔" if result.passed else "✘"
    lost = "-" if result.lost is None else str(result.lost)
    closed = "yes"
    if result.busy_after_call or result.open_after_close:
        closed = f"no ({result.busy_after_call} abandoned, {result.open_after_close} open)"
    cells = [
        f"`{s.name}`",
        s.fault,
        " or ".join(s.expect.outcomes),
        f"{ok} {result.outcome}",
        f"{result.seconds:.2f} s",
        str(result.events),
        f"{result.duplicates} / {lost}",
        f"{result.primary_requests} / {result.fallback_requests}",
        closed,
        str(len(result.tasks_left)),
        f"{result.spans - result.spans_open}/{result.spans}",
        str(len(result.gc_finalised)),
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = ""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = " + uncommitted changes" if status.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return (out.stdout.strip() or "unknown") + dirty


def render(results: Sequence[Result], seconds: float) -> str:
    """The generated part of docs/reliability.md (ends with the marker line)."""
    passed = sum(r.passed for r in results)
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        "# Reliability: every fault, what the caller sees",
        "",
        f"Generated on {today} by `{COMMAND}` ({len(results)} scenarios in {seconds:.1f} s; commit "
        f"{_commit()}; Python {platform.python_version()} on {platform.system()}, {os.cpu_count()} CPUs). "
        "Do not edit the table by hand: regenerate it.",
        "",
        f"**{passed} of {len(results)} scenarios behave as a demanding user expects.**",
        "",
        "Each row plays one fault on a real loopback HTTP server (the primary) with a healthy "
        "loopback fallback behind it, through the stack the README recommends, its limits scaled "
        "down so the whole table runs in seconds:",
        "",
        "```python",
        "from opentelemetry.sdk.trace import TracerProvider",
        "",
        "from openresponses import AsyncClient, Middleware, Provider",
        "from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Timeout, Tracing",
        "",
        "memory = TracerProvider()  # the suite adds an in-memory exporter and a span counter",
        'primary_url, fallback_url = "http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"  # loopback',
        "",
        "",
        "def stack() -> list[Middleware]:",
        "    return [",
        "        Retry(RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.2)),",
        "        CircuitBreaker(fail_max=5, reset_timeout=30),",
        f"        Timeout(idle={IDLE:g}),",
        "    ]",
        "",
        "",
        "client = AsyncClient(",
        f"    middleware=[Tracing(tracer_provider=memory), Timeout(total={TOTAL:g})],",
        "    endpoint=Failover(",
        "        [",
        '            Provider("primary", base_url=primary_url, api_key="sk-...", middleware=stack()),',
        '            Provider("fallback", base_url=fallback_url, api_key="sk-...", middleware=stack()),',
        "        ],",
        '        midstream="restart",',
        "    ),",
        ")",
        "```",
        "",
        "The caller streams (`responses.stream`, every event collected, then "
        "`get_final_response()`), except where the fault is about a non-streaming reply. Columns:",
        "",
        "- **expected**: what a demanding user wants: `fallback` (served by the fallback, nothing "
        "of the primary shown), `fallback (restart)` (a stream broken after events reached the "
        "caller, restarted on the fallback after an `openresponses:stream.restarted` event), "
        "`primary` (served by the primary: a fault it recovers from, or no fault at all), or the "
        "typed error raised.",
        "- **outcome**: what happened (✔ as expected, ✘ not; the misses are listed under the table).",
        "- **time**: from the call to the final response or the error.",
        "- **events**: events the caller received. **dup / lost**: events whose "
        "`sequence_number` was not above the previous one / events of the serving answer that "
        "never arrived (- when an error was raised). A success must carry the serving provider's "
        "full text: a truncated answer reported as success is a miss.",
        "- **calls p / f**: requests the primary / the fallback received.",
        "- **connections closed**: no reply still being written 2 s after the call (a connection "
        "the client abandoned without closing) and no connection open after `client.aclose()`.",
        "- **tasks left**: asyncio tasks started during the call and still running at the end.",
        "- **spans ended**: spans ended / started (an in-memory exporter and a counting processor).",
        "- **gen. to GC**: the library's async generators nobody closed, finalised by the garbage "
        'collector (asyncio then runs their `aclose()` as a task, the source of "Task exception was '
        "never retrieved\" warnings); informational, not a miss. httpx's own byte-stream iterators "
        "are always left to the collector (it closes the response, not its iterators) and are not "
        "counted.",
        "",
        "| scenario | fault | expected | outcome | time | events | dup / lost | calls p / f "
        "| connections closed | tasks left | spans ended | gen. to GC |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
        *(_row(r) for r in results),
        "",
    ]
    misses = [r for r in results if not r.passed]
    if misses:
        lines += ["### Misses", ""]
        for result in misses:
            lines.append(f"- `{result.scenario.name}`: " + "; ".join(_cell(p) for p in result.problems))
        lines.append("")
    lines.append(MARKER)
    return "\n".join(lines) + "\n"


def write(report: str, path: Path = REPORT) -> None:
    """Replace the generated part of ``path``, keeping what follows the marker."""
    footer = DEFAULT_FOOTER
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if MARKER in old:
            footer = old.split(MARKER, 1)[1]
    path.write_text(report + "\n" + footer.lstrip("\n"), encoding="utf-8")


async def run_all(scenarios: Sequence[FaultScenario], *, verbose: bool = True) -> list[Result]:
    """Play ``scenarios`` one after another (fresh servers and client each)."""
    results = []
    for scenario in scenarios:
        result = await run(scenario)
        results.append(result)
        if verbose:
            mark = "ok  " if result.passed else "MISS"
            print(f"{mark} {scenario.name:32} {result.outcome:24} {result.seconds:6.2f}s", flush=True)
            for problem in result.problems:
                print(f"       {problem}", flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these scenarios (implies --stdout)"
    )
    parser.add_argument("--stdout", action="store_true", help="print the page instead of writing it")
    parser.add_argument("--output", type=Path, default=REPORT, help=f"where to write (default {REPORT})")
    args = parser.parse_args(argv)
    scenarios = list(SCENARIOS)
    if args.only:
        unknown = set(args.only) - {s.name for s in SCENARIOS}
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        scenarios = [s for s in SCENARIOS if s.name in args.only]
    start = time.monotonic()
    results = asyncio.run(run_all(scenarios))
    page = render(results, time.monotonic() - start)
    if args.stdout or args.only:
        print(page)
    else:
        write(page, args.output)
        print(f"wrote {args.output} ({sum(r.passed for r in results)}/{len(results)} as expected)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
