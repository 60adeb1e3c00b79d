"""The resilience fault scenarios over Chat-Completions providers, with the native outcomes.

Each scenario of test_retry, test_failover, test_midstream, test_timeout, test_circuit_breaker
and test_hedging is written once against an :class:`Upstream` of either kind: ``native`` (a
``ScriptedServer`` speaking Open Responses) or ``chat`` (a ``ChatCompletionsServer`` reached with
``Provider(..., adapter="chat-completions")``), and parametrised over the kinds (and, with two
providers, over every pair: chat -> chat, chat -> native, native -> chat, native -> native).
Every expected value is a literal shared by the kinds: the outcome does not depend on the
dialect. Faults are placed at the same point of the answer: "after the first word" is five
native events (created, in_progress, item, part, one delta) or two chat chunks (role, one word).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import pytest

from openresponses import (
    APITimeoutError,
    AsyncClient,
    BadRequestError,
    CircuitOpenError,
    InternalServerError,
    Provider,
    StreamInterrupted,
)
from openresponses.middleware import CircuitBreaker, Failover, Retry, RetryPolicy, Timeout
from openresponses.middleware.failover import CONTINUED_EVENT, RECOVERY_FIELD, RESTARTED_EVENT
from openresponses.testing import FakeClock, ScriptedServer, assert_valid_stream
from openresponses.testing import failed as native_failed
from openresponses.testing import reset_mid_stream as native_reset
from openresponses.testing import stall as native_stall
from openresponses.testing import status as native_status
from openresponses.testing import text as native_text
from openresponses.testing import truncated as native_truncated
from openresponses.testing.chat import (
    ChatCompletionsServer,
    chat_context_length_exceeded,
    chat_cut,
    chat_error_in_stream,
    chat_stall,
    chat_status,
    chat_text,
)

Kind = Literal["native", "chat"]
KINDS: list[Kind] = ["native", "chat"]
PAIRS: list[tuple[Kind, Kind]] = [
    ("native", "native"),
    ("chat", "chat"),
    ("chat", "native"),
    ("native", "chat"),
]
PARTIAL = "Hello world, this is partial"
Fault = Literal["reset", "stall", "truncated", "failed"]


class Upstream:
    """One loopback upstream of either kind, scripted in the same words."""

    def __init__(self, kind: Kind, server: ScriptedServer | ChatCompletionsServer) -> None:
        self.kind = kind
        self.server = server

    def provider(self, name: str, middleware: Any = ()) -> Provider:
        adapter: Literal["chat-completions", "open-responses"] = (
            "chat-completions" if self.kind == "chat" else "open-responses"
        )
        return Provider(name, self.server.base_url, adapter=adapter, model="m", middleware=list(middleware))

    @property
    def calls(self) -> int:
        return len(self.server.requests)

    def _push(self, native: Any, chat: Any) -> None:
        self.server.push(native if self.kind == "native" else chat)

    def text(self, words: str, *, first_event_delay: float = 0.0, delay: float = 0.0) -> None:
        self._push(
            native_text(words, first_event_delay=first_event_delay, delay=delay),
            chat_text(words, first_chunk_delay=first_event_delay, delay=delay),
        )

    def status(self, code: int, *, message: str | None = None) -> None:
        self._push(
            native_status(code, message=message, retry_after=0),
            chat_status(code, message=message, retry_after=0),
        )

    def context_too_long(self) -> None:
        self._push(
            native_status(400, code_str="context_length_exceeded", message="maximum context length"),
            chat_context_length_exceeded(),
        )

    def fault(
        self, fault: Fault, words: str = PARTIAL, *, after_words: int = 1, seconds: float = 3.0
    ) -> None:
        """``words`` cut by ``fault`` once ``after_words`` words were streamed."""
        events, chunks = 4 + after_words, 1 + after_words
        if fault == "reset":
            self._push(
                native_reset(after_events=events, text=words),
                chat_cut(after_chunks=chunks, how="reset", scenario=chat_text(words)),
            )
        elif fault == "stall":
            self._push(
                native_stall(after_events=events, seconds=seconds, text=words),
                chat_stall(after_chunks=chunks, seconds=seconds, scenario=chat_text(words)),
            )
        elif fault == "truncated":  # the body ends cleanly, without a terminal event / finish
            self._push(
                native_truncated(after_events=events, text=words),
                chat_cut(after_chunks=chunks, how="close", scenario=chat_text(words)),
            )
        else:  # the upstream reports a failure inside the 200 stream
            self._push(
                native_failed("boom", after_text=" ".join(words.split()[:after_words]) or None),
                chat_error_in_stream(after_chunks=chunks, style="openrouter", scenario=chat_text(words)),
            )

    def sent_turns(self, request: int = 0) -> list[tuple[str, str]]:
        """The conversation the upstream received, as (role, text) whatever the wire format."""
        body = self.server.requests[request].body
        if self.kind == "chat":
            return [(m["role"], m["content"]) for m in body["messages"]]
        items = body["input"]
        if isinstance(items, str):
            return [("user", items)]
        turns = []
        for item in items:
            content = item["content"]
            if not isinstance(content, str):
                content = "".join(part["text"] for part in content)
            turns.append((item["role"], content))
        return turns


MakeUpstream = Callable[[Kind], Any]


@pytest.fixture
async def upstream() -> AsyncIterator[MakeUpstream]:
    """``await upstream("chat")``: a started upstream of that kind (stopped after the test)."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(kind: Kind) -> Upstream:
            server = ScriptedServer() if kind == "native" else ChatCompletionsServer()
            return Upstream(kind, await stack.enter_async_context(server))

        yield make


