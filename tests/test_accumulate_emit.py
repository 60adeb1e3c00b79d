"""The emitter produces spec-valid streams; the accumulator rebuilds responses from any stream."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from openresponses import ProtocolError
from openresponses._accumulate import Accumulator
from openresponses._emit import EventBuilder, emit_response
from openresponses.testing import assert_valid_stream
from openresponses.types import (
    FunctionCall,
    Message,
    OutputTextDeltaEvent,
    ReasoningItem,
    StreamEvent,
    parse_event,
)


def everything() -> EventBuilder:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    r = b.start_reasoning()
    b.summary(r, "Think ")
    b.summary(r, "first.")
    b.reasoning_text(r, "raw ")
    b.reasoning_text(r, "trace")
    b.end_item(r)
    m = b.start_message(phase="final_answer")
    b.text(m, "Hello ")
    b.text(m, "there")
    b.refusal(m, "but no.")
    b.end_item(m)
    f = b.start_function_call("get_weather", call_id="call_1")
    b.arguments(f, '{"city":')
    b.arguments(f, '"Paris"}')
    b.end_item(f)
    b.extension("acme:trace", note="kept")
    b.complete(usage={"input_tokens": 5, "output_tokens": 9})
    return b


def test_builder_streams_are_spec_valid_and_assemble() -> None:
    events = everything().drain()
    assert_valid_stream(events)
    final = events[-1].response  # type: ignore[union-attr]
    reasoning, message, call = final.output
    assert isinstance(reasoning, ReasoningItem)
    assert [p.text for p in reasoning.summary] == ["Think first."]  # type: ignore[union-attr]
    assert [p.text for p in reasoning.content or []] == ["raw trace"]  # type: ignore[union-attr]
    assert isinstance(message, Message) and message.phase == "final_answer"
    assert final.output_text == "Hello there"
    assert message.content[1].refusal == "but no."  # type: ignore[union-attr]
    assert isinstance(call, FunctionCall) and call.arguments == '{"city":"Paris"}'
    assert final.usage is not None and final.usage.total_tokens == 14


def test_failure_and_incomplete_orders_are_valid() -> None:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    m = b.start_message()
    b.text(m, "cut")
    b.fail("boom")
    failed = b.drain()
    assert_valid_stream(failed)
    assert [e.type for e in failed[-2:]] == ["error", "response.failed"]

    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    m = b.start_message()
    b.text(m, "too long")
    b.incomplete("max_output_tokens")
    events = b.drain()
    assert_valid_stream(events)
    final = events[-1].response  # type: ignore[union-attr]
    assert final.status == "incomplete" and final.incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]
    assert final.output[-1].status == "incomplete"


def partial_after(events: list[StreamEvent], count: int) -> Accumulator:
    acc = Accumulator()
    for event in events[:count]:
        acc.feed(event)
    return acc


def test_partial_snapshots_follow_the_deltas() -> None:
    events = everything().drain()
    first_text = next(i for i, e in enumerate(events) if e.type == "response.output_text.delta")
    acc = partial_after(events, first_text + 1)
    snap = acc.snapshot()
    assert snap is not None and snap.status == "in_progress"
    assert snap.output_text == "Hello "
    args_at = next(i for i, e in enumerate(events) if e.type == "response.function_call_arguments.delta")
    call = partial_after(events, args_at + 1).snapshot().output[-1]  # type: ignore[union-attr]
    assert isinstance(call, FunctionCall) and call.arguments == '{"city":' and call.status == "in_progress"


def test_nothing_before_the_first_response_event() -> None:
    assert Accumulator().snapshot() is None


def test_terminal_with_empty_output_keeps_what_was_streamed() -> None:
    events = everything().drain()
    terminal = events[-1]
    emptied = terminal.model_copy(update={"response": terminal.response.model_copy(update={"output": []})})  # type: ignore[union-attr]
    acc = Accumulator()
    for event in [*events[:-1], emptied]:
        acc.feed(event)
    snap = acc.snapshot()
    assert snap is not None and snap.output_text == "Hello there" and len(snap.output) == 3


def test_emit_response_streams_a_whole_response_back() -> None:
    final = everything().drain()[-1].response  # type: ignore[union-attr]
    events = emit_response(final)
    assert_valid_stream(events)
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    assert acc.snapshot() == final


def test_output_deltas_are_counted_per_item_with_the_first_arrival() -> None:
    events = everything().drain()
    acc = Accumulator()
    assert acc.deltas == 0 and acc.first_delta_at is None and acc.item_deltas(0) == 0
    for event in events:
        acc.feed(event)
    deltas = [e for e in events if e.type.endswith(".delta")]
    assert acc.deltas == len(deltas) > 0
    by_item: dict[int, int] = {}
    for event in deltas:
        by_item[event.output_index] = by_item.get(event.output_index, 0) + 1  # type: ignore[union-attr]
    assert {index: acc.item_deltas(index) for index in by_item} == by_item
    assert acc.first_delta_at is not None
    # A restart voids the items (and their counts), not the running total or the first arrival.
    first = acc.first_delta_at
    acc.feed(EventBuilder().extension("openresponses:stream.restarted"))
    assert acc.deltas == len(deltas) and acc.first_delta_at == first
    assert all(acc.item_deltas(index) == 0 for index in by_item)


def test_an_extension_delta_without_an_output_index_is_ignored() -> None:
    events = everything().drain()
    acc = Accumulator()
    for event in events[:4]:
        acc.feed(event)
    acc.feed(parse_event(b'{"type": "acme.audio.delta", "delta": "xx"}'))
    assert acc.deltas == 0 and acc.events == 5
    for event in events[4:]:
        acc.feed(event)
    assert acc.snapshot() == events[-1].response  # type: ignore[union-attr]


# -- hostile indexes (issue #12, defect 6) ------------------------------------------------------


def started_message(text: str = "Hello ") -> tuple[Accumulator, list[StreamEvent]]:
    """An accumulator fed a stream that opened a message and streamed ``text`` into part 0."""
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    m = b.start_message()
    b.text(m, text)
    events = b.drain()
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    return acc, events


def delta(**fields: object) -> StreamEvent:
    data = {
        "type": "response.output_text.delta",
        "sequence_number": 50,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "x",
        "logprobs": [],
        **fields,
    }
    return OutputTextDeltaEvent.model_validate(data)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"content_index": -1}, "content_index -1"),
        ({"content_index": 20_000_000}, "content_index 20000000"),
        ({"content_index": 2}, "content_index 2"),  # part 1 would be the next one
        ({"output_index": -1}, "output_index -1"),
        # Not from JSON (pydantic refuses such a number there), but a built event may carry it.
        ({"content_index": 10**5000}, "content_index a 16610-bit number"),
    ],
)
def test_a_hostile_index_is_a_protocol_error_with_the_partial_response(
    fields: dict[str, object], named: str
) -> None:
    acc, _ = started_message()
    with pytest.raises(ProtocolError, match=named) as info:
        acc.feed(delta(**fields))
    assert "'response.output_text.delta' (sequence_number 50)" in str(info.value)
    partial = info.value.response
    assert partial is not None and partial.status == "in_progress" and partial.output_text == "Hello "
    # The event was not applied: the accumulator goes on as if it never came.
    acc.feed(delta(delta="world"))
    assert acc.snapshot().output_text == "Hello world"  # type: ignore[union-attr]


def test_a_huge_index_allocates_nothing() -> None:
    # A 150-byte delta naming content_index 2e7 used to make snapshot() build a 20-million list.
    acc, _ = started_message()
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError):
            acc.feed(delta(content_index=20_000_000))
        acc.snapshot()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_summary_index_is_checked_like_content_index() -> None:
    b = EventBuilder(model="m")
    b.created()
    b.in_progress()
    r = b.start_reasoning()
    b.summary(r, "Think")
    acc = Accumulator()
    for event in b.drain():
        acc.feed(event)
    bad = {
        "type": "response.reasoning_summary_text.delta",
        "sequence_number": 99,
        "item_id": "rs_1",
        "output_index": 0,
        "summary_index": 7,
        "delta": "x",
    }
    with pytest.raises(ProtocolError, match=r"summary_index 7, but output item 0 has 1 parts"):
        acc.feed(parse_event(json.dumps(bad)))
    added = {**bad, "type": "response.reasoning_summary_part.added", "summary_index": -3}
    added["part"] = {"type": "summary_text", "text": ""}
    del added["delta"]
    with pytest.raises(ProtocolError, match=r"summary_index -3"):
        acc.feed(parse_event(json.dumps(added)))
    acc.feed(parse_event(json.dumps({**bad, "summary_index": 1})))  # the next new part is fine
    assert [p.text for p in acc.output()[0].summary] == ["Think", "x"]  # type: ignore[union-attr]


def test_a_new_part_may_take_the_next_index_or_one_the_item_lists() -> None:
    acc, _ = started_message()
    acc.feed(delta(content_index=1, delta="second"))
    assert [p.text for p in acc.output()[0].content] == ["Hello ", "second"]  # type: ignore[union-attr]
    # An item announced with two parts already: index 1 names an existing part, 2 is the next.
    parts: list[dict[str, object]] = [
        {"type": "output_text", "text": t, "annotations": []} for t in ("a", "b")
    ]
    item = {"type": "message", "id": "m2", "status": "in_progress", "role": "assistant", "content": parts}
    added = {"type": "response.output_item.added", "sequence_number": 60, "output_index": 1, "item": item}
    acc.feed(parse_event(json.dumps(added)))
    acc.feed(delta(output_index=1, content_index=1, delta="B"))
    acc.feed(delta(output_index=1, content_index=2, delta="c"))
    with pytest.raises(ProtocolError):
        acc.feed(delta(output_index=1, content_index=4, delta="!"))
    assert [p.text for p in acc.output()[1].content] == ["a", "B", "c"]  # type: ignore[union-attr]


def test_output_indexes_may_skip_ahead() -> None:
    # Items are keyed, not listed: a stream resumed mid-response starts past 0 at no cost.
    b = EventBuilder(model="m", start_output_index=3)
    b.created()
    b.in_progress()
    m = b.start_message()
    b.text(m, "resumed")
    b.end_item(m)
    b.complete()
    acc = Accumulator()
    for event in b.drain():
        acc.feed(event)
    assert acc.snapshot().output_text == "resumed"  # type: ignore[union-attr]


def test_the_done_events_are_checked_too() -> None:
    acc, _ = started_message()
    done = {
        "type": "response.output_text.done",
        "sequence_number": 70,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": -1,
        "text": "Hello",
        "logprobs": [],
    }
    with pytest.raises(ProtocolError, match="content_index -1"):
        acc.feed(parse_event(json.dumps(done)))
    part_done = {**done, "type": "response.content_part.done", "content_index": 9}
    part_done["part"] = {"type": "output_text", "text": "x", "annotations": []}
    with pytest.raises(ProtocolError, match="content_index 9"):
        acc.feed(parse_event(json.dumps(part_done)))


def test_an_extension_event_with_a_bad_index_is_ignored() -> None:
    acc, _ = started_message()
    for fields in (
        {"output_index": "0", "content_index": 0},
        {"output_index": 0, "content_index": -1},
        {"output_index": 0, "content_index": 10**9},
        {"output_index": -5, "content_index": 0},
    ):
        acc.feed(parse_event(json.dumps({"type": "acme:audio.delta", "delta": "zz", **fields})))
        acc.feed(parse_event(json.dumps({"type": "acme:audio.done", **fields})))
    acc.feed(
        parse_event(
            json.dumps({"type": "acme:audio.delta", "delta": "!", "output_index": 0, "content_index": 0})
        )
    )
    assert acc.snapshot().output_text == "Hello !"  # type: ignore[union-attr]
