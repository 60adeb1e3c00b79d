"""Play one :class:`~tests.faults.scenarios.FaultScenario` through the production stack; measure it.

The stack is the one docs/resilience.md and the README recommend, with its limits scaled down
so the suite is fast (idle 0.5 s instead of 30 s, backoff 50 ms instead of 0.5 s)::

    AsyncClient(
        middleware=[Tracing(tracer_provider=...), Timeout(total=9)],
        endpoint=Failover(
            [Provider("primary", ..., middleware=[Retry(RetryPolicy(attempts=2, base_delay=0.05)),
                                                  CircuitBreaker(fail_max=5, reset_timeout=30),
                                                  Timeout(idle=0.5)]),
             Provider("fallback", ..., middleware=[the same])],
            midstream="restart",
        ),
    )

What is measured (:class:`Result`): the outcome (who served, or which typed error), the time,
the events the caller received (duplicates: a ``sequence_number`` not above the previous one;
lost: events of the serving answer the caller never got), whether a success carried the full
text, replies the servers were still writing after the call (a connection the client abandoned
without closing), connections still open after ``aclose()``, asyncio tasks left behind, spans
started but never ended, errors reported to the loop ("Task exception was never retrieved"),
and whether the primary's API key surfaced in an error, a log record or a span.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from openresponses import AsyncClient, Provider, exporters
from openresponses.exporters import semconv as sc
from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Timeout, Tracing
from openresponses.middleware.failover import RESTARTED_EVENT
from openresponses.transports.http import HTTPBackend
from openresponses.types import Response, StreamEvent

from .scenarios import FALLBACK, IDLE, PRIMARY_KEY, FaultScenario
from .server import FaultServer, answer, refused_port

__all__ = ["FALLBACK_KEY", "TOTAL", "Result", "build_client", "run"]

#: The outermost deadline: a scenario the library does not bound still ends (and fails) by then.
TOTAL = 9.0
FALLBACK_KEY = "sk-fault-fallback-0123456789abcdefABCDEF"
#: How long the servers get to see a connection closed after the client let it go.
_SETTLE = 2.0


class SpanCounter(SpanProcessor):
    """Counts spans started and ended (a span never ended is a leak the exporter cannot show)."""

    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is still a record
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        self.messages.append(text)


@dataclass
class Result:
    """What one scenario did. ``problems`` lists every way it missed its expectation."""

    scenario: FaultScenario
    outcome: str
    seconds: float
    events: int
    duplicates: int
    lost: int | None
    full_text: bool | None
    primary_requests: int
    fallback_requests: int
    wait_reasons: list[str]
    busy_after_call: int
    open_after_close: int
    tasks_left: list[str]
    spans: int
    spans_open: int
    loop_errors: list[str]
    gc_finalised: list[str]
    secret_leaks: list[str]
    error: BaseException | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the scenario met every expectation."""
        return not self.problems


def build_client(
    primary_url: str,
    fallback_url: str,
    tracer_provider: Any,
    *,
    idle: float = IDLE,
    http_backend: HTTPBackend = "httpx",
) -> AsyncClient:
    """The documented production stack, limits scaled down (see the module docstring), its
    providers sending through ``http_backend``."""

    def stack() -> list[Any]:
        return [
            Retry(RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.2)),
            CircuitBreaker(fail_max=5, reset_timeout=30),
            Timeout(idle=idle),
        ]

    return AsyncClient(
        middleware=[Tracing(tracer_provider=tracer_provider), Timeout(total=TOTAL)],
        endpoint=Failover(
            [
                Provider(
                    "primary",
                    base_url=primary_url,
                    api_key=PRIMARY_KEY,
                    middleware=stack(),
                    http_backend=http_backend,
                ),
                Provider(
                    "fallback",
                    base_url=fallback_url,
                    api_key=FALLBACK_KEY,
                    middleware=stack(),
                    http_backend=http_backend,
                ),
            ],
            midstream="restart",
        ),
    )


