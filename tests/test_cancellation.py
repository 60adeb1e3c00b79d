"""Cancelling the caller's task at any point leaves nothing behind.

Before the headers, mid-stream, in a retry's backoff wait, during a hedge and during a mid-stream
recovery, through the full stack (Tracing, Retry, Timeout, Failover) over real loopback HTTP: no
task is left pending, every connection is closed (the servers see it), every span that started
has ended, and nothing is reported to the loop's exception handler ("Task exception was never
retrieved", "Task was destroyed but it is pending!").

The providers send ``Connection: close`` so that a finished exchange closes its connection: an
open connection on the server afterwards is one the client never released. Every scripted
reply is long (a silent server, or hundreds of slow events), so the server never ends it first.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from openresponses import AsyncClient, Provider, exporters
from openresponses.middleware import Failover, Retry, RetryPolicy, Timeout, Tracing
from openresponses.testing import ScriptedServer, reset_mid_stream, status, text

SILENT = text("never", delay=3600.0)
SLOW = text(" ".join(f"w{i}" for i in range(400)), event_delay=0.05)
CLOSE = {"connection": "close"}


class SpanCounter(SpanProcessor):
    """Counts spans started and ended."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.ended: list[str] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started.append(span.name)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span.name)


@dataclass
class Harness:
    """What a scenario is checked against once the caller's task was cancelled."""

    spans: SpanCounter = field(default_factory=SpanCounter)
    reported: list[dict[str, Any]] = field(default_factory=list)
    servers: list[ScriptedServer] = field(default_factory=list)
    tasks_before: set[asyncio.Task[Any]] = field(default_factory=set)

    def tracing(self) -> Tracing:
        mem = exporters.memory()
        mem.tracer_provider.add_span_processor(self.spans)
        return Tracing(tracer_provider=mem.tracer_provider)

    async def check(self, caplog: pytest.LogCaptureFixture) -> None:
        gc.collect()  # whatever the cancelled call dropped is finalized now
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            left = asyncio.all_tasks() - self.tasks_before - {asyncio.current_task()}
            if not left and all(s.open_connections == 0 for s in self.servers):
                break
        left = asyncio.all_tasks() - self.tasks_before - {asyncio.current_task()}
        assert not left, f"tasks left pending: {left}"
        for server in self.servers:
            assert server.open_connections == 0, f"a connection was never closed: {server!r}"
        assert sorted(self.spans.ended) == sorted(self.spans.started), "a span never ended"
        assert self.spans.started, "the call was not traced"
        assert self.reported == [], f"reported to the loop: {self.reported}"
        text_ = caplog.text
        for phrase in ("never retrieved", "destroyed but it is pending", "already running", "RuntimeError"):
            assert phrase not in text_


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    loop = asyncio.get_running_loop()
    h = Harness()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: h.reported.append(context))
    try:
        async with ScriptedServer() as a, ScriptedServer() as b:
            h.servers = [a, b]
            h.tasks_before = set(asyncio.all_tasks())
            yield h
    finally:
        loop.set_exception_handler(previous)


async def consume(client: AsyncClient, seen: asyncio.Event) -> None:
    """The caller: a stream read to the end, ``seen`` set at the first delta."""
    async with client.responses.stream(model="m", input="x") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                seen.set()


async def cancel_when(task: asyncio.Task[None], ready: Callable[[], Awaitable[object]]) -> None:
    """Cancel ``task`` once ``ready()`` returned; the task must end cancelled."""
    await asyncio.wait_for(ready(), 10.0)
    await asyncio.sleep(0.05)  # let the call settle into the wait we target
    assert not task.done(), task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def provider(name: str, server: ScriptedServer, **options: Any) -> Provider:
    return Provider(name, server.base_url, headers=CLOSE, **options)


