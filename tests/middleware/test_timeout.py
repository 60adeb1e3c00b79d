"""Timeout: total, first content event, idle gaps; typed errors naming the limit."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from openresponses import (
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AsyncResponseStream,
    Provider,
    StreamInterrupted,
)
from openresponses.middleware import Failover, Retry, RetryPolicy, Timeout
from openresponses.middleware import failover as failover_module
from openresponses.testing import ScriptedServer, stall, status, text

# A provider that accepts the connection, reads the request and never sends the headers.
SILENT = text("never", delay=3600.0)


def bounded(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A test against a silent provider fails (TimeoutError) rather than hangs on a regression."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(30):
            await test(*args, **kwargs)

    return run


async def test_total_bounds_a_non_streaming_call(recorder: Any) -> None:
    async with (
        ScriptedServer([text("slow", delay=2.0)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(0.15)]) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.responses.create(model="m", input="x")
    assert time.monotonic() - started < 1.0
    assert info.value.which == "total"
    assert info.value.limit == 0.15
    assert isinstance(info.value, TimeoutError)
    assert "total timeout of 0.15s" in str(info.value)


@bounded
async def test_non_stream_bounds_only_non_streaming_calls() -> None:
    # A whole answer arrives at once: first_event and idle cannot see a hung upstream there.
    layer = Timeout(first_event=5.0, idle=5.0, non_stream=0.2)
    async with (
        ScriptedServer([SILENT, text("streamed late", first_event_delay=0.5)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[layer]) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await client.responses.create(model="m", input="x")
        assert time.monotonic() - started < 2.0
        assert info.value.which == "total" and info.value.limit == 0.2
        async with client.responses.stream(model="m", input="x") as stream:
            final = await stream.get_final_response()
    assert final.output_text == "streamed late"  # 0.5 s to the first event: past non_stream, allowed
    assert "non_stream=0.2" in repr(layer)
    with pytest.raises(ValueError, match="non_stream"):
        Timeout(non_stream=0)


async def test_first_event_counts_from_the_first_content_event_not_response_created() -> None:
    # Lifecycle events arrive at once, then the server stalls before the first delta.
    async with ScriptedServer([text("late", first_event_delay=2.0)]) as server:
        async with AsyncClient(base_url=server.base_url, middleware=[Timeout(first_event=0.15)]) as client:
            started = time.monotonic()
            with pytest.raises(APITimeoutError) as info:
                async with client.responses.stream(model="m", input="x") as stream:
                    async for _ in stream:
                        pass
            elapsed = time.monotonic() - started
        assert info.value.which == "first_event"
        assert elapsed < 1.0
        await server.wait_until(lambda s: s.open_connections == 0)  # the connection was released


async def test_first_event_also_bounds_waiting_for_headers() -> None:
    async with (
        ScriptedServer([text("late", delay=2.0)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(first_event=0.15)]) as client,
    ):
        with pytest.raises(APITimeoutError) as info:
            await client.responses.create(model="m", input="x", stream=True)
    assert info.value.which == "first_event"


async def test_idle_fires_on_a_stall_after_delivery_with_the_partial_response(recorder: Any) -> None:
    async with ScriptedServer([stall(after_events=5, seconds=3.0, text="Hello world again")]) as server:
        async with AsyncClient(base_url=server.base_url, middleware=[Timeout(idle=0.15)]) as client:
            request = client.build_request({"model": "m", "input": "x"}, stream=True)
            request.context.observers.append(recorder)
            stream = await client.send(request)
            received = []
            with pytest.raises(StreamInterrupted) as info:
                async for event in stream:  # type: ignore[union-attr]
                    received.append(event)
        cause = info.value.__cause__
        assert isinstance(cause, APITimeoutError) and cause.which == "idle"
        assert len(received) == 5
        assert info.value.response is not None and info.value.response.output_text == "Hello"
        assert recorder.of("timeout") == [{"which": "idle", "limit_s": 0.15}]
        await server.wait_until(lambda s: s.open_connections == 0)


async def test_a_healthy_long_stream_is_never_cut_by_idle() -> None:
    words = " ".join(f"w{i}" for i in range(12))
    async with (
        ScriptedServer([text(words, event_delay=0.03)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(idle=0.15)]) as client,
    ):
        started = time.monotonic()
        async with client.responses.stream(model="m", input="x") as stream:
            final = await stream.get_final_response()
    assert final.output_text == words
    assert time.monotonic() - started > 0.3  # far longer than the idle limit, in total


async def test_total_bounds_a_stream_that_keeps_sending() -> None:
    words = " ".join(f"w{i}" for i in range(30))
    async with (
        ScriptedServer([text(words, event_delay=0.03)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(0.3, idle=0.2)]) as client,
    ):
        with pytest.raises(StreamInterrupted) as info:
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    pass
    cause = info.value.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "total"


async def test_sets_the_context_deadline_for_inner_layers_and_restores_it() -> None:
    seen: list[float | None] = []

    async def inner(request: Any, call_next: Any) -> Any:
        seen.append(request.context.remaining())
        return await call_next(request)

    async with (
        ScriptedServer([text("ok")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(5.0), inner]) as client,
    ):
        request = client.build_request({"model": "m", "input": "x"}, stream=False)
        await client.send(request)
    assert seen[0] is not None and 4.0 < seen[0] <= 5.0
    assert request.context.deadline is None


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle"):
        Timeout(idle=0)


# -- idle bounds every silence (defect 10) ------------------------------------------------------


@bounded
async def test_idle_bounds_the_wait_for_headers_of_a_stream(recorder: Any) -> None:
    async with ScriptedServer(default=SILENT) as server:
        async with AsyncClient(base_url=server.base_url, middleware=[Timeout(idle=0.2)]) as client:
            request = client.build_request({"model": "m", "input": "x"}, stream=True)
            request.context.observers.append(recorder)
            started = time.monotonic()
            with pytest.raises(APITimeoutError) as info:
                await client.send(request)
            assert time.monotonic() - started < 5.0
        assert info.value.which == "idle" and info.value.limit == 0.2
        assert recorder.of("timeout") == [{"which": "idle", "limit_s": 0.2}]
        await server.wait_until(lambda s: s.open_connections == 0)  # the attempt was abandoned


async def test_idle_bounds_the_first_event_when_first_event_is_not_set() -> None:
    # response.created / in_progress at once, then no content: the caller got the lifecycle
    # events, so the idle fire is a StreamInterrupted caused by it.
    async with (
        ScriptedServer([text("late", first_event_delay=30.0)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(idle=0.2)]) as client,
    ):
        started = time.monotonic()
        with pytest.raises(StreamInterrupted) as info:
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    pass
        assert time.monotonic() - started < 5.0
        await server.wait_until(lambda s: s.open_connections == 0)
    cause = info.value.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "idle"


async def test_under_retry_a_silent_first_token_is_a_clean_retryable_idle_timeout() -> None:
    retry = Retry(RetryPolicy(attempts=2, base_delay=0.0))
    async with (
        ScriptedServer([text("late", first_event_delay=30.0), text("second")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[retry, Timeout(idle=0.2)]) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        assert (await stream.get_final_response()).output_text == "second"
    assert len(server.requests) == 2


async def test_with_first_event_set_it_governs_the_wait_for_the_first_token() -> None:
    # Headers late and the first delta late, each longer than idle, both within first_event.
    async with (
        ScriptedServer([text("slow start", delay=0.4), text("slow token", first_event_delay=0.4)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(first_event=10, idle=0.15)]) as client,
    ):
        for expected in ("slow start", "slow token"):
            async with client.responses.stream(model="m", input="x") as stream:
                assert (await stream.get_final_response()).output_text == expected


async def test_idle_does_not_bound_a_non_streaming_call() -> None:
    # A long non-streaming answer is silent until it is complete: total bounds it, not idle.
    async with (
        ScriptedServer([text("long answer", delay=0.5)]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(idle=0.1)]) as client,
    ):
        assert (await client.responses.create(model="m", input="x")).output_text == "long answer"


async def test_idle_above_retry_does_not_count_the_backoff_wait() -> None:
    # The retry waits 0.5 s, longer than idle: nobody is silent then, so it does not fire.
    retry = Retry(RetryPolicy(attempts=2, base_delay=0.5, jitter="none"))
    async with (
        ScriptedServer([status(503), text("second try")]) as server,
        AsyncClient(base_url=server.base_url, middleware=[Timeout(idle=0.3), retry]) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        assert (await stream.get_final_response()).output_text == "second try"
    assert len(server.requests) == 2


@bounded
async def test_a_silent_provider_fails_over_under_retry_and_timeout_idle(recorder: Any) -> None:
    # The reported stack: Retry(3) + Timeout(idle) + Failover, the primary never answers.
    async with ScriptedServer(default=SILENT) as silent, ScriptedServer(default=text("fallback")) as healthy:
        client = AsyncClient(
            middleware=[Retry(RetryPolicy(attempts=3)), Timeout(idle=1)],
            endpoint=Failover([Provider("silent", silent.base_url), Provider("healthy", healthy.base_url)]),
        )
        async with client:
            request = client.build_request({"model": "m", "input": "x"}, stream=True)
            request.context.observers.append(recorder)
            started = time.monotonic()
            stream = AsyncResponseStream(await client.send(request))  # type: ignore[arg-type]
            final = await stream.get_final_response()
            elapsed = time.monotonic() - started
        assert final.output_text == "fallback" and final.provider == "healthy"
        assert elapsed < 10.0
        assert recorder.of("failover") == [{"from": "silent", "to": "healthy", "reason": "timeout.idle"}]
        assert len(silent.requests) == 1  # failed over at once, no retry on the silent one
        await silent.wait_until(lambda s: s.open_connections == 0)


@bounded
async def test_a_silent_provider_fails_over_with_the_timeout_in_its_own_middleware() -> None:
    async with ScriptedServer(default=SILENT) as silent, ScriptedServer(default=text("fallback")) as healthy:
        own: list[Any] = [Retry(RetryPolicy(attempts=3)), Timeout(idle=1)]
        failover = Failover(
            [Provider("silent", silent.base_url, middleware=own), Provider("ok", healthy.base_url)]
        )
        async with AsyncClient(endpoint=failover) as client:
            started = time.monotonic()
            async with client.responses.stream(model="m", input="x") as stream:
                final = await stream.get_final_response()
            assert time.monotonic() - started < 10.0
        assert final.output_text == "fallback"
        assert len(silent.requests) == 1  # below a Failover an idle fire is not retried


# -- Failover's default first-token limit -------------------------------------------------------


def test_failover_has_a_finite_default_first_token_limit() -> None:
    failover = Failover([Provider("a", "http://127.0.0.1:1/v1"), Provider("b", "http://127.0.0.1:2/v1")])
    assert failover.first_token_timeout == failover_module.DEFAULT_FIRST_TOKEN_TIMEOUT == 60.0
    assert "first_token_timeout=60.0 (default)" in repr(failover)
    disabled = Failover([Provider("a", "http://127.0.0.1:1/v1")], first_token_timeout=None)
    assert disabled.first_token_timeout is None
    with pytest.raises(TypeError, match="first_token_timeout"):
        Failover([Provider("a", "http://127.0.0.1:1/v1")], first_token_timeout="10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first_token_timeout"):
        Failover([Provider("a", "http://127.0.0.1:1/v1")], first_token_timeout=0)


@bounded
async def test_the_default_fails_over_from_a_silent_primary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(failover_module, "DEFAULT_FIRST_TOKEN_TIMEOUT", 0.3)
    async with ScriptedServer(default=SILENT) as silent, ScriptedServer(default=text("fallback")) as healthy:
        failover = Failover([Provider("silent", silent.base_url), Provider("ok", healthy.base_url)])
        async with AsyncClient(endpoint=failover) as client:
            started = time.monotonic()
            async with client.responses.stream(model="m", input="x") as stream:
                assert (await stream.get_final_response()).output_text == "fallback"
            assert time.monotonic() - started < 5.0


async def test_the_default_does_not_bound_the_last_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing to fail over to: a slow first token beats an error.
    monkeypatch.setattr(failover_module, "DEFAULT_FIRST_TOKEN_TIMEOUT", 0.2)
    async with (
        ScriptedServer(default=text("slow but fine", first_event_delay=0.6)) as slow,
        AsyncClient(endpoint=Failover([Provider("only", slow.base_url)])) as client,
        client.responses.stream(model="m", input="x") as stream,
    ):
        assert (await stream.get_final_response()).output_text == "slow but fine"


@bounded
async def test_the_default_bounds_a_nested_chains_last_member_when_a_provider_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(failover_module, "DEFAULT_FIRST_TOKEN_TIMEOUT", 0.3)
    async with (
        ScriptedServer(default=SILENT) as a,
        ScriptedServer(default=SILENT) as b,
        ScriptedServer(default=text("from c")) as c,
    ):
        inner = Failover([Provider("a", a.base_url), Provider("b", b.base_url)], name="inner")
        async with AsyncClient(endpoint=Failover([inner, Provider("c", c.base_url)])) as client:
            started = time.monotonic()
            async with client.responses.stream(model="m", input="x") as stream:
                final = await stream.get_final_response()
            assert time.monotonic() - started < 5.0
        assert final.output_text == "from c" and final.provider == "c"
        assert len(a.requests) == len(b.requests) == 1


@bounded
async def test_a_retry_that_cannot_finish_before_first_event_gives_the_upstreams_error() -> None:
    # A 503 asking for 2 s under a 0.5 s first-event budget: the caller gets the 503 (with its
    # Retry-After) at once, not a timeout fired half-way through a wait that could not end in time.
    async with (
        ScriptedServer([status(503, retry_after=2), text("late")]) as server,
        AsyncClient(
            base_url=server.base_url,
            middleware=[Timeout(first_event=0.5), Retry(RetryPolicy(attempts=3, max_retry_after=5.0))],
        ) as client,
    ):
        started = time.monotonic()
        with pytest.raises(APIStatusError) as info:
            async with client.responses.stream(model="m", input="x") as stream:
                async for _ in stream:
                    pass
        elapsed = time.monotonic() - started
    assert info.value.status_code == 503 and elapsed < 0.45, elapsed
    assert any("deadline" in note for note in getattr(info.value, "__notes__", []))


# -- the limit's own timer: asyncio.timeout's rules -----------------------------------------------


async def _bounded(limit: float, inner: Callable[[], Awaitable[Any]]) -> Any:
    from openresponses._pipeline import CallContext, Request
    from openresponses.types import CreateResponseBody

    request = Request(body=CreateResponseBody(model="m", input="x"), context=CallContext())
    return await Timeout(non_stream=limit)(request, lambda _request: inner())


async def test_the_limit_firing_is_an_api_timeout_and_the_cancel_is_taken_back() -> None:
    with pytest.raises(APITimeoutError) as caught:
        await _bounded(0.01, lambda: asyncio.sleep(5))
    assert caught.value.which == "total"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # no cancel left pending on the task


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    async def call() -> None:
        await _bounded(5, lambda: asyncio.sleep(5))

    task = asyncio.ensure_future(call())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancel_from_elsewhere_as_the_limit_fires_stays_a_cancel() -> None:
    # Both at once: asyncio.timeout leaves such a cancel as it is; so does Timeout.
    async def inner() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_later(0.02, task.cancel)
        time.sleep(0.05)  # noqa: ASYNC251 - blocks the loop on purpose: both come due meanwhile
        await asyncio.sleep(1)

    task = asyncio.ensure_future(_bounded(0.01, inner))
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_inner_timeout_error_is_not_the_limits() -> None:
    async def inner() -> None:
        raise TimeoutError("the transport's own")

    with pytest.raises(TimeoutError, match="the transport's own"):
        await _bounded(5, inner)