async def deltas_of(stream: Any) -> tuple[list[Any], str]:
    events = [event async for event in stream]
    return events, "".join(e.delta for e in events if e.type == "response.output_text.delta")


async def consume(
    client: AsyncClient, recorder: Any, *, input: str = "Tell me"
) -> tuple[list[Any], Any, Any]:
    request = client.build_request({"model": "m", "input": input}, stream=True)
    request.context.observers.append(recorder)
    stream: Any = await client.send(request)
    events: list[Any] = []
    try:
        async for event in stream:
            events.append(event)
    finally:
        await stream.aclose()
    return events, stream.snapshot(), stream


# -- Retry ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("code", [429, 498, 500, 503])
@pytest.mark.parametrize("kind", KINDS)
async def test_transient_statuses_are_retried(
    upstream: MakeUpstream, fake_clock: FakeClock, kind: Kind, code: int, stream: bool
) -> None:
    up = await upstream(kind)
    up.status(code)
    up.text("Second try")
    retry = Retry(RetryPolicy(attempts=3, budget=False), clock=fake_clock)
    async with AsyncClient(middleware=[retry], endpoint=up.provider("p")) as client:
        if stream:
            async with client.responses.stream(model="m", input="x") as events:
                seen, out = await deltas_of(events)
            assert [e.type for e in seen].count("response.created") == 1  # nothing of attempt one
            assert seen[-1].type == "response.completed"
        else:
            out = (await client.responses.create(model="m", input="x")).output_text
    assert out == "Second try"
    assert up.calls == 2
    assert fake_clock.sleeps == [0.0]  # Retry-After: 0, honoured the same way


@pytest.mark.parametrize("kind", KINDS)
async def test_a_callers_mistake_is_not_retried(
    upstream: MakeUpstream, fake_clock: FakeClock, kind: Kind
) -> None:
    up = await upstream(kind)
    up.status(400, message="bad temperature")
    retry = Retry(RetryPolicy(attempts=3, budget=False), clock=fake_clock)
    async with AsyncClient(middleware=[retry], endpoint=up.provider("p")) as client:
        with pytest.raises(BadRequestError) as info:
            await client.responses.create(model="m", input="x")
    assert "bad temperature" in str(info.value)
    assert up.calls == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_no_retry_once_content_was_delivered(
    upstream: MakeUpstream, fake_clock: FakeClock, kind: Kind
) -> None:
    up = await upstream(kind)
    up.fault("reset")
    async with AsyncClient(middleware=[Retry(clock=fake_clock)], endpoint=up.provider("p")) as client:
        with pytest.raises(StreamInterrupted) as info:
            async with client.responses.stream(model="m", input="x") as events:
                async for _ in events:
                    pass
    assert up.calls == 1
    assert info.value.response is not None and info.value.response.output_text == "Hello"


# -- Failover -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_a_503_fails_over_to_the_next_provider(
    upstream: MakeUpstream, recorder: Any, first: Kind, second: Kind, stream: bool
) -> None:
    a, b = await upstream(first), await upstream(second)
    a.status(503)
    b.text("Served by b")
    failover = Failover([a.provider("a"), b.provider("b")])
    async with AsyncClient(middleware=[failover]) as client:
        request = client.build_request({"model": "m", "input": "Hello"}, stream=stream)
        request.context.observers.append(recorder)
        reply: Any = await client.send(request)
        if stream:
            events, out = await deltas_of(reply)
            assert [e.type for e in events].count("response.created") == 1
        else:
            out = reply.output_text
    assert out == "Served by b" and reply.provider == "b"
    assert recorder.of("failover") == [{"from": "a", "to": "b", "reason": "status_503"}]
    assert b.sent_turns() == [("user", "Hello")]