async def run(scenario: FaultScenario, *, http_backend: HTTPBackend = "httpx") -> Result:
    """Play ``scenario`` with a fresh primary, fallback, client and tracer provider (the
    providers sending through ``http_backend``)."""
    loop = asyncio.get_running_loop()
    loop_errors: list[str] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(_describe(ctx)))
    records = _Records()
    root = logging.getLogger()
    root.addHandler(records)
    fallback = await FaultServer([answer(FALLBACK)]).start()
    primary = await FaultServer(scenario.primary).start() if scenario.primary else None
    servers = [s for s in (primary, fallback) if s is not None]
    primary_url = primary.base_url if primary else f"http://127.0.0.1:{refused_port()}/v1"
    mem = exporters.memory()
    counter = SpanCounter()
    mem.tracer_provider.add_span_processor(counter)
    current = asyncio.current_task()
    baseline = asyncio.all_tasks()
    finalised: list[str] = []
    firstiter, finalizer = sys.get_asyncgen_hooks()

    def on_finalise(agen: Any) -> None:
        # An async generator nobody closed, finalised by the garbage collector (asyncio then runs
        # its aclose() as a task: where "Task exception was never retrieved" comes from).
        # httpx's own byte-stream generators are always left to the GC (it closes the response,
        # not its iterators); only the library's generators are counted.
        code = getattr(agen, "ag_code", None)
        if code is not None and f"{os.sep}openresponses{os.sep}" in code.co_filename:
            finalised.append(getattr(agen, "__qualname__", type(agen).__name__))
        if finalizer is not None:
            finalizer(agen)

    sys.set_asyncgen_hooks(firstiter, on_finalise)
    events: list[StreamEvent] = []
    final: Response | None = None
    served: str | None = None
    error: BaseException | None = None
    try:
        client = build_client(
            primary_url, fallback.base_url, mem.tracer_provider, idle=scenario.idle, http_backend=http_backend
        )
        start = time.monotonic()
        try:
            if scenario.stream:
                async with client.responses.stream(model="m", input="Hello") as stream:
                    async for event in stream:
                        events.append(event)
                    final = await stream.get_final_response()
                    served = stream.provider
            else:
                final = await client.responses.create(model="m", input="Hello")
                served = final.provider
        except Exception as exc:
            error = exc
        seconds = time.monotonic() - start
        await _settle(lambda: sum(s.busy for s in servers) == 0)
        busy = sum(s.busy for s in servers)
        await client.aclose()
        await _settle(lambda: sum(s.open_connections for s in servers) == 0)
        open_after = sum(s.open_connections for s in servers)
        for _ in range(5):
            await asyncio.sleep(0)
        gc.collect()  # a dropped stream or task reports its "never retrieved" exception now
        for _ in range(5):
            await asyncio.sleep(0)
        leftover = [
            repr(t.get_coro())
            for t in asyncio.all_tasks()
            if t not in baseline and t is not current and not t.done()
        ]
        spans = mem.spans()
    finally:
        sys.set_asyncgen_hooks(firstiter, finalizer)
        for server in servers:
            await server.aclose()
        mem.shutdown()
        root.removeHandler(records)
        loop.set_exception_handler(previous_handler)

    result = Result(
        scenario=scenario,
        outcome=_outcome(error, served, final, events),
        seconds=seconds,
        events=len(events),
        duplicates=_duplicates(events),
        lost=None,
        full_text=None,
        primary_requests=len(primary.requests) if primary else 0,
        fallback_requests=len(fallback.requests),
        wait_reasons=_wait_reasons(spans),
        busy_after_call=busy,
        open_after_close=open_after,
        tasks_left=leftover,
        spans=counter.started,
        spans_open=counter.started - counter.ended,
        loop_errors=loop_errors,
        gc_finalised=finalised,
        secret_leaks=_leaks(error, records.messages, spans),
        error=error,
    )
    if final is not None and served is not None:
        expected = scenario.primary_answer if served == "primary" else FALLBACK
        received = _after_restart(events)
        if scenario.stream:
            text = "".join(
                getattr(e, "delta", "") for e in received if e.type == "response.output_text.delta"
            )
            result.full_text = text == expected.text and final.output_text == expected.text
            result.lost = max(0, len(expected.events()) - len(received))
        else:
            result.full_text = final.output_text == expected.text
            result.lost = 0
    result.problems = check(result)
    return result


