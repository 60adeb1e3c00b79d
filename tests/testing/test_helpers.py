"""Script, stream_of, event helpers, assert_valid_stream and the clocks."""

from __future__ import annotations

import asyncio

import pytest

import openresponses
from openresponses import EventStream, Request, Transport
from openresponses.testing import (
    Clock,
    FakeClock,
    Script,
    ScriptedTransport,
    SystemClock,
    assert_valid_stream,
    function_call_events,
    reset_mid_stream,
    status_error,
    stream_of,
    text,
    text_events,
)
from openresponses.types import CreateResponseBody


def make_request(*, stream: bool = False) -> Request:
    return Request(body=CreateResponseBody(model="m", input="x", stream=stream or None), stream=stream)


async def test_script_plays_outcomes_in_order() -> None:
    response = text("Hi").response()
    events = text_events("Streamed")
    script = Script(status_error(429, headers={"retry-after": "1"}), response, events, reset_mid_stream(4))

    with pytest.raises(openresponses.RateLimitError) as info:
        await script(make_request())
    assert info.value.retry_after == 1
    assert await script(make_request()) is response

    stream = await script(make_request(stream=True))
    assert isinstance(stream, EventStream)
    assert [e.type async for e in stream] == [e.type for e in events]

    stream = await script(make_request(stream=True))
    assert isinstance(stream, EventStream)
    with pytest.raises(openresponses.StreamInterrupted):
        async for _ in stream:
            pass

    assert script.calls == 4 and script.remaining == 0
    with pytest.raises(AssertionError, match="exhausted"):
        await script(make_request())


async def test_script_repeat_last() -> None:
    script = Script(text("again"), repeat_last=True)
    for _ in range(3):
        reply = await script(make_request())
        assert isinstance(reply, openresponses.Response) and reply.output_text == "again"
    assert script.calls == 3


async def test_stream_of_raises_after_events() -> None:
    events = text_events("Hello world")[:4]
    stream = stream_of(*events, raises=openresponses.APIConnectionError("reset"))
    got = []
    with pytest.raises(openresponses.StreamInterrupted) as info:
        async for event in stream:
            got.append(event)
    assert got == events
    assert isinstance(info.value.__cause__, openresponses.APIConnectionError)

    with pytest.raises(openresponses.ProtocolError):  # no terminal event, no error: truncated
        async for _ in stream_of(*events):
            pass


async def test_stream_of_accepts_exception_class() -> None:
    with pytest.raises(openresponses.StreamInterrupted):
        async for _ in stream_of(*text_events()[:3], raises=openresponses.StreamInterrupted):
            pass


def test_scripted_transport_is_a_transport() -> None:
    transport = ScriptedTransport(name="primary")
    assert isinstance(transport, Transport)
    assert transport.target == openresponses.Target(provider="primary", base_url=None)


def test_event_helpers_are_valid() -> None:
    assert_valid_stream(text_events("Hello world", reasoning="sum", reasoning_text="raw", chunks=3))
    assert_valid_stream(function_call_events("f", {"a": 1}))


def test_assert_valid_stream_rejects_bad_streams() -> None:
    events = text_events("Hello world")
    with pytest.raises(AssertionError, match="no terminal"):
        assert_valid_stream(events[:-1])
    assert_valid_stream(events[:-1], complete=False)
    with pytest.raises(AssertionError, match="sequence_number"):
        assert_valid_stream([events[0], events[0]])
    dicts = [e.model_dump(mode="json", exclude_unset=True) for e in events]
    without_part = [d for d in dicts if d["type"] != "response.content_part.added"]
    with pytest.raises(AssertionError, match="outside an open content part"):
        assert_valid_stream(without_part)
    without_done = [d for d in dicts if d["type"] != "response.output_item.done"]
    with pytest.raises(AssertionError, match="still open"):
        assert_valid_stream(without_done)
    broken = [dict(d) for d in dicts]
    broken[4] = {**broken[4], "delta": 42}
    with pytest.raises(AssertionError, match="schema"):
        assert_valid_stream(broken)
    assert_valid_stream(broken, schema=False)
    unknown = [*dicts[:2], {"type": "mystery", "sequence_number": 2}]
    with pytest.raises(AssertionError, match="slug-prefixed"):
        assert_valid_stream(unknown, complete=False)


async def test_fake_clock() -> None:
    clock = FakeClock(start=10.0)
    assert isinstance(clock, Clock)
    await clock.sleep(1.5)
    await clock.sleep(-1)
    clock.advance(2)
    assert clock.now() == 13.5
    assert clock.sleeps == [1.5, 0.0]
    assert clock.slept == 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_system_clock() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    before = clock.now()
    await clock.sleep(0.01)
    assert clock.now() - before >= 0.009
    await asyncio.wait_for(clock.sleep(-5), 1)