@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_a_client_error_is_surfaced_without_failover(
    upstream: MakeUpstream, first: Kind, second: Kind
) -> None:
    a, b = await upstream(first), await upstream(second)
    a.status(422)
    async with AsyncClient(middleware=[Failover([a.provider("a"), b.provider("b")])]) as client:
        with pytest.raises(Exception) as info:
            await client.responses.create(model="m", input="x")
    assert getattr(info.value, "status_code", None) == 422
    assert b.calls == 0


@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_a_failure_inside_the_stream_before_content_fails_over(
    upstream: MakeUpstream, recorder: Any, first: Kind, second: Kind
) -> None:
    a, b = await upstream(first), await upstream(second)
    a.fault("failed", after_words=0)
    b.text("streamed by b")
    async with AsyncClient(middleware=[Failover([a.provider("a"), b.provider("b")])]) as client:
        events, final, stream = await consume(client, recorder)
    assert [e.type for e in events].count("response.created") == 1
    assert final.output_text == "streamed by b" and stream.provider == "b"
    assert recorder.of("failover")[0]["reason"] == "response_failed"


@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_a_context_window_400_moves_on_without_retrying(
    upstream: MakeUpstream, fake_clock: FakeClock, first: Kind, second: Kind
) -> None:
    a, b = await upstream(first), await upstream(second)
    a.context_too_long()
    b.text("big window")
    retry = Retry(RetryPolicy(attempts=3, budget=False), clock=fake_clock)
    async with AsyncClient(middleware=[Failover([a.provider("a", [retry]), b.provider("b")])]) as client:
        response = await client.responses.create(model="m", input="x")
    assert response.output_text == "big window" and response.provider == "b"
    assert a.calls == 1


# -- mid-stream recovery ----------------------------------------------------------------------------

_RESTART_CASES = [
    ("reset", "interrupted", ()),
    ("stall", "timeout.idle", (Timeout(idle=0.15),)),
    ("truncated", "protocol", ()),
    ("failed", "response_failed", ()),
]


@pytest.mark.parametrize(
    ("fault", "reason", "middleware"), _RESTART_CASES, ids=[c[0] for c in _RESTART_CASES]
)
@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_midstream_restart_on_the_next_provider(
    upstream: MakeUpstream,
    recorder: Any,
    first: Kind,
    second: Kind,
    fault: Fault,
    reason: str,
    middleware: Any,
) -> None:
    a, b = await upstream(first), await upstream(second)
    a.fault(fault)
    b.text("A fresh full answer")
    failover = Failover([a.provider("a", middleware), b.provider("b")], midstream="restart")
    async with AsyncClient(middleware=[failover]) as client:
        events, final, stream = await consume(client, recorder)
    types = [e.type for e in events]
    marker_at = types.index(RESTARTED_EVENT)
    extra = events[marker_at].model_extra or {}
    assert (extra["from"], extra["to"], extra["reason"]) == ("a", "b", reason)
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    after = events[marker_at + 1 :]
    assert after[0].type == "response.created" and after[-1].type == "response.completed"
    assert_valid_stream(after, schema=False)
    assert "".join(e.delta for e in after if e.type == "response.output_text.delta") == "A fresh full answer"
    assert final.output_text == "A fresh full answer"
    assert final.model_extra[RECOVERY_FIELD][0]["mode"] == "restart"
    assert stream.provider == "b"
    assert b.sent_turns() == [("user", "Tell me")]  # the original request, no partial output
    await a.server.wait_until(lambda s: s.open_connections == 0)


@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_midstream_continue_splices_into_the_same_item(
    upstream: MakeUpstream, recorder: Any, first: Kind, second: Kind
) -> None:
    a, b = await upstream(first), await upstream(second)
    a.fault("reset", "The quick brown fox jumps", after_words=2)
    b.text(" over the lazy dog.")
    async with AsyncClient(
        middleware=[Failover([a.provider("a"), b.provider("b")], midstream="continue")]
    ) as client:
        events, final, stream = await consume(client, recorder)
    types = [e.type for e in events]
    assert CONTINUED_EVENT in types and RESTARTED_EVENT not in types
    assert types.count("response.created") == 1 and types.count("response.output_item.added") == 1
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert_valid_stream(events, schema=False)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "The quick over the lazy dog." == final.output_text
    assert final.id == events[0].response.id and len(final.output) == 1
    assert stream.provider == "b"
    # b got the original input plus the partial assistant text to continue from.
    assert b.sent_turns() == [("user", "Tell me"), ("assistant", "The quick")]