async def test_cancelled_before_the_headers(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    a, b = harness.servers
    a.push(SILENT)
    b.push(SLOW)
    failover = Failover([provider("a", a), provider("b", b)], midstream="restart")
    async with AsyncClient(
        middleware=[harness.tracing(), Retry(), Timeout(idle=30)], endpoint=failover
    ) as client:
        task = asyncio.create_task(consume(client, asyncio.Event()))
        await cancel_when(task, lambda: a.wait_until(lambda s: len(s.requests) == 1))
        await harness.check(caplog)
    assert len(b.requests) == 0


async def test_cancelled_mid_stream(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    a, b = harness.servers
    a.push(SLOW)
    failover = Failover([provider("a", a), provider("b", b)], midstream="continue")
    async with AsyncClient(
        middleware=[harness.tracing(), Retry(), Timeout(idle=30)], endpoint=failover
    ) as client:
        seen = asyncio.Event()
        task = asyncio.create_task(consume(client, seen))
        await cancel_when(task, seen.wait)
        await harness.check(caplog)


async def test_cancelled_mid_stream_without_a_context_manager(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # The caller iterates without `async with` (nothing closes the stream but its own end).
    a, b = harness.servers
    a.push(SLOW)
    failover = Failover([provider("a", a), provider("b", b)], midstream="restart")
    seen = asyncio.Event()

    async def bare(client: AsyncClient) -> None:
        stream = await client.responses.create(model="m", input="x", stream=True)
        async for event in stream:
            if event.type == "response.output_text.delta":
                seen.set()

    async with AsyncClient(middleware=[harness.tracing(), Retry()], endpoint=failover) as client:
        task = asyncio.create_task(bare(client))
        await cancel_when(task, seen.wait)
        await harness.check(caplog)


async def test_cancelled_in_a_retry_backoff_wait(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    a, _ = harness.servers
    a.push(status(503))
    waiting = asyncio.Event()
    retry = Retry(RetryPolicy(attempts=3, base_delay=60.0, jitter="none", on_retry=lambda _e: waiting.set()))
    async with AsyncClient(
        middleware=[harness.tracing(), retry, Timeout(idle=30)], endpoint=provider("a", a)
    ) as client:
        task = asyncio.create_task(consume(client, asyncio.Event()))
        await cancel_when(task, waiting.wait)
        await harness.check(caplog)
    assert len(a.requests) == 1


async def test_cancelled_during_a_hedge(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    a, b = harness.servers
    a.push(SILENT)
    b.push(SILENT)
    failover = Failover([provider("a", a), provider("b", b)], hedge_after=0.05)

    async def both_asked() -> None:
        await a.wait_until(lambda s: len(s.requests) == 1)
        await b.wait_until(lambda s: len(s.requests) == 1)

    async with AsyncClient(middleware=[harness.tracing(), Retry()], endpoint=failover) as client:
        task = asyncio.create_task(consume(client, asyncio.Event()))
        await cancel_when(task, both_asked)
        await harness.check(caplog)


async def test_cancelled_during_a_mid_stream_recovery(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # a breaks after four events; the restart on b waits for headers that never come.
    a, b = harness.servers
    a.push(reset_mid_stream(after_events=4))
    b.push(SILENT)
    failover = Failover([provider("a", a), provider("b", b)], midstream="restart")
    async with AsyncClient(
        middleware=[harness.tracing(), Retry(), Timeout(idle=30)], endpoint=failover
    ) as client:
        task = asyncio.create_task(consume(client, asyncio.Event()))
        await cancel_when(task, lambda: b.wait_until(lambda s: len(s.requests) == 1))
        await harness.check(caplog)


async def test_cancelled_during_a_hedged_mid_stream_recovery(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async with ScriptedServer() as c:
        harness.servers.append(c)
        a, b = harness.servers[:2]
        a.push(reset_mid_stream(after_events=4))
        b.push(SILENT)
        c.push(SILENT)
        failover = Failover(
            [provider("a", a), provider("b", b), provider("c", c)], midstream="restart", hedge_after=0.05
        )

        async def both_asked() -> None:
            await b.wait_until(lambda s: len(s.requests) == 1)
            await c.wait_until(lambda s: len(s.requests) == 1)

        async with AsyncClient(middleware=[harness.tracing()], endpoint=failover) as client:
            task = asyncio.create_task(consume(client, asyncio.Event()))
            await cancel_when(task, both_asked)
            await harness.check(caplog)


async def test_cancelled_twice_during_a_hedge(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    # A second cancel while the hedge closes its attempts (a TaskGroup or timeout racing the
    # caller's own cancel) must not orphan them.
    a, b = harness.servers
    a.push(SILENT)
    b.push(SILENT)
    failover = Failover([provider("a", a), provider("b", b)], hedge_after=0.05)
    async with AsyncClient(middleware=[harness.tracing()], endpoint=failover) as client:
        task = asyncio.create_task(consume(client, asyncio.Event()))
        await asyncio.wait_for(b.wait_until(lambda s: len(s.requests) == 1), 10.0)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await harness.check(caplog)


@pytest.mark.parametrize("point", ["headers", "mid-stream"])
async def test_cancelled_by_an_enclosing_timeout(
    harness: Harness, caplog: pytest.LogCaptureFixture, point: str
) -> None:
    # asyncio.timeout cancels the task from the inside and turns it into a TimeoutError.
    a, b = harness.servers
    a.push(SILENT if point == "headers" else SLOW)
    failover = Failover([provider("a", a), provider("b", b)], midstream="restart")
    async with AsyncClient(middleware=[harness.tracing(), Retry()], endpoint=failover) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.4):
                await consume(client, asyncio.Event())
        await harness.check(caplog)


def test_the_logs_are_captured(caplog: pytest.LogCaptureFixture) -> None:
    # The harness relies on asyncio's logger reaching caplog.
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    assert "never retrieved" in caplog.text
