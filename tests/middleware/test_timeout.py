"""Timeout: total, first content event, idle gaps; typed errors naming the limit."""

from __future__ import annotations

import time
from typing import Any

import pytest

from openresponses import APITimeoutError, AsyncClient, StreamInterrupted
from openresponses.middleware import Timeout
from openresponses.testing import ScriptedServer, stall, text


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