# -- Timeout ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stall_past_idle_is_interrupted_with_the_partial_response(
    upstream: MakeUpstream, recorder: Any, kind: Kind
) -> None:
    up = await upstream(kind)
    up.fault("stall")
    async with AsyncClient(middleware=[Timeout(idle=0.15)], endpoint=up.provider("p")) as client:
        started = time.monotonic()
        with pytest.raises(StreamInterrupted) as info:
            await consume(client, recorder)
    assert time.monotonic() - started < 2.5  # not the upstream's 3 s silence
    cause = info.value.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "idle"
    assert info.value.response is not None and info.value.response.output_text == "Hello"
    assert recorder.of("timeout") == [{"which": "idle", "limit_s": 0.15}]
    await up.server.wait_until(lambda s: s.open_connections == 0)


@pytest.mark.parametrize("kind", KINDS)
async def test_first_event_and_total_limits(upstream: MakeUpstream, kind: Kind) -> None:
    up = await upstream(kind)
    up.text("late", first_event_delay=3.0)
    up.text("slow", delay=3.0)
    async with AsyncClient(middleware=[Timeout(first_event=0.15)], endpoint=up.provider("p")) as client:
        with pytest.raises(APITimeoutError) as first_event:
            async with client.responses.stream(model="m", input="x") as events:
                async for _ in events:
                    pass
    async with AsyncClient(middleware=[Timeout(0.15)], endpoint=up.provider("p")) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as total:
            await client.responses.create(model="m", input="x")
    assert time.monotonic() - started < 2.5
    assert (first_event.value.which, total.value.which) == ("first_event", "total")
    await up.server.wait_until(lambda s: s.open_connections == 0)


# -- CircuitBreaker ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_upstream_failures_open_the_breaker_and_caller_mistakes_do_not(
    upstream: MakeUpstream, kind: Kind
) -> None:
    up = await upstream(kind)
    breaker = CircuitBreaker(fail_max=2, reset_timeout=30)
    for _ in range(3):
        up.status(400)
    up.status(500)
    up.status(503)
    async with AsyncClient(endpoint=up.provider("p", [breaker])) as client:
        for _ in range(3):
            with pytest.raises(BadRequestError):
                await client.responses.create(model="m", input="x")
        assert breaker.state == "closed" and breaker.fail_counter == 0
        for _ in range(2):
            with pytest.raises(InternalServerError):
                await client.responses.create(model="m", input="x")
        assert breaker.state == "open"
        with pytest.raises(CircuitOpenError) as info:
            await client.responses.create(model="m", input="x")
    assert info.value.provider == "p"
    assert up.calls == 5  # the rejected call never reached the upstream


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_cut_after_commit_counts_as_a_failure(upstream: MakeUpstream, kind: Kind) -> None:
    up = await upstream(kind)
    up.fault("reset")
    breaker = CircuitBreaker(fail_max=1, reset_timeout=30)
    async with AsyncClient(endpoint=up.provider("p", [breaker])) as client:
        with pytest.raises(StreamInterrupted):
            async with client.responses.stream(model="m", input="x") as events:
                async for _ in events:
                    pass
    assert breaker.state == "open"


# -- hedging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("first", "second"), PAIRS)
async def test_a_slow_first_token_is_hedged_and_the_loser_closed(
    upstream: MakeUpstream, recorder: Any, first: Kind, second: Kind, stream: bool
) -> None:
    a, b = await upstream(first), await upstream(second)
    if stream:
        a.text("slow a", first_event_delay=3.0)
    else:
        a.text("slow a", delay=3.0)
    b.text("fast b")
    failover = Failover([a.provider("a"), b.provider("b")], hedge_after=0.1)
    async with AsyncClient(middleware=[failover]) as client:
        request = client.build_request({"model": "m", "input": "x"}, stream=stream)
        request.context.observers.append(recorder)
        started = time.monotonic()
        reply: Any = await client.send(request)
        out = (await deltas_of(reply))[1] if stream else reply.output_text
        elapsed = time.monotonic() - started
    assert out == "fast b" and reply.provider == "b"
    assert elapsed < 2.5
    assert recorder.of("hedge") == [{"provider": "b", "after_s": 0.1}]
    assert recorder.of("hedge.winner") == [{"provider": "b"}]
    await a.server.wait_until(lambda s: s.client_disconnects == 1 and s.open_connections == 0)
