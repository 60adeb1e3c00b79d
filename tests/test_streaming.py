"""EventStream semantics: taps, the commit point, failures, timeouts, closing."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Sequence

import pytest

from openresponses import (
    APIConnectionError,
    APITimeoutError,
    EventStream,
    ProtocolError,
    ResponseFailedError,
    StreamEnd,
    StreamInterrupted,
)
from openresponses._emit import EventBuilder
from openresponses.types import StreamEvent


def text_events(text: str = "Hello world", pieces: int = 3) -> list[StreamEvent]:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    i = b.start_message()
    size = max(1, len(text) // pieces)
    for start in range(0, len(text), size):
        b.text(i, text[start : start + size])
    b.end_item(i)
    b.complete(usage={"input_tokens": 1, "output_tokens": 2})
    return b.drain()


class Source:
    """An async iterator of event batches that records whether it was closed."""

    def __init__(
        self,
        batches: Sequence[Sequence[StreamEvent]],
        *,
        raises: BaseException | None = None,
        stall: float | None = None,
        gap: float = 0.0,
    ) -> None:
        self.batches = list(batches)
        self.raises = raises
        self.stall = stall
        self.gap = gap
        self.closed = False
        self.pulled = 0

    def __aiter__(self) -> AsyncIterator[Sequence[StreamEvent]]:
        return self

    async def __anext__(self) -> Sequence[StreamEvent]:
        if self.gap:
            await asyncio.sleep(self.gap)
        if self.pulled < len(self.batches):
            self.pulled += 1
            return self.batches[self.pulled - 1]
        if self.stall is not None:
            await asyncio.sleep(self.stall)
        if self.raises is not None:
            raise self.raises
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


def one_per_batch(events: list[StreamEvent]) -> list[list[StreamEvent]]:
    return [[event] for event in events]


async def test_reads_to_terminal_and_closes_source_without_waiting_for_more() -> None:
    events = text_events()
    extra = EventBuilder().extension("acme:after", sequence_number=99)
    source = Source([*one_per_batch(events), [extra]], stall=30)
    ends: list[StreamEnd] = []
    seen: list[str] = []
    stream = EventStream(source, provider="p").tap(lambda e: seen.append(e.type), ends.append)
    received = [event async for event in stream]
    assert [e.type for e in received] == [e.type for e in events]
    assert seen == [e.type for e in events]
    assert source.closed, "the connection must be released at the terminal event"
    assert len(ends) == 1 and ends[0].error is None and not ends[0].abandoned
    assert ends[0].response is not None and ends[0].response.output_text == "Hello world"
    assert ends[0].events == len(events)


async def test_early_close_ends_taps_once_as_abandoned() -> None:
    source = Source(one_per_batch(text_events()))
    ends: list[StreamEnd] = []
    stream = EventStream(source).tap(on_end=ends.append)
    async for event in stream:
        if event.type == "response.output_text.delta":
            break
    await stream.aclose()
    await stream.aclose()
    assert source.closed
    assert len(ends) == 1 and ends[0].abandoned and ends[0].error is None
    assert ends[0].events == 5  # created, in_progress, item added, part added, delta


async def test_dropped_stream_still_ends_its_taps() -> None:
    ends: list[StreamEnd] = []
    stream = EventStream(Source(one_per_batch(text_events()))).tap(on_end=ends.append)
    await stream.__anext__()
    del stream
    gc.collect()
    assert len(ends) == 1 and ends[0].abandoned


async def test_error_event_raises_with_payload_and_partial_response() -> None:
    b = EventBuilder(model="m")
    b.created()
    i = b.start_message()
    b.text(i, "partial")
    b.fail("model crashed", code="model_error", type="model_error")
    events = b.drain()
    seen: list[str] = []
    ends: list[StreamEnd] = []
    stream = EventStream(Source([events])).tap(lambda e: seen.append(e.type), ends.append)
    received: list[str] = []
    with pytest.raises(ResponseFailedError) as info:
        async for event in stream:
            received.append(event.type)
    exc = info.value
    assert exc.error is not None and exc.error.code == "model_error"
    assert exc.code == "model_error"
    assert exc.retryable
    assert exc.response is not None and exc.response.status == "failed"
    assert "partial" in exc.response.output_text
    assert "error" not in received and "response.failed" not in received
    assert seen[-2:] == ["error", "response.failed"], "taps see the failure events"
    assert len(ends) == 1 and ends[0].error is exc


async def test_failure_before_content_raises_at_prime_with_nothing_delivered() -> None:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    b.fail("overloaded", code="server_error")
    stream = EventStream(Source(one_per_batch(b.drain())))
    with pytest.raises(ResponseFailedError) as info:
        await stream.prime()
    assert info.value.events_delivered == 0


async def test_connection_error_before_delivery_is_the_original_error() -> None:
    cause = APIConnectionError("reset")
    stream = EventStream(Source(one_per_batch(text_events()[:2]), raises=cause))
    with pytest.raises(APIConnectionError) as info:
        await stream.prime()
    assert info.value is cause


async def test_connection_error_after_delivery_is_stream_interrupted_with_partial() -> None:
    events = text_events("abcdef", pieces=3)
    cause = APIConnectionError("reset")
    stream = EventStream(Source(one_per_batch(events[:6]), raises=cause), provider="p")
    received: list[StreamEvent] = []
    with pytest.raises(StreamInterrupted) as info:
        async for event in stream:
            received.append(event)
    exc = info.value
    assert exc.__cause__ is cause
    assert exc.events_delivered == len(received) == 6
    assert exc.response is not None and exc.response.output_text == "abcd"
    assert exc.provider == "p"


async def test_buffered_events_are_delivered_before_the_error() -> None:
    events = text_events("abcdef", pieces=3)
    stream = EventStream(Source([events[:6]], raises=APIConnectionError("reset")))
    await stream.prime()
    received = []
    with pytest.raises(StreamInterrupted):
        async for event in stream:
            received.append(event.type)
    assert len(received) == 6


async def test_end_without_terminal_event_is_a_protocol_error() -> None:
    events = text_events()
    stream = EventStream(Source(one_per_batch(events[:-2])))
    with pytest.raises(ProtocolError) as info:
        async for _ in stream:
            pass
    assert "terminal" in str(info.value)
    assert info.value.response is not None and info.value.response.output_text == "Hello world"


async def test_idle_limit_fires_on_a_stall() -> None:
    events = text_events()
    stream = EventStream(Source(one_per_batch(events[:4]), stall=5)).limit(idle=0.05)
    with pytest.raises(StreamInterrupted) as info:
        async for _ in stream:
            pass
    cause = info.value.__cause__
    assert isinstance(cause, APITimeoutError) and cause.which == "idle"


async def test_first_event_limit_ignores_lifecycle_events() -> None:
    events = text_events()
    stream = EventStream(Source(one_per_batch(events[:2]), stall=5)).limit(first_event=0.05)
    with pytest.raises(APITimeoutError) as info:
        await stream.prime()
    assert info.value.which == "first_event"
    assert isinstance(info.value, TimeoutError)


async def test_idle_limit_never_cuts_a_healthy_stream() -> None:
    events = text_events("x" * 40, pieces=40)
    # 40+ gaps of 20 ms each: the whole stream outlasts the idle limit many times over.
    stream = EventStream(Source(one_per_batch(events), gap=0.02)).limit(idle=0.2)
    received = [event async for event in stream]
    assert len(received) == len(events)


async def test_next_batch_moves_everything_buffered_in_one_hop() -> None:
    events = text_events()
    stream = EventStream(Source([events[:5], events[5:]]))
    first = await stream.next_batch()
    second = await stream.next_batch()
    assert len(first) == 5 and len(second) == len(events) - 5
    assert await stream.next_batch() == []


async def test_failing_tap_never_breaks_the_stream(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: StreamEvent) -> None:
        raise RuntimeError("observer bug")

    stream = EventStream(Source([text_events()])).tap(broken)
    received = [event async for event in stream]
    assert len(received) == len(text_events())
    assert "observer bug" in caplog.text


async def test_a_tap_without_deltas_sees_every_other_event_in_order_and_ends_once() -> None:
    events = text_events()
    every: list[str] = []
    others: list[str] = []
    ends: list[StreamEnd] = []
    stream = EventStream(Source([events[:4], events[4:]]))
    stream.tap(lambda e: every.append(f"all:{e.type}"))
    stream.tap(lambda e: every.append(f"other:{e.type}"), ends.append, deltas=False)
    stream.tap(lambda e: others.append(e.type), deltas=False)
    received = [event.type async for event in stream]
    non_delta = [t for t in received if t != "response.output_text.delta"]
    assert others == non_delta
    # Registration order is kept for the events both taps see; the delta-less tap misses deltas only.
    expected: list[str] = []
    for t in received:
        expected.append(f"all:{t}")
        if t != "response.output_text.delta":
            expected.append(f"other:{t}")
    assert every == expected
    assert len(ends) == 1 and ends[0].error is None and ends[0].events == len(events)
    # What such a tap reads instead: the accumulator's counters.
    acc = stream.accumulator
    assert acc.deltas == received.count("response.output_text.delta") == acc.item_deltas(0)
    assert acc.item_deltas(1) == 0
    assert acc.first_delta_at is not None


async def test_next_batch_hands_over_buffered_events_and_ends_at_the_terminal() -> None:
    events = text_events()
    source = Source([events[:3], events[3:]])
    ends: list[StreamEnd] = []
    stream = EventStream(source).tap(on_end=ends.append)
    batches = [await stream.next_batch() for _ in range(3)]
    assert [len(b) for b in batches] == [3, len(events) - 3, 0]
    assert [e.type for b in batches for e in b] == [e.type for e in events]
    assert stream.delivered == len(events) and stream.ended and source.closed
    assert len(ends) == 1 and ends[0].error is None and ends[0].response is not None
