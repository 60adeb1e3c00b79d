"""Tracing with the real Retry, Failover and CircuitBreaker: their decisions show up on the spans."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from openresponses import AsyncClient, Provider, exporters
from openresponses.exporters import semconv as sc
from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Tracing
from openresponses.testing import FakeClock, ScriptedServer, ScriptedTransport, reset_mid_stream, status, text


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def test_real_retry_after_429() -> None:
    mem = exporters.memory()
    transport = ScriptedTransport([status(429, retry_after=1), text("Hi")], name="primary")
    retry = Retry(RetryPolicy(attempts=3, jitter="none"), clock=FakeClock())
    client = AsyncClient(
        transport=transport, middleware=[Tracing(tracer_provider=mem.tracer_provider), retry]
    )
    async with client.responses.stream(model="m", input="x") as stream:
        assert (await stream.get_final_response()).output_text == "Hi"
    spans = mem.spans()
    (first,) = named(spans, "attempt 1 primary")
    (second,) = named(spans, "attempt 2 primary")
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})[sc.ERROR_TYPE] == "429"
    b = dict(second.attributes or {})
    assert b[sc.OR_ATTEMPT_REASON] == "retry"
    assert b[sc.OR_ATTEMPT_WAIT] == pytest.approx(1.0)
    assert b[sc.OR_ATTEMPT_WAIT_REASON] == "retry-after"
    (call,) = named(spans, "chat m")
    assert (call.attributes or {})[sc.OR_RETRIES] == 1
    assert (call.attributes or {})[sc.OR_ATTEMPTS] == 2
    assert [e.name for e in call.events] == ["retry"]


async def test_real_failover_and_breaker() -> None:
    mem = exporters.memory()
    a = ScriptedTransport([status(500), status(500)], name="a")
    b = ScriptedTransport([text("from b"), text("from b again")], name="b")
    failover = Failover(
        [
            Provider("a", transport=a, middleware=[CircuitBreaker(fail_max=1, reset_timeout=60)]),
            Provider("b", transport=b),
        ]
    )
    client = AsyncClient(middleware=[Tracing(tracer_provider=mem.tracer_provider), failover])
    first = await client.responses.create(model="m", input="x")
    assert first.output_text == "from b"
    second = await client.responses.create(model="m", input="y")
    assert second.output_text == "from b again"
    assert a.calls == 1  # the open breaker kept the second call away from a

    calls = named(mem.spans(), "chat m")
    assert len(calls) == 2
    one, two = (dict(c.attributes or {}) for c in calls)
    assert one[sc.OR_PROVIDER] == "b" and one[sc.OR_ATTEMPTS] == 2 and one[sc.OR_FAILOVERS] == 1
    assert "failover" in [e.name for e in calls[0].events]
    breaker = [e for e in calls[0].events if e.name == "breaker"]
    assert breaker and (breaker[0].attributes or {})["openresponses.breaker.state"] == "open"
    # Second call: rejected by the breaker, served by b in one attempt.
    assert [e.name for e in calls[1].events][:1] == ["breaker.rejected"]
    assert two[sc.OR_PROVIDER] == "b" and two[sc.OR_ATTEMPTS] == 1
    attempts_b = named(mem.spans(), "attempt 2 b")
    assert attempts_b and (attempts_b[0].attributes or {})[sc.OR_ATTEMPT_REASON] == "failover"
    assert (attempts_b[0].attributes or {})[sc.OR_ATTEMPT_FROM] == "a"


# -- an abandoned recovering stream is closed once (defect 8) -----------------------------------


class _SpanCounter(SpanProcessor):
    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started += 1

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


@pytest.mark.parametrize("midstream", ["restart", "continue"])
@pytest.mark.parametrize("how", ["break", "drop", "own-cycle"])
async def test_an_abandoned_stream_under_tracing_and_recovery_is_closed_once(
    midstream: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Break out of `async for` without closing, or drop the stream, over and over: each source
    # generator must be closed exactly once (a second close from asyncio's finalizer task failed
    # with "aclose(): asynchronous generator is already running", never retrieved). "own-cycle":
    # the caller's own reference cycle leaves everything to the cyclic GC at once.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    counter = _SpanCounter()
    mem = exporters.memory()
    mem.tracer_provider.add_span_processor(counter)
    words = " ".join(f"w{i}" for i in range(60))
    close = {"connection": "close"}
    try:
        async with (
            ScriptedServer(default=text(words, event_delay=0.002)) as a,
            ScriptedServer(default=text(words, event_delay=0.002)) as b,
        ):
            providers = [Provider("a", a.base_url, headers=close), Provider("b", b.base_url, headers=close)]
            failover = Failover(providers, midstream=midstream)  # type: ignore[arg-type]
            async with AsyncClient(
                middleware=[Tracing(tracer_provider=mem.tracer_provider)], endpoint=failover
            ) as client:
                stream: Any = None
                for i in range(8):
                    if i % 2:
                        a.push(reset_mid_stream(after_events=5))  # recovered on b, then abandoned
                    stream = await client.responses.create(model="m", input="x", stream=True)
                    gc.collect()  # the previous iteration's stream, dropped by the rebinding
                    if how == "own-cycle":
                        held = stream
                        stream.events.tap(on_end=lambda _end, held=held: held)
                    deltas = 0
                    async for event in stream:
                        deltas += event.type == "response.output_text.delta"
                        if deltas == 3 + (i % 2) * 3:  # past the recovery, when there is one
                            break
                    if how != "break":
                        del stream
                        held = None
                        gc.collect()
                    await asyncio.sleep(0.01)
                stream = None
                gc.collect()
                for _ in range(20):
                    await asyncio.sleep(0.01)  # let asyncio's finalizer tasks run
                await a.wait_until(lambda s: s.open_connections == 0)
                await b.wait_until(lambda s: s.open_connections == 0)
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
    for phrase in ("never retrieved", "already running", "RuntimeError"):
        assert phrase not in caplog.text
    assert counter.started > 0 and counter.ended == counter.started