def check(result: Result) -> list[str]:
    """Every way ``result`` misses its scenario's expectation (empty: it passed)."""
    expect = result.scenario.expect
    problems: list[str] = []
    if result.outcome not in expect.outcomes:
        detail = f": {type(result.error).__name__}: {_first_line(result.error)}" if result.error else ""
        problems.append(
            f"outcome {result.outcome!r}, expected {' or '.join(map(repr, expect.outcomes))}{detail}"
        )
    if result.seconds > expect.within:
        problems.append(f"took {result.seconds:.2f}s, more than the {expect.within:g}s bound")
    if result.duplicates:
        problems.append(
            f"{result.duplicates} event(s) whose sequence_number did not increase reached the caller"
        )
    if result.lost:
        problems.append(f"{result.lost} event(s) of the serving answer never reached the caller")
    if result.full_text is False:
        problems.append("a success whose text is not the serving provider's full text")
    if result.busy_after_call:
        problems.append(
            f"{result.busy_after_call} reply(ies) still being written {_SETTLE:g}s after the call: "
            "an abandoned connection was not closed"
        )
    if result.open_after_close:
        problems.append(f"{result.open_after_close} connection(s) still open after client.aclose()")
    if result.tasks_left:
        problems.append(f"tasks left running: {', '.join(result.tasks_left)}")
    if result.spans_open:
        problems.append(f"{result.spans_open} span(s) never ended")
    if result.loop_errors:
        problems.append(f"errors reported to the event loop: {'; '.join(result.loop_errors)}")
    if result.secret_leaks:
        problems.append(f"the API key appeared in: {', '.join(result.secret_leaks)}")
    if expect.primary_requests is not None and result.primary_requests != expect.primary_requests:
        problems.append(
            f"primary called {result.primary_requests} time(s), expected {expect.primary_requests}"
        )
    if expect.fallback_requests is not None and result.fallback_requests != expect.fallback_requests:
        problems.append(
            f"fallback called {result.fallback_requests} time(s), expected {expect.fallback_requests}"
        )
    if expect.wait_reason is not None and result.wait_reasons[:1] != [expect.wait_reason]:
        problems.append(f"retry wait reason {result.wait_reasons[:1]}, expected [{expect.wait_reason!r}]")
    return problems


# -- measuring ------------------------------------------------------------------------------------


async def _settle(predicate: Callable[[], bool], timeout: float = _SETTLE) -> None:
    deadline = time.monotonic() + timeout
    # Polled: the counters live on servers that signal nothing.
    while not predicate() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)


def _outcome(
    error: BaseException | None, served: str | None, final: Response | None, events: list[StreamEvent]
) -> str:
    if error is not None:
        return type(error).__name__
    label = served or "?"
    if any(e.type == RESTARTED_EVENT for e in events):
        label += " (restart)"
    if final is not None and final.status != "completed":
        label += f" ({final.status})"
    return label


def _duplicates(events: list[StreamEvent]) -> int:
    count = 0
    last: int | None = None
    for event in events:
        seq = getattr(event, "sequence_number", None)
        if not isinstance(seq, int):
            continue
        if last is not None and seq <= last:
            count += 1
        last = seq if last is None else max(last, seq)
    return count


def _after_restart(events: list[StreamEvent]) -> list[StreamEvent]:
    marks = [i for i, e in enumerate(events) if e.type == RESTARTED_EVENT]
    return events[marks[-1] + 1 :] if marks else events


def _wait_reasons(spans: tuple[ReadableSpan, ...]) -> list[str]:
    reasons = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        value = (span.attributes or {}).get(sc.OR_ATTEMPT_WAIT_REASON)
        if span.name.startswith("attempt ") and value is not None:
            reasons.append(str(value))
    return reasons


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error] if error is not None else []
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        todo.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
        if isinstance(exc, BaseExceptionGroup):
            todo.extend(exc.exceptions)


def _leaks(error: BaseException | None, messages: list[str], spans: tuple[ReadableSpan, ...]) -> list[str]:
    where: list[str] = []
    for exc in _chain(error):
        texts = [str(exc), repr(exc), *getattr(exc, "__notes__", ())]
        if any(PRIMARY_KEY in t for t in texts):
            where.append(f"{type(exc).__name__} message/notes")
    if any(PRIMARY_KEY in m for m in messages):
        where.append("a log record")
    for span in spans:
        blob = repr(dict(span.attributes or {})) + repr(
            [(e.name, dict(e.attributes or {})) for e in span.events]
        )
        blob += span.status.description or ""
        if PRIMARY_KEY in blob:
            where.append(f"span {span.name!r}")
    return where


def _describe(context: dict[str, Any]) -> str:
    exc = context.get("exception")
    return f"{context.get('message', '')}: {exc!r}" if exc is not None else str(context.get("message", ""))


def _first_line(error: BaseException | None) -> str:
    return str(error).splitlines()[0][:200] if error is not None and str(error) else ""
