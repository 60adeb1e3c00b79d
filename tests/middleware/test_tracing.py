"""Tracing: exact span trees and attributes, every way a stream can end, content and secrets."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from openresponses import (
    APIConnectionError,
    AsyncClient,
    Client,
    RateLimitError,
    ResponseFailedError,
)
from openresponses._emit import EventBuilder, emit_response
from openresponses._pipeline import AttemptBoundary, Handler, Reply, Request, Target
from openresponses._sse import encode_event
from openresponses._streaming import EventStream
from openresponses.exporters import semconv as sc
from openresponses.middleware import Tracing
from openresponses.transports.http import HTTPTransport
from openresponses.types import Response, StreamEvent

USAGE = {
    "input_tokens": 11,
    "output_tokens": 21,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens_details": {"reasoning_tokens": 7},
}

# -- helpers ---------------------------------------------------------------------------------------


class Recorder:
    """A fresh TracerProvider with an in-memory exporter (never the global provider)."""

    def __init__(self, limits: SpanLimits | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(span_limits=limits)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        kids = [
            s for s in self.spans() if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]
        return sorted(kids, key=lambda s: s.start_time)

    def tree(self) -> list[tuple[int, str]]:
        """(depth, name) in start order, depth-first: the exact shape of the trace."""
        spans = self.spans()
        ids = {s.context.span_id for s in spans}
        roots = sorted(
            (s for s in spans if s.parent is None or s.parent.span_id not in ids), key=lambda s: s.start_time
        )
        out: list[tuple[int, str]] = []

        def walk(span: ReadableSpan, depth: int) -> None:
            out.append((depth, span.name))
            for kid in self.children(span):
                walk(kid, depth + 1)

        for root in roots:
            walk(root, 0)
        return out


def rich_events() -> list[StreamEvent]:
    """Reasoning, then a message, then a function call (README §11 C + B)."""
    b = EventBuilder(model="m-2025")
    b.created()
    b.in_progress()
    r = b.start_reasoning()
    for piece in ("Think", "ing ", "hard"):
        b.summary(r, piece)
    b.end_item(r)
    m = b.start_message()
    for piece in ("Hel", "lo ", "wörld"):
        b.text(m, piece)
    b.end_item(m)
    f = b.start_function_call("get_weather", call_id="call_42")
    b.arguments(f, '{"loc')
    b.arguments(f, '":"Paris"}')
    b.end_item(f)
    b.complete(usage=USAGE)
    return b.drain()


def text_events(
    pieces: Sequence[str] = ("Hi", " there"), *, usage: dict[str, Any] | None = None
) -> list[StreamEvent]:
    b = EventBuilder(model="m-2025")
    b.created()
    b.in_progress()
    m = b.start_message()
    for piece in pieces:
        b.text(m, piece)
    b.end_item(m)
    b.complete(usage=usage or USAGE)
    return b.drain()


def final_response(events: list[StreamEvent]) -> Response:
    response = events[-1].response  # type: ignore[union-attr]
    assert isinstance(response, Response)
    return response


class LocalTransport:
    """An in-process transport: each call pops the next outcome (events, a Response, or an error)."""

    def __init__(self, *outcomes: Any, name: str = "p", base_url: str = "http://api.example:8443/v1") -> None:
        self.outcomes = list(outcomes)
        self.target = Target(name, base_url)
        self.requests: list[Request] = []
        self.gate: asyncio.Event | None = None
        self.batch = 1  # events per source batch (one network chunk)

    async def __call__(self, request: Request, /) -> Reply:
        self.requests.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        if isinstance(outcome, Response):
            return outcome
        events: list[StreamEvent] = list(outcome)
        gate = self.gate
        size = self.batch

        async def source() -> AsyncIterator[list[StreamEvent]]:
            for index in range(0, len(events), size):
                if gate is not None and index == 4:
                    await gate.wait()  # blocks forever unless set: for cancellation tests
                yield events[index : index + size]

        return EventStream(source(), provider=self.target.provider)

    async def aclose(self) -> None:
        return None


class RetryOnce:
    """A stand-in for Retry: records the decision the way the real middleware does, then retries."""

    def __init__(self, wait_s: float = 0.5) -> None:
        self.wait_s = wait_s

    async def __call__(self, request: Request, call_next: Handler, /) -> Reply:
        try:
            return await call_next(request)
        except RateLimitError as exc:
            request.context.record(
                "retry",
                {"attempt": request.context.attempts + 1, "wait_s": self.wait_s, "reason": "retry-after",
                 "error.type": str(exc.status_code)},
            )  # fmt: skip
            return await call_next(request)


class TwoProviders:
    """A stand-in for Failover (an endpoint): provider ``a`` then ``b``, each behind an AttemptBoundary.

    It records decisions in the 0.1 spelling (``record(kind, attributes)``), which must keep
    reaching Tracing as the typed decisions.
    """

    def __init__(self, a: LocalTransport, b: LocalTransport, *, breaker_open_for_a: bool = False) -> None:
        self.a, self.b = AttemptBoundary(a), AttemptBoundary(b)
        self.breaker_open_for_a = breaker_open_for_a

    async def __call__(self, request: Request, /) -> Reply:
        context = request.context
        if self.breaker_open_for_a:
            context.record("breaker", {"provider": "a", "state": "open", "previous": "closed"})
            context.record("breaker.rejected", {"provider": "a", "reopens_in_s": 30.0})
            context.record("failover", {"from": "a", "to": "b", "reason": "CircuitOpenError"})
            return await self.b(request)
        try:
            return await self.a(request)
        except APIConnectionError as exc:
            context.record("failover", {"from": "a", "to": "b", "reason": type(exc).__name__})
            context.record("breaker", {"provider": "b", "state": "half-open", "previous": "open"})
            return await self.b(request)


def client_for(transport: LocalTransport, tracing: Tracing, *extra: Any) -> AsyncClient:
    return AsyncClient(transport=transport, middleware=[tracing, *extra])


def all_strings(spans: Sequence[ReadableSpan]) -> list[str]:
    """Every attribute and event value of every span, and the span names, as text."""
    out: list[str] = []
    for span in spans:
        out.append(span.name)
        values: list[Any] = list((span.attributes or {}).values())
        for event in span.events:
            out.append(event.name)
            values.extend((event.attributes or {}).values())
        if span.status.description:
            out.append(span.status.description)
        for value in values:
            out.extend(str(v) for v in value) if isinstance(value, tuple | list) else out.append(str(value))
    return out


# -- non-stream ------------------------------------------------------------------------------------


async def test_non_stream_success_span_tree_and_attributes() -> None:
    rec = Recorder()
    response = final_response(text_events())
    transport = LocalTransport(response)
    client = client_for(transport, Tracing(tracer_provider=rec.provider))
    got = await client.responses.create(
        model="m", input="Hello", temperature=0.2, top_p=0.9, max_output_tokens=64
    )
    assert got.output_text == "Hi there"

    assert rec.tree() == [(0, "chat m"), (1, "attempt 1 p")]
    call = rec.one("chat m")
    assert call.kind is SpanKind.CLIENT
    assert call.status.status_code is StatusCode.UNSET
    a = dict(call.attributes or {})
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "p"
    assert a[sc.GEN_AI_REQUEST_MODEL] == "m"
    assert a[sc.GEN_AI_REQUEST_STREAM] is False
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == pytest.approx(0.2)
    assert a[sc.GEN_AI_REQUEST_TOP_P] == pytest.approx(0.9)
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[sc.GEN_AI_RESPONSE_ID] == response.id
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "m-2025"
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 21
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 7
    assert a[sc.SERVER_ADDRESS] == "api.example"
    assert a[sc.SERVER_PORT] == 8443
    assert a[sc.OR_ATTEMPTS] == 1
    assert a[sc.OR_PROVIDER] == "p"
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in a  # not a stream
    attempt = rec.one("attempt 1 p")
    b = dict(attempt.attributes or {})
    assert b[sc.OR_ATTEMPT_NUMBER] == 1
    assert b[sc.OR_ATTEMPT_REASON] == "first"
    assert b[sc.OR_ATTEMPT_OUTCOME] == "ok"
    assert b[sc.GEN_AI_PROVIDER_NAME] == "p"
    assert b[sc.SERVER_ADDRESS] == "api.example"


# -- streams ---------------------------------------------------------------------------------------


async def test_stream_with_reasoning_message_and_function_call() -> None:
    rec = Recorder()
    events = rich_events()
    client = client_for(LocalTransport(events), Tracing(tracer_provider=rec.provider))
    async with client.responses.stream(model="m", input="Weather?") as stream:
        final = await stream.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]

    assert rec.tree() == [
        (0, "chat m"),
        (1, "attempt 1 p"),
        (2, "reasoning"),
        (2, "message"),
        (2, "function_call get_weather"),
    ]
    call = rec.one("chat m")
    a = dict(call.attributes or {})
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[sc.GEN_AI_RESPONSE_ID] == final.id
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 7
    assert a[sc.OR_STREAM_DELTAS] == 8
    assert a[sc.OR_STREAM_ITEMS] == 3
    assert a[sc.OR_STREAM_EVENTS] == len(events)
    assert sc.OR_STREAM_ABANDONED not in a
    ttft = a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttft, float) and 0 < ttft < (call.end_time - call.start_time) / 1e9  # type: ignore[operator]

    attempt = rec.one("attempt 1 p")
    assert [e.name for e in attempt.events] == [
        "response.created",
        "response.in_progress",
        sc.EVENT_FIRST_CHUNK,
        "response.completed",
    ]
    assert (attempt.attributes or {})[sc.OR_ATTEMPT_OUTCOME] == "ok"

    reasoning, message, call_item = rec.children(attempt)
    assert (reasoning.attributes or {})[sc.OR_ITEM_DELTAS] == 3
    assert (reasoning.attributes or {})[sc.OR_ITEM_STATUS] == "completed"
    assert [e.name for e in reasoning.events] == [
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
    ]
    m = dict(message.attributes or {})
    assert m[sc.OR_ITEM_TYPE] == "message"
    assert m[sc.OR_ITEM_OUTPUT_INDEX] == 1
    assert m[sc.OR_ITEM_DELTAS] == 3
    assert m[sc.OR_ITEM_DELTA_BYTES] == len("Hello wörld".encode())  # bytes, not characters
    assert [e.name for e in message.events] == ["response.content_part.added", "response.content_part.done"]
    f = dict(call_item.attributes or {})
    assert f[sc.GEN_AI_TOOL_NAME] == "get_weather"
    assert f[sc.GEN_AI_TOOL_CALL_ID] == "call_42"
    assert f[sc.OR_ITEM_DELTAS] == 2
    assert sc.GEN_AI_TOOL_CALL_ARGUMENTS not in f  # content is opt-in
    # Items are ordered in time and nested inside the attempt.
    assert attempt.start_time <= reasoning.start_time <= reasoning.end_time <= message.start_time  # type: ignore[operator]
    assert call_item.end_time <= attempt.end_time <= call.end_time  # type: ignore[operator]


async def test_coalesced_chunks_keep_the_span_events_in_order_and_ttft_consistent() -> None:
    rec = Recorder()
    transport = LocalTransport(rich_events())
    transport.batch = 7  # lifecycle events and the first deltas arrive together
    client = client_for(transport, Tracing(tracer_provider=rec.provider))
    async with client.responses.stream(model="m", input="Weather?") as stream:
        await stream.get_final_response()
    attempt, call = rec.one("attempt 1 p"), rec.one("chat m")
    assert [e.name for e in attempt.events] == [
        "response.created",
        "response.in_progress",
        sc.EVENT_FIRST_CHUNK,
        "response.completed",
    ]
    first_chunk = attempt.events[2]
    ttft = (attempt.attributes or {})[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert (first_chunk.attributes or {})[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == ttft
    assert attempt.start_time <= first_chunk.timestamp <= attempt.events[3].timestamp  # type: ignore[operator]
    a = dict(call.attributes or {})
    assert a[sc.OR_STREAM_DELTAS] == 8
    assert 0 < a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (call.end_time - call.start_time) / 1e9  # type: ignore[operator]
    counts = {s.name: (s.attributes or {})[sc.OR_ITEM_DELTAS] for s in rec.children(attempt)}
    assert counts == {"reasoning": 3, "message": 3, "function_call get_weather": 2}


async def test_break_out_of_stream_ends_every_span_marked_abandoned() -> None:
    rec = Recorder()
    client = client_for(
        LocalTransport(text_events(["a", "b", "c", "d"])), Tracing(tracer_provider=rec.provider)
    )
    async with client.responses.stream(model="m", input="x") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                break
    call, attempt, message = rec.one("chat m"), rec.one("attempt 1 p"), rec.one("message")
    assert (call.attributes or {})[sc.OR_STREAM_ABANDONED] is True
    assert (call.attributes or {})[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert (call.attributes or {})[sc.OR_STREAM_DELTAS] == 1
    assert call.status.status_code is StatusCode.UNSET  # the caller chose to stop: not an error
    assert (attempt.attributes or {})[sc.OR_ATTEMPT_OUTCOME] == "abandoned"
    assert (message.attributes or {})[sc.OR_ITEM_ENDED_BY] == "abandoned"
    assert (message.attributes or {})[sc.OR_ITEM_DELTAS] == 1
    assert (message.attributes or {})[sc.OR_ITEM_DELTA_BYTES] == 1  # "a", from the partial snapshot


async def test_dropped_stream_still_ends_its_spans() -> None:
    rec = Recorder()
    client = client_for(LocalTransport(text_events(["a", "b", "c"])), Tracing(tracer_provider=rec.provider))
    stream = await client.responses.create(model="m", input="x", stream=True)
    received = [await stream.__anext__() for _ in range(5)]
    assert received[-1].type == "response.output_text.delta"
    assert rec.spans() == ()  # nothing ended yet
    del stream, received
    gc.collect()
    call = rec.one("chat m")
    assert (call.attributes or {})[sc.OR_STREAM_ABANDONED] is True
    assert (call.attributes or {})[sc.OR_STREAM_EVENTS] == 5
    assert (rec.one("attempt 1 p").attributes or {})[sc.OR_ATTEMPT_OUTCOME] == "abandoned"
    assert (rec.one("message").attributes or {})[sc.OR_ITEM_ENDED_BY] == "abandoned"


async def test_cancelled_consumer_ends_spans() -> None:
    rec = Recorder()
    transport = LocalTransport(text_events(["a", "b", "c"]))
    transport.gate = asyncio.Event()  # the stream stalls after 4 events
    client = client_for(transport, Tracing(tracer_provider=rec.provider))
    got: list[str] = []
    four = asyncio.Event()

    async def consume() -> None:
        async with client.responses.stream(model="m", input="x") as stream:
            async for event in stream:
                got.append(event.type)
                if len(got) == 4:
                    four.set()

    task = asyncio.create_task(consume())
    await four.wait()
    await asyncio.sleep(0)  # let the consumer block on the stalled stream
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    call = rec.one("chat m")
    assert (call.attributes or {})[sc.OR_STREAM_ABANDONED] is True
    assert (rec.one("attempt 1 p").attributes or {})[sc.OR_ATTEMPT_OUTCOME] == "abandoned"
    assert len(rec.spans()) == 3  # call, attempt, message: all ended


async def test_error_event_mid_stream() -> None:
    rec = Recorder()
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    m = b.start_message()
    b.text(m, "partial")
    b.fail("The model crashed", code="server_error")
    events = b.drain()
    client = client_for(LocalTransport(events), Tracing(tracer_provider=rec.provider))
    seen: list[str] = []
    with pytest.raises(ResponseFailedError):
        async with client.responses.stream(model="m", input="x") as stream:
            async for event in stream:
                seen.append(event.type)
    assert "response.output_text.delta" in seen
    call, attempt = rec.one("chat m"), rec.one("attempt 1 p")
    assert call.status.status_code is StatusCode.ERROR
    a = dict(call.attributes or {})
    assert a[sc.ERROR_TYPE] == "server_error"
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert [e.name for e in call.events] == ["exception"]
    assert attempt.status.status_code is StatusCode.ERROR
    assert (attempt.attributes or {})[sc.OR_ATTEMPT_OUTCOME] == "error"
    assert "error" in [e.name for e in attempt.events]
    message = rec.one("message")
    assert (message.attributes or {})[sc.OR_ITEM_STATUS] == "incomplete"


async def test_stream_without_terminal_event_is_an_error() -> None:
    rec = Recorder()
    events = text_events()[:-1]  # no response.completed
    client = client_for(LocalTransport(events), Tracing(tracer_provider=rec.provider))
    with pytest.raises(Exception, match="terminal event"):
        async with client.responses.stream(model="m", input="x") as stream:
            async for _ in stream:
                pass
    a = dict(rec.one("chat m").attributes or {})
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("error",)
    assert a[sc.ERROR_TYPE] == "ProtocolError"


# -- resilience decisions --------------------------------------------------------------------------


async def test_retry_then_success() -> None:
    rec = Recorder()
    limited = RateLimitError("HTTP 429", status_code=429, retry_after=0.5, provider="p")
    transport = LocalTransport(limited, text_events())
    client = client_for(transport, Tracing(tracer_provider=rec.provider), RetryOnce(wait_s=0.5))
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()

    assert rec.tree() == [(0, "chat m"), (1, "attempt 1 p"), (1, "attempt 2 p"), (2, "message")]
    first, second = rec.one("attempt 1 p"), rec.one("attempt 2 p")
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})[sc.ERROR_TYPE] == "429"
    assert (first.attributes or {})[sc.OR_ATTEMPT_OUTCOME] == "error"
    b = dict(second.attributes or {})
    assert b[sc.OR_ATTEMPT_REASON] == "retry"
    assert b[sc.OR_ATTEMPT_WAIT] == 0.5
    assert b[sc.OR_ATTEMPT_WAIT_REASON] == "retry-after"
    assert b[sc.OR_ATTEMPT_OUTCOME] == "ok"
    call = rec.one("chat m")
    a = dict(call.attributes or {})
    assert a[sc.OR_ATTEMPTS] == 2
    assert a[sc.OR_RETRIES] == 1
    assert call.status.status_code is StatusCode.UNSET
    retry = [e for e in call.events if e.name == "retry"]
    assert len(retry) == 1
    assert dict(retry[0].attributes or {}) == {
        "openresponses.retry.attempt": 2,
        "openresponses.retry.wait_s": 0.5,
        "openresponses.retry.reason": "retry-after",
        "error.type": "429",
    }


async def test_failover_to_second_provider() -> None:
    rec = Recorder()
    a = LocalTransport(APIConnectionError("refused", provider="a"), name="a", base_url="http://a.example/v1")
    b = LocalTransport(final_response(text_events()), name="b", base_url="https://b.example/v1")
    client = AsyncClient(middleware=[Tracing(tracer_provider=rec.provider)], endpoint=TwoProviders(a, b))
    await client.responses.create(model="m", input="x")

    assert rec.tree() == [(0, "chat m"), (1, "attempt 1 a"), (1, "attempt 2 b")]
    call = rec.one("chat m")
    attrs = dict(call.attributes or {})
    assert attrs[sc.OR_PROVIDER] == "b"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "b"
    assert attrs[sc.OR_ATTEMPTS] == 2
    assert attrs[sc.OR_FAILOVERS] == 1
    assert attrs[sc.SERVER_ADDRESS] == "b.example"
    assert attrs[sc.SERVER_PORT] == 443
    failover = next(e for e in call.events if e.name == "failover")
    assert dict(failover.attributes or {}) == {
        "openresponses.failover.from": "a",
        "openresponses.failover.to": "b",
        "openresponses.failover.reason": "APIConnectionError",
    }
    first, second = rec.one("attempt 1 a"), rec.one("attempt 2 b")
    assert (first.attributes or {})[sc.ERROR_TYPE] == "APIConnectionError"
    s = dict(second.attributes or {})
    assert s[sc.OR_ATTEMPT_REASON] == "failover"
    assert s[sc.OR_ATTEMPT_FROM] == "a"
    assert s[sc.OR_BREAKER_STATE] == "half-open"


async def test_open_breaker_is_visible() -> None:
    rec = Recorder()
    a = LocalTransport(name="a")
    b = LocalTransport(final_response(text_events()), name="b")
    client = AsyncClient(
        middleware=[Tracing(tracer_provider=rec.provider)],
        endpoint=TwoProviders(a, b, breaker_open_for_a=True),
    )
    await client.responses.create(model="m", input="x")
    assert a.requests == []  # never called
    assert rec.tree() == [(0, "chat m"), (1, "attempt 1 b")]
    call = rec.one("chat m")
    assert [e.name for e in call.events] == ["breaker", "breaker.rejected", "failover"]
    breaker = dict(call.events[0].attributes or {})
    assert breaker == {
        "openresponses.breaker.provider": "a",
        "openresponses.breaker.state": "open",
        "openresponses.breaker.previous": "closed",
    }
    assert dict(call.events[1].attributes or {})["openresponses.breaker.rejected.reopens_in_s"] == 30.0
    assert (rec.one("attempt 1 b").attributes or {})[sc.OR_ATTEMPT_REASON] == "failover"


async def test_cache_hit_without_any_attempt() -> None:
    rec = Recorder()
    cached = final_response(rich_events())

    async def cache(request: Request, call_next: Handler, /) -> Reply:
        request.context.record("cache", {"hit": True, "similarity": 0.97})

        async def source() -> AsyncIterator[list[StreamEvent]]:
            yield emit_response(cached)

        return EventStream(source())

    client = client_for(LocalTransport(), Tracing(tracer_provider=rec.provider), cache)
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    # The replayed stream's items hang under the call span: there was no attempt.
    assert rec.tree() == [(0, "chat m"), (1, "reasoning"), (1, "message"), (1, "function_call get_weather")]
    a = dict(rec.one("chat m").attributes or {})
    assert a[sc.OR_CACHE_HIT] is True
    assert a[sc.OR_CACHE_SIMILARITY] == pytest.approx(0.97)
    assert a[sc.OR_ATTEMPTS] == 0


# -- topology and propagation ----------------------------------------------------------------------


async def test_call_span_is_a_child_of_the_callers_span_and_traceparent_is_sent() -> None:
    rec = Recorder()
    transport = LocalTransport(final_response(text_events()))
    client = client_for(transport, Tracing(tracer_provider=rec.provider))
    tracer = rec.provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as parent:
        await client.responses.create(model="m", input="x")
    call, attempt = rec.one("chat m"), rec.one("attempt 1 p")
    assert call.parent is not None and call.parent.span_id == parent.get_span_context().span_id
    assert call.context.trace_id == parent.get_span_context().trace_id
    traceparent = transport.requests[0].headers["traceparent"]
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == call.context.trace_id
    assert int(span_id, 16) == attempt.context.span_id
    # Detached again: the caller's context is untouched after the call.
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_sync_client_keeps_the_callers_parent_span() -> None:
    rec = Recorder()
    client = Client(transport=LocalTransport(final_response(text_events()), text_events()),
                    middleware=[Tracing(tracer_provider=rec.provider)])  # fmt: skip
    tracer = rec.provider.get_tracer("app")
    try:
        with tracer.start_as_current_span("sync parent") as parent:
            client.responses.create(model="m", input="x")
            with client.responses.stream(model="m", input="y") as stream:
                for _ in stream:
                    pass
    finally:
        client.close()
    calls = [s for s in rec.spans() if s.name == "chat m"]
    assert len(calls) == 2
    for call in calls:
        assert call.parent is not None and call.parent.span_id == parent.get_span_context().span_id


# -- stream detail levels --------------------------------------------------------------------------


async def test_deltas_level_samples_within_the_sdk_event_limit() -> None:
    rec = Recorder(SpanLimits(max_events=40))
    pieces = [f"t{i} " for i in range(1000)]
    client = client_for(
        LocalTransport(text_events(pieces)), Tracing(tracer_provider=rec.provider, stream_events="deltas")
    )
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    message = rec.one("message")
    assert message.dropped_events == 0
    deltas = [e for e in message.events if e.name == sc.EVENT_DELTA]
    assert 0 < len(deltas) <= 40 - 8
    a = dict(message.attributes or {})
    assert a[sc.OR_DELTAS_SAMPLED] is True
    assert a[sc.OR_DELTAS_RECORDED] == len(deltas)
    assert a[sc.OR_ITEM_DELTAS] == 1000
    represents = [int((e.attributes or {})[sc.OR_DELTA_REPRESENTS]) for e in deltas]
    assert represents[0] == 1 and max(represents) > 1  # one by one at first, then thinned
    # The indexes are consistent with what each event stands for.
    indexes = [int((e.attributes or {})[sc.OR_DELTA_INDEX]) for e in deltas]
    assert indexes == [sum(represents[: i + 1]) for i in range(len(represents))]
    assert sc.OR_DELTA_TEXT not in (deltas[0].attributes or {})  # no content unless asked


async def test_deltas_level_records_each_delta_when_the_budget_allows() -> None:
    rec = Recorder()  # default limit: 128 events
    client = client_for(
        LocalTransport(text_events(["a", "b", "c"])),
        Tracing(tracer_provider=rec.provider, stream_events="deltas"),
    )
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    message = rec.one("message")
    assert [e.name for e in message.events].count(sc.EVENT_DELTA) == 3
    assert (message.attributes or {})[sc.OR_DELTAS_SAMPLED] is False


async def test_spans_level_and_none_level() -> None:
    events = text_events(["a", "b"])
    rec = Recorder()
    client = client_for(LocalTransport(events), Tracing(tracer_provider=rec.provider, stream_events="spans"))
    async with client.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    non_delta = [e for e in events if not e.type.endswith(".delta")]
    event_spans = [s for s in rec.spans() if s.name.startswith("response.")]
    assert len(event_spans) == len(non_delta)
    message = rec.one("message")
    under_message = {s.name for s in rec.children(message)}
    assert "response.content_part.added" in under_message

    rec2 = Recorder()
    client2 = client_for(LocalTransport(events), Tracing(tracer_provider=rec2.provider, stream_events="none"))
    async with client2.responses.stream(model="m", input="x") as stream:
        await stream.get_final_response()
    assert rec2.tree() == [(0, "chat m"), (1, "attempt 1 p")]
    assert rec2.one("attempt 1 p").events == ()
    assert (rec2.one("chat m").attributes or {})[sc.OR_STREAM_DELTAS] == 2


def test_bad_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="stream_events"):
        Tracing(stream_events="everything")  # type: ignore[arg-type]


# -- content and secrets ---------------------------------------------------------------------------

SECRET_KEY = "sk-test-THISISASECRETKEY0123456789abcdef"
PROMPT = "my confidential prompt about project nightingale"


def sse_body(events: list[StreamEvent]) -> bytes:
    out = b"".join(encode_event(e.model_dump_json(exclude_unset=True).encode()) for e in events)
    return out + b"data: [DONE]\n\n"


def http_client(handler: Callable[[httpx.Request], httpx.Response]) -> AsyncClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = HTTPTransport(
        "http://llm.local:9000/v1", api_key=SECRET_KEY, provider="local", http_client=http
    )
    return AsyncClient(transport=transport)


def streaming_handler(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            # An OpenAI-style 401 that echoes the key: the message must be scrubbed.
            body = {
                "error": {
                    "message": f"Incorrect API key provided: {SECRET_KEY}.",
                    "type": "auth",
                    "code": None,
                }
            }
            return httpx.Response(401, json=body)
        return httpx.Response(
            200, content=sse_body(rich_events()), headers={"content-type": "text/event-stream"}
        )

    return handler


async def run_secret_scenario(tracing: Tracing) -> list[httpx.Request]:
    seen: list[httpx.Request] = []
    base = http_client(streaming_handler(seen))
    client = AsyncClient(transport=base._transport, middleware=[tracing])
    with pytest.raises(Exception, match="401"):
        await client.responses.create(model="m", input=PROMPT, instructions="Be terse about nightingale")
    async with client.responses.stream(model="m", input=[{"role": "user", "content": PROMPT}]) as stream:
        await stream.get_final_response()
    return seen


async def test_no_key_and_no_content_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sc.CAPTURE_CONTENT_ENV, raising=False)
    rec = Recorder()
    seen = await run_secret_scenario(Tracing(tracer_provider=rec.provider, stream_events="deltas"))
    assert seen[0].headers["authorization"] == f"Bearer {SECRET_KEY}"  # the key really was sent
    assert len(rec.spans()) >= 6
    text = "\n".join(all_strings(rec.spans()))
    assert SECRET_KEY not in text
    assert SECRET_KEY[:20] not in text
    assert "nightingale" not in text
    assert "Paris" not in text  # tool arguments are content too
    assert "Hello" not in text
    errored = [s for s in rec.spans() if s.status.status_code is StatusCode.ERROR and s.name == "chat m"]
    assert errored and (errored[0].attributes or {})[sc.ERROR_TYPE] == "401"
    message = next(e for e in errored[0].events if e.name == "exception").attributes or {}
    assert "[redacted]" in str(message["exception.message"]).lower()


async def test_content_is_captured_when_asked_and_redacted_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sc.CAPTURE_CONTENT_ENV, raising=False)
    rec = Recorder()
    calls: list[tuple[str, str]] = []

    def redact(field: str, text: str) -> str | None:
        calls.append((field, text))
        return text.replace("nightingale", "[project]")

    await run_secret_scenario(Tracing(tracer_provider=rec.provider, capture_content=True, redact=redact))
    text = "\n".join(all_strings(rec.spans()))
    assert SECRET_KEY not in text  # never, even with capture on
    assert "nightingale" not in text  # the hook ran before recording
    assert "my confidential prompt about project [project]" in text
    streamed = next(s for s in rec.spans() if s.name == "chat m" and s.status.status_code is StatusCode.UNSET)
    a = dict(streamed.attributes or {})
    inputs = json.loads(str(a[sc.GEN_AI_INPUT_MESSAGES]))
    assert inputs == [
        {
            "role": "user",
            "parts": [{"type": "text", "content": "my confidential prompt about project [project]"}],
        }
    ]
    outputs = json.loads(str(a[sc.GEN_AI_OUTPUT_MESSAGES]))
    assert outputs[0]["finish_reason"] == "tool_calls"
    assert {
        "type": "tool_call",
        "id": "call_42",
        "name": "get_weather",
        "arguments": '{"loc":"Paris"}',
    } in outputs[0]["parts"]
    assert (rec.one("function_call get_weather").attributes or {})[
        sc.GEN_AI_TOOL_CALL_ARGUMENTS
    ] == '{"loc":"Paris"}'
    assert {field for field, _ in calls} >= {"input", "instructions", "output", "tool_arguments", "reasoning"}


async def test_content_capture_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sc.CAPTURE_CONTENT_ENV, "true")
    rec = Recorder()
    tracing = Tracing(tracer_provider=rec.provider)
    assert tracing.capture_content
    client = client_for(LocalTransport(final_response(text_events())), tracing)
    await client.responses.create(model="m", input=PROMPT)
    assert PROMPT in str((rec.one("chat m").attributes or {})[sc.GEN_AI_INPUT_MESSAGES])
    monkeypatch.setenv(sc.CAPTURE_CONTENT_ENV, "false")
    assert not Tracing(tracer_provider=rec.provider).capture_content


async def test_failing_redaction_hook_drops_content_and_the_call_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = Recorder()

    def redact(field: str, text: str) -> str | None:
        raise RuntimeError("boom")

    client = client_for(
        LocalTransport(final_response(text_events())),
        Tracing(tracer_provider=rec.provider, capture_content=True, redact=redact),
    )
    response = await client.responses.create(model="m", input=PROMPT)
    assert response.output_text == "Hi there"
    assert PROMPT not in "\n".join(all_strings(rec.spans()))


# -- telemetry never raises ------------------------------------------------------------------------


class BrokenTracer:
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("exporter on fire")


class BrokenProvider(TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return BrokenTracer()


async def test_a_broken_tracer_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(
        LocalTransport(final_response(text_events()), text_events()),
        Tracing(tracer_provider=BrokenProvider()),
    )
    assert (await client.responses.create(model="m", input="x")).output_text == "Hi there"
    async with client.responses.stream(model="m", input="x") as stream:
        assert (await stream.get_final_response()).output_text == "Hi there"
    assert "exporter on fire" in caplog.text


# -- conventions profile ---------------------------------------------------------------------------


async def test_latest_experimental_names_on_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sc.OPT_IN_ENV, "http, gen_ai_latest_experimental")
    rec = Recorder()
    client = client_for(LocalTransport(final_response(text_events())), Tracing(tracer_provider=rec.provider))
    await client.responses.create(
        model="m", input="x", reasoning={"effort": "high"}, previous_response_id="resp_1"
    )
    a = dict(rec.one("chat m").attributes or {})
    assert a["gen_ai.request.reasoning.level"] == "high"
    assert a["gen_ai.request.previous_response.id"] == "resp_1"

    monkeypatch.delenv(sc.OPT_IN_ENV)
    rec2 = Recorder()
    client2 = client_for(
        LocalTransport(final_response(text_events())), Tracing(tracer_provider=rec2.provider)
    )
    await client2.responses.create(model="m", input="x", reasoning={"effort": "high"})
    assert "gen_ai.request.reasoning.level" not in (rec2.one("chat m").attributes or {})


async def test_a_vendor_dialect_names_gen_ai_provider_and_the_label_stays_in_or_provider() -> None:
    from openresponses import Provider
    from openresponses.testing import ScriptedServer, text
    from openresponses.transports._dialect import OpenResponsesDialect

    class AcmeDialect(OpenResponsesDialect):
        gen_ai_provider_name = "acme.ai"

    rec = Recorder()
    async with ScriptedServer(default=text("hi")) as server:
        provider = Provider("primary", server.base_url, dialect=AcmeDialect())
        tracing = Tracing(tracer_provider=rec.provider)
        async with AsyncClient(middleware=[tracing], endpoint=provider) as client:
            await client.responses.create(model="m", input="x")
    call = rec.one("chat m")
    attempt = next(s for s in rec.spans() if s.name.startswith("attempt"))
    for span in (call, attempt):
        attrs = span.attributes or {}
        assert attrs[sc.GEN_AI_PROVIDER_NAME] == "acme.ai"
        assert attrs[sc.OR_PROVIDER] == "primary"
