"""The emitter produces spec-valid streams; the accumulator rebuilds responses from any stream."""

from __future__ import annotations

from openresponses._accumulate import Accumulator
from openresponses._emit import EventBuilder, emit_response
from openresponses.testing import assert_valid_stream
from openresponses.types import FunctionCall, Message, ReasoningItem, StreamEvent, parse_event


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
    assert final.status == "incomplete" and final.incomplete_details.reason == "max_output_tokens"
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
