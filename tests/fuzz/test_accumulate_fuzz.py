"""Event streams with arbitrary index and sequence fields raise nothing but the library's errors.

A valid stream is mangled (indexes and sequence numbers replaced by hostile values, events
dropped, repeated or swapped) and fed to the accumulator, to the Open Responses stream decoder
(strict and lenient) and to an ``EventStream``. Only :class:`~openresponses.OpenResponsesError`
subclasses may come out, snapshots always build, and state stays proportional to the events
received, never to an index's value.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openresponses import OpenResponsesError, ProtocolError
from openresponses._accumulate import Accumulator
from openresponses._emit import EventBuilder
from openresponses._sse import encode_event
from openresponses._streaming import EventStream
from openresponses.transports._dialect import OpenResponsesStreamDecoder
from openresponses.types import StreamEvent, parse_event


def _stream() -> list[dict[str, Any]]:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    r = b.start_reasoning()
    b.summary(r, "a")
    b.summary(r, "b")
    b.reasoning_text(r, "raw")
    b.end_item(r)
    m = b.start_message()
    b.text(m, "Hel")
    b.text(m, "lo")
    b.refusal(m, "no")
    b.end_item(m)
    f = b.start_function_call("f", call_id="c")
    b.arguments(f, "{")
    b.arguments(f, "}")
    b.end_item(f)
    b.extension("acme:note.delta", output_index=1, content_index=0, delta="!")
    b.complete()
    return [json.loads(event.model_dump_json()) for event in b.drain()]


BASE = _stream()
FIELDS = ("output_index", "content_index", "summary_index", "sequence_number")
HOSTILE = st.one_of(
    st.integers(min_value=-2, max_value=6),
    st.sampled_from([20_000_000, 2**31, 2**63 - 1, -(2**63), 10**18]),
    st.integers(min_value=-(2**64), max_value=2**64),
)


SITES = [(i, name) for i, event in enumerate(BASE) for name in FIELDS if name in event]


@st.composite
def mangled(draw: st.DrawFn) -> list[StreamEvent]:
    events = [dict(event) for event in BASE]
    for i, name in draw(st.lists(st.sampled_from(SITES), max_size=6)):
        events[i][name] = draw(HOSTILE)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(events) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "swap"]))
        if op == "drop" and len(events) > 1:
            del events[i]
        elif op == "repeat":
            events.insert(i, dict(events[i]))
        else:
            j = draw(st.integers(0, len(events) - 1))
            events[i], events[j] = events[j], events[i]
    return [parse_event(json.dumps(event)) for event in events]


def _size(acc: Accumulator) -> int:
    """Items and parts the accumulator assembled (not those a terminal response brought)."""
    items = acc.output()
    parts = sum(len(getattr(item, "content", None) or []) for item in items)
    return len(items) + parts + sum(len(getattr(item, "summary", None) or []) for item in items)


@settings(max_examples=150, deadline=None)
@given(mangled())
def test_the_accumulator_raises_only_protocol_errors(events: list[StreamEvent]) -> None:
    acc = Accumulator()
    for fed, event in enumerate(events, 1):
        try:
            acc.feed(event)
        except ProtocolError as exc:
            assert "index" in str(exc) and exc.response == acc.snapshot()
        # Snapshots always build (mid-stream too: items not done are assembled from their
        # parts), and hold about a part per event received (+ the parts items arrive with).
        acc.snapshot()
        assert _size(acc) <= 2 * fed + 8


@settings(max_examples=60, deadline=None)
@given(mangled(), st.integers(min_value=1, max_value=400))
def test_the_stream_decoder_raises_only_protocol_errors(events: list[StreamEvent], size: int) -> None:
    wire = b"".join(encode_event(event) for event in events)
    chunks = [wire[i : i + size] for i in range(0, len(wire), size)]
    strict, lenient = OpenResponsesStreamDecoder(), OpenResponsesStreamDecoder(sequence="lenient")
    try:
        for chunk in chunks:
            strict.feed(chunk)
        strict.close()
    except ProtocolError:
        pass
    kept = [e for chunk in chunks for e in lenient.feed(chunk)] + lenient.close()
    numbers = [e.sequence_number for e in kept if e.sequence_number is not None]
    assert numbers == sorted(set(numbers))  # strictly increasing
    assert len(kept) + lenient.dropped == len(events)


async def _consume(batches: Sequence[list[StreamEvent]]) -> None:
    async def source() -> AsyncIterator[list[StreamEvent]]:
        for batch in batches:
            yield batch

    stream = EventStream(source(), provider="fuzz")
    try:
        async with stream:
            async for _ in stream:
                stream.snapshot()
    except OpenResponsesError:
        pass
    stream.snapshot()


@settings(max_examples=100, deadline=None)
@given(mangled(), st.integers(min_value=1, max_value=5))
def test_an_event_stream_raises_only_library_errors(events: list[StreamEvent], per_batch: int) -> None:
    batches = [events[i : i + per_batch] for i in range(0, len(events), per_batch)]
    asyncio.run(_consume(batches))
